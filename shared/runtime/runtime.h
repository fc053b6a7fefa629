#pragma once
// Transport adapters: turn FastCGI, CGI and the AWS Lambda Runtime API into Request → Response
// calls.
// The handler never sees a transport type.

#include <functional>
#include <string>
#include <vector>

#include "shared/http/request.h"

namespace credbroker::runtime {

using Handler = std::function<http::Response(const http::Request&)>;

/** Where the process should take requests from, decided once at start. */
struct Transport {
  enum class Kind {
    kFastCgiInherited,  // spawned by a front server: listening socket on fd 0
    kFastCgiListen,     // --listen 127.0.0.1:PORT or --listen /path.sock
    kCgi,               // GATEWAY_INTERFACE set, fd 0 is not a socket: one request
    kLambda,            // AWS_LAMBDA_RUNTIME_API set: the Lambda Runtime API loop (lambda.cc)
  };
  Kind kind;
  std::string listen;       // for kFastCgiListen
  std::string runtime_api;  // for kLambda: "host:port" of the Runtime API
};

/** Chooses the transport from argv and the environment; error text for a bad command line. */
struct Choice {
  bool ok;
  Transport transport;
  std::string error;
};
Choice choose_transport(const std::vector<std::string>& args);

/** Largest request body read; larger requests get 413 without reading the rest. */
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;

/** Serves until the transport ends (CGI: after one request). Returns the process exit code. */
int serve(const Transport& transport, const Handler& handler);

/**
 * Tells the transport that start-up failed (`message`: one line, no secrets). Lambda posts it to
 * the Runtime API's init/error endpoint, so the invocation fails with it instead of timing out;
 * the other transports have nobody to tell (the caller prints it to stderr).
 */
void report_start_failure(const Transport& transport, std::string_view message);

/**
 * Builds a Request from CGI/FastCGI parameters (RFC 3875 §4.1): REQUEST_METHOD, REQUEST_URI (raw
 * path and query; SCRIPT_NAME + PATH_INFO and QUERY_STRING when absent), HTTP_* headers
 * (HTTP_X_AMZN_OIDC_DATA → "x-amzn-oidc-data"), CONTENT_TYPE, CONTENT_LENGTH.
 */
http::Request request_from_params(const std::vector<std::pair<std::string, std::string>>& params);

/** "Status: 404 Not Found\r\nContent-Type: …\r\n\r\n<body>" as CGI and FastCGI expect it. */
std::string format_cgi_response(const http::Response& response);

}  // namespace credbroker::runtime
