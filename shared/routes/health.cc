#include "shared/routes/common.h"
#include "shared/routes/routes.h"

namespace credbroker::routes {

http::Response health(const http::Request& request, Context& context, RequestNote& note) {
  if (request.path != kHealthPath) return not_found();
  if (request.method != "GET" && request.method != "HEAD") return method_not_allowed("GET, HEAD");
  // The configuration was loaded and validated at start, or this process would not run.
  auto pong = context.redis.command({"PING"});
  if (!pong) {
    note.reason = "redis_unreachable";
    return http::json_response(
        503, R"({"status":"unavailable","checks":{"config":"ok","redis":"failing"}})");
  }
  return http::json_response(200, R"({"status":"ok"})");
}

}  // namespace credbroker::routes
