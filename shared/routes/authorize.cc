// <path_prefix><server>/<rest>: the front authorizer. A front server (nginx auth_request, Apache
// mod_authnz_fcgi, lighttpd's FastCGI authorizer mode) asks, before it proxies a signed-in user's
// request to an upstream, whether it may go through and with which header. The answer names the
// header, its value, and the URL to proxy to, built from the configured server url only: nothing
// the client sends chooses the upstream host. One identity here: the user's own token, which is
// also the subject of a token exchange or on-behalf-of grant.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/broker/lifecycle.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"
#include "shared/util/strings.h"

namespace credbroker::routes {

namespace {

struct Target {
  std::string_view segment;  // the raw, still percent-encoded server name
  std::string_view rest;     // "" or "/...": the path below the server, raw
};

/** "<prefix><segment>[/<rest>]", or nullopt when the path is not under the prefix. */
std::optional<Target> split_target(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  const std::string_view below = path.substr(prefix.size());
  const auto slash = below.find('/');
  if (slash == std::string_view::npos) return Target{below, {}};
  return Target{below.substr(0, slash), below.substr(slash)};
}

bool is_unreserved_or_sub_delim(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/** RFC 3986 characters of a path (`extra` "/") or a query (`extra` "/?"), "%" only as %XX. */
bool is_uri_text(std::string_view s, std::string_view extra) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!is_unreserved_or_sub_delim(c) && extra.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

/** A segment an upstream would read as "." or "..", percent-encoded or not. */
bool is_dot_segment(std::string_view segment) {
  std::string decoded;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size() && segment[i + 1] == '2' &&
        (segment[i + 2] == 'e' || segment[i + 2] == 'E')) {
      decoded.push_back('.');
      i += 2;
    } else {
      decoded.push_back(segment[i]);
    }
  }
  return decoded == "." || decoded == "..";
}

/**
 * The path below the server may be proxied as it is: URI characters only, and no dot segment,
 * which the upstream would resolve to a path outside the server's url.
 */
bool is_proxyable(std::string_view rest, std::string_view query) {
  if (!is_uri_text(rest, "/") || !is_uri_text(query, "/?")) return false;
  std::string_view path = rest;
  while (!path.empty()) {
    path.remove_prefix(1);  // the "/" before the segment
    const auto slash = path.find('/');
    if (is_dot_segment(path.substr(0, slash))) return false;
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return true;
}

/**
 * The configured url with the client's path below the server. The query is left to the front,
 * which appends the request's own (Apache's mod_rewrite refuses a "?" that a variable brings in).
 */
std::string upstream_url(const config::Server& server, std::string_view rest) {
  std::string url = server.url;
  if (!rest.empty()) {
    while (url.ends_with('/')) url.pop_back();
    url.append(rest);
  }
  return url;
}

/**
 * A refusal also carries its JSON body in a header: nginx's auth_request hands the client only
 * the status of the sub-request, and its config answers this header's value as the body.
 */
http::Response refusal(http::Response response) {
  response.set_header("X-Credbroker-Error", response.body);
  return response;
}

/** A resolve failure as this route answers it: "go connect" is a permission answer for the user
 *  behind the front (403 with connect_path); every other failure as routes::resolver_failure maps
 *  it. */
http::Response authorize_failure(const broker::ResolveFailure& f, const config::Server& server,
                                 RequestNote& note) {
  if (f.kind != broker::ResolveError::kReconnectRequired) return resolver_failure(f, note);
  note.reason = "connect_required";
  return http::json_response(403,
                             "{\"error\":\"connect_required\",\"message\":" +
                                 http::json_quote(with_quoted("Connect ", server.name) + " first") +
                                 ",\"status_code\":403,\"connect_path\":" +
                                 http::json_quote(broker::connect_path(server)) + "}");
}

std::string granted_body(const config::Server& server) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("server");
  w.String(server.name.data(), static_cast<rapidjson::SizeType>(server.name.size()));
  w.Key("header");
  const std::string& header = server.auth_broker->header;
  w.String(header.data(), static_cast<rapidjson::SizeType>(header.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

http::Response decide(const http::Request& request, Context& context, RequestNote& note,
                      const config::Server*& server) {
  const auto target = split_target(request.path, context.config.authorize->path_prefix);
  if (!target) {
    note.reason = "not_under_prefix";
    return not_found();
  }

  // The raw token itself, verified like the identity header everywhere else: it is also the
  // subject of a token exchange. (API Gateway's verified claims never apply: this route has no
  // Lambda deployment, and they carry no token to exchange.)
  const auto token = identity::extract_token(request, context.config.identity.header);
  if (!token) return authentication_failure(identity::AuthError{token.error()}, note);
  auto verified = context.authenticator.verify(*token);
  if (!verified) return authentication_failure(verified.error(), note);
  note.user = verified->user;

  auto found = resolve_server(target->segment, context.config, note);
  if (!found) return std::move(found.error());
  server = *found;
  if (!is_proxyable(target->rest, request.query)) {
    note.reason = "bad_upstream_path";
    return http::json_error(400, "Invalid upstream path");
  }

  auto resolved = context.resolver.resolve(
      {.user = verified->user, .token = std::string(*token), .expires_at = verified->expires_at},
      *server);
  if (!resolved) return authorize_failure(resolved.error(), *server, note);

  const config::AuthBroker& broker = *server->auth_broker;
  auto r = http::json_response(200, granted_body(*server));
  // FastCGI authorizer variables (Apache and lighttpd move "Variable-<NAME>" into the request's
  // environment; nginx reads them with auth_request_set). The header name is lower-cased so that
  // a front can match it against a fixed list.
  r.set_header("Variable-CREDBROKER_USER", verified->user);
  r.set_header("Variable-CREDBROKER_SERVER", server->name);
  r.set_header("Variable-CREDBROKER_HEADER", to_lower(broker.header));
  r.set_header("Variable-CREDBROKER_VALUE", broker::header_value(broker, resolved->access_token));
  r.set_header("Variable-CREDBROKER_UPSTREAM", upstream_url(*server, target->rest));
  note.reason = "authorized";
  return r;
}

}  // namespace

http::Response authorize(const http::Request& request, Context& context, RequestNote& note) {
  // Without an "authorize" block the route does not exist.
  if (!context.config.authorize) return refusal(not_found());
  const config::Server* server = nullptr;
  http::Response response = decide(request, context, note, server);
  // One line per decision: who, which upstream, what came of it; never a token.
  context.log.info("authorize", {{"user", std::string_view(note.user)},
                                 {"server", std::string_view(server ? server->name : "")},
                                 {"outcome", std::string_view(note.reason)},
                                 {"status", static_cast<std::int64_t>(response.status)}});
  // One audit event per use once the user and the server are known (the refusals before that
  // are in the request log line).
  if (server != nullptr && !note.user.empty()) {
    context.audit.record(
        {.kind = audit::EventKind::kAuthorizeServed,
         .user = note.user,
         .server = server->name,
         .outcome = response.status == 200 ? std::string_view("ok") : std::string_view(note.reason),
         .caller = {}});
  }
  if (response.status != 200) return refusal(std::move(response));
  return response;
}

}  // namespace credbroker::routes
