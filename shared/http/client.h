#pragma once
// Outbound HTTP behind a small interface: JWKS fetches and the OAuth token endpoint.
// The production implementation is libcurl with TLS verification on, redirects not followed,
// connect and total timeouts and a response size cap.

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/util/result.h"

namespace credbroker::http {

struct OutboundRequest {
  std::string method = "GET";
  std::string url{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};

  // A token request's form holds codes, verifiers, refresh tokens and the client secret, and its
  // headers Basic credentials: every copy clears them when it goes (cleanse() below). Declaring it
  // leaves the struct an aggregate but makes a move a copy, cleansed too.
  ~OutboundRequest();
};

struct OutboundResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};  // names lower-cased
  std::string body{};  // a token endpoint's answer: the tokens themselves

  ~OutboundResponse();  // cleanses, as OutboundRequest does
};

/** Overwrite and empty the body and every header value. */
void cleanse(OutboundRequest& request) noexcept;
void cleanse(OutboundResponse& response) noexcept;

enum class FetchError {
  kTimeout,   // connect or total timeout passed
  kConnect,   // DNS, refused, reset
  kTls,       // certificate or handshake failure
  kTooLarge,  // body beyond max_body_bytes
  kOther,     // anything else libcurl reports
};

/** English for people and error messages ("timed out"). */
std::string_view describe(FetchError e);
/** The log label: "timeout", "connect", "tls", "too_large", "other". */
std::string_view label(FetchError e);

struct ClientOptions {
  long connect_timeout_ms = 2000;
  long total_timeout_ms = 5000;
  std::size_t max_body_bytes = 1 << 20;
  std::string ca_file{};  // empty: system trust store
};

/** Sends one request and returns the answer as it came (3xx included: redirects are not followed).
 */
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<OutboundResponse, FetchError> send(const OutboundRequest& request) = 0;
};

/** libcurl, one reusable easy handle per client (one client per process). */
std::unique_ptr<HttpClient> make_curl_client(const ClientOptions& options);

/** The libcurl client, made on the first send(): a process that never sends a request never runs
 *  curl_global_init (nor, in a handler linking shared/http/curl_on_demand.cc, loads libcurl). */
std::unique_ptr<HttpClient> make_lazy_curl_client(const ClientOptions& options);

}  // namespace credbroker::http
