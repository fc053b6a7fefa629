#include "shared/runtime/transport_common.h"

#include <fcgiapp.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

namespace credbroker::runtime {

http::Response handle_with_body(http::Request& request, const BodyReader& read,
                                const Handler& handler, bool* body_unread) {
  std::size_t length = 0;
  if (const auto cl = request.header("content-length"); cl && !cl->empty()) {
    const auto [ptr, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (ec != std::errc() || ptr != cl->data() + cl->size()) {
      return http::json_error(400, "Invalid Content-Length");
    }
  }
  if (length > kMaxBodyBytes) return http::json_error(413, "Request body too large");
  // The body once read whole (asking again gives it again); `tried` after any attempt, since a
  // failed read leaves the stream mid-body.
  std::optional<std::string> kept;
  if (length == 0) kept.emplace();
  bool tried = false;
  request.body_source =
      [&read, length, &kept, &tried](
          std::size_t max_bytes,
          std::chrono::milliseconds deadline) -> Result<std::string, http::BodyError> {
    if (length > max_bytes) return Err(http::BodyError::kTooLarge);
    if (kept) return *kept;
    if (tried) return Err(http::BodyError::kBroken);
    tried = true;
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + deadline;
    std::string body(length, '\0');
    std::size_t got = 0;
    while (got < length) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return Err(http::BodyError::kTimeout);
      const long n = read(body.data() + got, length - got, left);
      if (n == kReadTimedOut) return Err(http::BodyError::kTimeout);
      if (n < 0) return Err(http::BodyError::kBroken);
      if (n == 0) break;  // a short body is passed on as it came
      got += static_cast<std::size_t>(n);
    }
    body.resize(got);
    kept = body;
    return body;
  };
  http::Response response = call_handler(request, handler);
  request.body_source = nullptr;
  if (body_unread != nullptr) *body_unread = !kept.has_value();
  return response;
}

http::Response call_handler(const http::Request& request, const Handler& handler) {
  try {
    return handler(request);
  } catch (...) {
    // Never a stack or an exception text in a response: it might carry data we must not show.
    // Anything thrown, not only std::exception: an escaping exception would end the process.
    std::fputs("{\"level\":\"error\",\"event\":\"handler_exception\"}\n", stderr);
    return http::json_error(500, "Internal error");
  }
}

Choice choose_transport(const std::vector<std::string>& args) {
  Choice c{true, {Transport::Kind::kFastCgiInherited, ""}, ""};
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--listen") {
      if (i + 1 >= args.size() || args[i + 1].empty()) {
        return {false, {}, "--listen needs an address: 127.0.0.1:PORT or /path/to.sock"};
      }
      c.transport = {Transport::Kind::kFastCgiListen, args[++i]};
    } else {
      return {false, {}, "unknown argument \"" + args[i] + "\" (usage: [--listen ADDR])"};
    }
  }
  if (c.transport.kind == Transport::Kind::kFastCgiListen) return c;
  // The Lambda execution environment names its Runtime API; an explicit --listen still wins.
  if (const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API"); api != nullptr && *api != '\0') {
    c.transport = {Transport::Kind::kLambda, "", api};
    return c;
  }
  // A front server that spawns us for FastCGI hands over a listening socket on fd 0.
  if (!FCGX_IsCGI()) return c;
  if (std::getenv("GATEWAY_INTERFACE") != nullptr) {
    c.transport.kind = Transport::Kind::kCgi;
    return c;
  }
  return {false,
          {},
          "not started by a front server (fd 0 is no FastCGI socket and GATEWAY_INTERFACE is "
          "unset): pass --listen 127.0.0.1:PORT or --listen /path/to.sock"};
  return c;
}

}  // namespace credbroker::runtime
