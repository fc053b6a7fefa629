#include "shared/routes/common.h"

#include <chrono>

#include "shared/http/url.h"
#include "shared/util/strings.h"

namespace credbroker::routes {

namespace {

/** RFC 9110 §9.3.1, §9.3.2, §9.3.5: a body on GET, HEAD or DELETE has no defined meaning. */
bool carries_unwanted_body(const http::Request& request) {
  if (request.method != "GET" && request.method != "HEAD" && request.method != "DELETE") {
    return false;
  }
  const auto length = request.header("content-length");
  return (length && !length->empty() && *length != "0") ||
         request.header("transfer-encoding").has_value() || !request.body.empty();
}

}  // namespace

http::Response dispatch(std::string_view route_name, RouteFn route, const http::Request& request,
                        Context& context) {
  const auto start = std::chrono::steady_clock::now();
  context.audit.start_request(request.header("x-request-id"));
  RequestNote note;
  // Refused unread, before anything else: no route reads such a body, and a client trickling one
  // must not hold a process (issue: slow bodies behind Apache mod_proxy_fcgi).
  http::Response response;
  if (carries_unwanted_body(request)) {
    note.reason = "body_not_allowed";
    response = http::json_error(400, "Request body not allowed");
  } else {
    response = route(request, context, note);
  }
  // Every answer, errors and redirects included: no cache keeps it (RFC 9111 §5.2.2.5), no
  // browser sniffs a JSON body into HTML (Fetch §X-Content-Type-Options), and none of it may
  // load, run or frame anything should a browser render it anyway (CSP 3 §6.1.3 default-src).
  response.set_header("Cache-Control", "no-store");
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("Content-Security-Policy", "default-src 'none'");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  context.log.info("request", {{"method", std::string_view(request.method)},
                               {"route", route_name},
                               {"path", std::string_view(request.path)},
                               {"status", static_cast<std::int64_t>(response.status)},
                               {"user", std::string_view(note.user)},
                               {"caller", std::string_view(note.caller)},
                               {"reason", std::string_view(note.reason)},
                               {"request_id", std::string_view(context.audit.request_id())},
                               {"duration_ms", ms}});
  return response;
}

Result<std::string, http::Response> authenticate(const http::Request& request, Context& context,
                                                 RequestNote& note) {
  auto verified = context.authenticator.authenticate(request);
  if (verified) {
    note.user = verified->user;
    return verified->user;
  }
  return Err{authentication_failure(verified.error(), note)};
}

http::Response authentication_failure(const identity::AuthError& error, RequestNote& note) {
  note.reason = std::string(identity::label(error));
  if (error.kind == identity::AuthErrorKind::kKeysUnavailable) {
    return http::json_error(503, "Identity verification is unavailable");
  }
  auto r = http::json_error(401, "Authentication required");
  // RFC 6750 §3.1: a repeated credential is a malformed request, not a bad token.
  r.set_header("WWW-Authenticate", error.kind == identity::AuthErrorKind::kMissing ? "Bearer"
                                   : error.kind == identity::AuthErrorKind::kDuplicate
                                       ? "Bearer error=\"invalid_request\""
                                       : "Bearer error=\"invalid_token\"");
  return r;
}

http::Response store_failure(store::StoreError error, RequestNote& note) {
  switch (error) {
    case store::StoreError::kDisabled:
      note.reason = "store_disabled";
      return http::json_error(503, "Credential broker is not enabled");
    case store::StoreError::kUnavailable:
      break;
  }
  note.reason = "store_unavailable";
  return http::json_error(503, "Credential store is unavailable");
}

Result<store::RateDecision, store::StoreError> count_attempt(Context& context,
                                                             std::string_view user,
                                                             std::string_view action,
                                                             std::int64_t per_minute) {
  return context.rate_limiter.hit(user, action, per_minute, context.clock.now_seconds());
}

http::Response resolver_failure(const broker::ResolveFailure& f, RequestNote& note) {
  switch (f.kind) {
    case broker::ResolveError::kReconnectRequired:
      // Each route answers this itself; as a plain refusal it is a conflict with the record.
      note.reason = "reconnect_required";
      return http::json_error(409, "Reconnect required");
    case broker::ResolveError::kUpstreamFailed: {
      note.reason = f.upstream_error.empty() ? "upstream_failed" : "upstream_" + f.upstream_error;
      std::string body = R"({"error":"Bad Gateway","message":"Upstream token endpoint failed")";
      // Only RFC 6749 §5.2 codes ever get here (oauth/token_client.cc), never upstream text.
      if (!f.upstream_error.empty())
        body += ",\"upstream_error\":" + http::json_quote(f.upstream_error);
      return http::json_response(502, body + ",\"status_code\":502}");
    }
    case broker::ResolveError::kBusy: {
      note.reason = "renewal_in_progress";
      auto r = http::json_error(503, "Credential renewal in progress");
      r.set_header("Retry-After", "1");
      return r;
    }
    case broker::ResolveError::kStoreDisabled:
      return store_failure(store::StoreError::kDisabled, note);
    case broker::ResolveError::kStoreUnavailable:
      break;
  }
  return store_failure(store::StoreError::kUnavailable, note);
}

http::Response method_not_allowed(std::string_view allow) {
  auto r = http::json_error(405, "Method not allowed");
  r.set_header("Allow", allow);
  return r;
}

http::Response not_found() {
  return http::json_error(404, "Not found");
}

std::optional<std::string_view> server_segment(std::string_view path, std::string_view suffix) {
  const std::string prefix = std::string(kCredentialsPath) + "/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (suffix.empty()) {
    if (slash != std::string_view::npos) return std::nullopt;
    return rest;
  }
  if (slash == std::string_view::npos || rest.substr(slash + 1) != suffix) return std::nullopt;
  return rest.substr(0, slash);
}

std::optional<std::string> decode_server_name(std::string_view segment) {
  auto decoded = http::percent_decode(segment);
  if (!decoded) return std::nullopt;
  return std::string(trim(*decoded));
}

Result<const config::Server*, http::Response> find_server(std::string_view name,
                                                          const config::Config& config,
                                                          RequestNote& note) {
  if (name.empty()) {
    note.reason = "empty_server_name";
    return Err{http::json_error(400, "Server name is required")};
  }
  const config::Server* server = config.find_brokered(name);
  if (server == nullptr) {
    note.reason = "unknown_server";
    const std::string shown = quotable_name(name);
    return Err{http::json_error(404, shown.empty() ? std::string("Unknown server")
                                                   : with_quoted("Unknown server ", shown))};
  }
  return server;
}

Result<const config::Server*, http::Response> resolve_server(std::string_view segment,
                                                             const config::Config& config,
                                                             RequestNote& note) {
  const auto name = decode_server_name(segment);
  if (!name) {
    note.reason = "bad_server_encoding";
    return Err{http::json_error(400, "Server name is not valid percent-encoding")};
  }
  return find_server(*name, config, note);
}

Result<ServerCall, http::Response> begin_server_call(const http::Request& request, Context& context,
                                                     RequestNote& note, std::string_view suffix,
                                                     std::string_view method) {
  const auto segment = server_segment(request.path, suffix);
  if (!segment) return Err{not_found()};
  if (request.method != method) return Err{method_not_allowed(method)};
  auto user = authenticate(request, context, note);
  if (!user) return Err{std::move(user.error())};
  auto server = resolve_server(*segment, context.config, note);
  if (!server) return Err{std::move(server.error())};
  return ServerCall{std::move(user.value()), *server};
}

// Built by append: GCC 12 misreports chained operator+ on strings here (-Wrestrict).
std::string with_quoted(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  out.push_back('"');
  out.append(name);
  out.push_back('"');
  return out;
}

std::string quotable_name(std::string_view name) {
  if (name.size() > 128) return {};
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F) return {};
  }
  return std::string(name);
}

}  // namespace credbroker::routes
