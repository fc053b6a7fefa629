// libcurl behind HttpClient (client.h). One easy handle per client, reset between requests but
// kept, so that libcurl's connection cache (attached to the handle) reuses TCP and TLS sessions.
// Nothing here logs: URLs may carry query secrets and bodies carry tokens.

#include "shared/http/client.h"

#include <curl/curl.h>

#include <mutex>

#include "shared/crypto/cleanse.h"
#include "shared/http/grammar.h"
#include "shared/util/strings.h"

namespace credbroker::http {

OutboundRequest::~OutboundRequest() {
  cleanse(*this);
}

OutboundResponse::~OutboundResponse() {
  cleanse(*this);
}

void cleanse(OutboundRequest& request) noexcept {
  crypto::cleanse(request.body);
  for (auto& header : request.headers) crypto::cleanse(header.second);
}

void cleanse(OutboundResponse& response) noexcept {
  crypto::cleanse(response.body);
  for (auto& header : response.headers) crypto::cleanse(header.second);
}

std::string_view describe(FetchError e) {
  switch (e) {
    case FetchError::kTimeout:
      return "timed out";
    case FetchError::kConnect:
      return "could not connect";
    case FetchError::kTls:
      return "TLS failure";
    case FetchError::kTooLarge:
      return "response too large";
    case FetchError::kOther:
      return "request failed";
  }
  return "request failed";
}

std::string_view label(FetchError e) {
  switch (e) {
    case FetchError::kTimeout:
      return "timeout";
    case FetchError::kConnect:
      return "connect";
    case FetchError::kTls:
      return "tls";
    case FetchError::kTooLarge:
      return "too_large";
    case FetchError::kOther:
      return "other";
  }
  return "other";
}

namespace {

void init_curl_once() {
  // curl_global_init is not thread-safe; a function-local static runs it exactly once.
  static const CURLcode kInit = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)kInit;
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

/** What the callbacks collect during one transfer. */
struct Transfer {
  std::size_t max_body = 0;
  bool too_large = false;  // set when we aborted the transfer because of max_body
  OutboundResponse response;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (n > t->max_body - t->response.body.size()) {
    t->too_large = true;
    return 0;  // anything but n makes libcurl stop with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  const std::string_view line(data, n);
  auto& headers = t->response.headers;
  if (line.starts_with("HTTP/")) {
    headers.clear();  // a new response begins (after a 1xx): keep only the final one's headers
  } else if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
    // Obsolete line folding (RFC 9112 §5.2): the line continues the previous value.
    if (!headers.empty()) {
      const std::string_view more = trim(line);
      if (!more.empty()) headers.back().second.append(" ").append(more);
    }
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers.emplace_back(to_lower(trim(line.substr(0, colon))),
                         std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

FetchError map_error(CURLcode rc, bool too_large) {
  if (too_large) return FetchError::kTooLarge;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return FetchError::kTimeout;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:  // the peer closed the connection without an answer
      return FetchError::kConnect;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return FetchError::kTls;
    case CURLE_FILESIZE_EXCEEDED:  // Content-Length announced more than max_body_bytes
      return FetchError::kTooLarge;
    default:
      return FetchError::kOther;
  }
}

class CurlClient final : public HttpClient {
 public:
  CurlClient(EasyHandle handle, ClientOptions options)
      : handle_(std::move(handle)), options_(std::move(options)) {}

  Result<OutboundResponse, FetchError> send(const OutboundRequest& request) override {
    if (!handle_ || !is_token(request.method) || !is_field_value(request.url)) {
      return Err(FetchError::kOther);
    }
    HeaderList headers;
    for (const auto& [name, value] : request.headers) {
      if (!is_token(name) || !is_field_value(value)) return Err(FetchError::kOther);
      // "Name:" would make libcurl drop its own header of that name; "Name;" sends it empty.
      if (!append(headers, value.empty() ? name + ";" : name + ": " + value)) {
        return Err(FetchError::kOther);
      }
    }
    // No "Expect: 100-continue" round trip: our bodies are small forms.
    if (!append(headers, "Expect:")) return Err(FetchError::kOther);

    CURL* h = handle_.get();
    curl_easy_reset(h);  // options back to defaults; open connections and caches stay
    Transfer transfer;
    transfer.max_body = options_.max_body_bytes;
    if (!configure(h, request, headers.get(), transfer)) return Err(FetchError::kOther);

    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) return Err(map_error(rc, transfer.too_large));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    transfer.response.status = static_cast<int>(status);
    return std::move(transfer.response);
  }

 private:
  static bool append(HeaderList& list, const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) return false;
    list.release();  // now owned through `grown`
    list.reset(grown);
    return true;
  }

  bool configure(CURL* h, const OutboundRequest& request, curl_slist* headers,
                 Transfer& transfer) const {
    bool ok = true;
    const auto set = [&](CURLoption option, auto value) {
      ok = ok && curl_easy_setopt(h, option, value) == CURLE_OK;
    };
    set(CURLOPT_URL, request.url.c_str());
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    set(CURLOPT_TIMEOUT_MS, options_.total_timeout_ms);
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_body_bytes));
    set(CURLOPT_HTTPHEADER, headers);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));

    if (request.method == "GET" && request.body.empty()) {
      set(CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD" && request.body.empty()) {
      set(CURLOPT_NOBODY, 1L);
    } else {
      if (request.method == "POST" || !request.body.empty()) {
        set(CURLOPT_POST, 1L);
        set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        set(CURLOPT_POSTFIELDS, request.body.c_str());
      }
      if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    return ok;
  }

  EasyHandle handle_;
  ClientOptions options_;
};

}  // namespace

std::unique_ptr<HttpClient> make_curl_client(const ClientOptions& options) {
  init_curl_once();
  // curl_easy_init fails only without memory; send() then answers kOther.
  return std::make_unique<CurlClient>(EasyHandle(curl_easy_init()), options);
}

namespace {

class LazyClient final : public HttpClient {
 public:
  explicit LazyClient(ClientOptions options) : options_(std::move(options)) {}
  Result<OutboundResponse, FetchError> send(const OutboundRequest& request) override {
    std::call_once(made_, [this] { client_ = make_curl_client(options_); });
    return client_->send(request);
  }

 private:
  ClientOptions options_;
  std::once_flag made_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace

std::unique_ptr<HttpClient> make_lazy_curl_client(const ClientOptions& options) {
  return std::make_unique<LazyClient>(options);
}

}  // namespace credbroker::http
