// AWS Lambda adapter: the Runtime API loop of a custom runtime (provided.al2023), over HTTP with
// libcurl (http::HttpClient). The handler executable is itself the bootstrap: it finds
// AWS_LAMBDA_RUNTIME_API in its environment (runtime::choose_transport) and loops here.
//
//   GET  /2018-06-01/runtime/invocation/next              blocks until an event; no timeout
//   POST /2018-06-01/runtime/invocation/{id}/response     the answer for the event's front
//   POST /2018-06-01/runtime/invocation/{id}/error        an event we cannot read
//   POST /2018-06-01/runtime/init/error                   start-up failed (report_start_failure)
//
// Nothing a client sent is logged or posted in an error: error bodies carry fixed texts only.

#include <memory>
#include <string>

#include "shared/audit/log.h"
#include "shared/http/client.h"
#include "shared/runtime/lambda_event.h"
#include "shared/runtime/runtime.h"
#include "shared/runtime/transport_common.h"
#include "shared/util/strings.h"

namespace credbroker::runtime {

namespace {

constexpr std::string_view kApiVersion = "/2018-06-01/runtime/";
// Lambda's Runtime API is local to the execution environment: a failure to reach it means the
// environment is going away. A few attempts ride out a hiccup; then we exit and Lambda restarts.
constexpr int kMaxNextFailures = 3;

/** Lambda request ids are UUIDs; anything else must not be pasted into a URL. */
bool is_request_id(std::string_view id) {
  return id.size() <= 128 && is_alnum_or(id, "-_.");
}

std::string find_header(const http::OutboundResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class RuntimeApi {
 public:
  explicit RuntimeApi(const std::string& address)
      : base_("http://" + address + std::string(kApiVersion)),
        // `next` returns when an event arrives, which may be hours: no total timeout on it.
        waiting_(http::make_curl_client({.connect_timeout_ms = 2000,
                                         .total_timeout_ms = 0,
                                         .max_body_bytes = kMaxEventBytes + 1})),
        posting_(http::make_curl_client(
            {.connect_timeout_ms = 2000, .total_timeout_ms = 10000, .max_body_bytes = 64 * 1024})),
        log_(audit::stderr_sink(), "lambda-runtime") {}

  Result<http::OutboundResponse, http::FetchError> next() {
    return waiting_->send({.method = "GET", .url = base_ + "invocation/next"});
  }

  /** POSTs `body` to `path` (below the API version); true on a 2xx answer. */
  bool post(const std::string& path, std::string body, std::string_view error_type = {}) {
    http::OutboundRequest r{.method = "POST",
                            .url = base_ + path,
                            .headers = {{"Content-Type", "application/json"}},
                            .body = std::move(body)};
    if (!error_type.empty()) {
      r.headers.emplace_back("Lambda-Runtime-Function-Error-Type", std::string(error_type));
    }
    auto answer = posting_->send(r);
    if (!answer) {
      log_.error("lambda_post_failed",
                 {{"endpoint", std::string_view(path).substr(path.rfind('/') + 1)},
                  {"cause", http::label(answer.error())}});
      return false;
    }
    if (answer->status / 100 != 2) {
      log_.error("lambda_post_refused",
                 {{"endpoint", std::string_view(path).substr(path.rfind('/') + 1)},
                  {"http_status", static_cast<std::int64_t>(answer->status)}});
      return false;
    }
    return true;
  }

  audit::Log& log() { return log_; }

 private:
  const std::string base_;
  std::unique_ptr<http::HttpClient> waiting_;
  std::unique_ptr<http::HttpClient> posting_;
  audit::Log log_;
};

/** Answers one event: the handler's response, or 413 for a body over kMaxBodyBytes. */
http::Response answer(const LambdaEvent& event, const Handler& handler) {
  if (event.request.body.size() > kMaxBodyBytes) {
    return http::json_error(413, "Request body too large");
  }
  return call_handler(event.request, handler);
}

void serve_one(RuntimeApi& api, const std::string& id, std::string_view body,
               const Handler& handler) {
  const std::string invocation = "invocation/" + id + "/";
  auto event = parse_event(body);
  if (!event) {
    api.log().error("lambda_event_rejected", {{"cause", label(event.error())}});
    api.post(invocation + "error", format_error("InvalidEvent", describe(event.error())),
             "InvalidEvent");
    return;
  }
  const std::string out = format_response(answer(*event, handler), *event);
  if (!api.post(invocation + "response", out)) {
    // Refused (too large, or the invocation timed out meanwhile): say so rather than nothing.
    api.post(invocation + "error", format_error("ResponseRejected", "response not accepted"),
             "ResponseRejected");
  }
}

}  // namespace

int serve_lambda(const std::string& runtime_api, const Handler& handler) {
  RuntimeApi api(runtime_api);
  api.log().info("lambda_runtime_started");
  int failures = 0;
  while (failures < kMaxNextFailures) {
    auto next = api.next();
    if (!next || next->status != 200) {
      ++failures;
      if (!next) {
        api.log().error("lambda_next_failed", {{"cause", http::label(next.error())}});
      } else {
        api.log().error("lambda_next_failed",
                        {{"http_status", static_cast<std::int64_t>(next->status)}});
      }
      continue;
    }
    failures = 0;
    const std::string id = find_header(*next, "lambda-runtime-aws-request-id");
    if (!is_request_id(id)) {
      // Without a usable id there is nothing to answer to; Lambda times the invocation out.
      api.log().error("lambda_event_without_request_id");
      continue;
    }
    serve_one(api, id, next->body, handler);
  }
  return 1;
}

void report_start_failure(const Transport& transport, std::string_view message) {
  if (transport.kind != Transport::Kind::kLambda) return;
  RuntimeApi api(transport.runtime_api);
  api.post("init/error", format_error("Runtime.ConfigError", message), "Runtime.ConfigError");
}

}  // namespace credbroker::runtime
