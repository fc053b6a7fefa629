#pragma once
// What a route function may use: everything built once per process by app::build(). The routes
// see interfaces only, never FCGX, curl or hiredis types.

#include <string>

#include "shared/audit/events.h"
#include "shared/audit/log.h"
#include "shared/broker/resolver.h"
#include "shared/config/config.h"
#include "shared/crypto/random.h"
#include "shared/http/client.h"
#include "shared/http/request.h"
#include "shared/identity/authenticator.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/rate_limiter.h"
#include "shared/store/redis.h"
#include "shared/util/clock.h"
#include "shared/util/result.h"

namespace credbroker::routes {

struct Context {
  const config::Config& config;
  const Clock& clock;
  identity::Authenticator& authenticator;
  store::CredentialStore& credentials;
  store::FlowStore& flows;
  store::RateLimiter& rate_limiter;
  store::Redis& redis;
  crypto::Random& random;
  http::HttpClient& http;
  audit::Log& log;
  broker::Resolver& resolver;
  // Audit events; also holds the current request's id (set by dispatch). A route records its
  // outcome with context.audit.record({...}).
  audit::Events& audit;
  // The services allowed to call the resolve route (config "resolve"); nullptr without that block.
  identity::Authenticator* callers = nullptr;
};

/** What one request leaves for its log line besides method, path and status. */
struct RequestNote {
  std::string user;    // the verified user, once known
  std::string caller;  // the verified service calling an internal route (resolve), once known
  std::string reason;  // a fixed label explaining a refusal or failure ("token_expired", ...)
};

/** A route: answers one request. */
using RouteFn = http::Response (*)(const http::Request&, Context&, RequestNote&);

/**
 * Runs `route` for one request and writes the request's log line (method, route, path without
 * query, status, user, reason, duration, request id). The request id (audit::request_id: the
 * front's X-Request-Id when it is safe, else a random one) is set on context.audit first. The path
 * is logged; the query never is (it carries codes and state on the callback).
 */
http::Response dispatch(std::string_view route_name, RouteFn route, const http::Request& request,
                        Context& context);

/** The label a refused token is logged with ("no_credentials", "token expired", ...). */
std::string_view auth_reason(const identity::AuthError& e);

/** The verified caller's user id, or the 401/503 response to send. */
Result<std::string, http::Response> authenticate(const http::Request& request, Context& context,
                                                 RequestNote& note);

/** The one mapping of a refused identity to HTTP: 401 with WWW-Authenticate, or 503 when the
 *  keys cannot be loaded; the reason noted. */
http::Response authentication_failure(const identity::AuthError& error, RequestNote& note);

/** The one mapping of a store failure to HTTP: 503 either way, with the reason noted. */
http::Response store_failure(store::StoreError error, RequestNote& note);

/** Counts one `action` by `user` against `per_minute` (store::RateLimiter, keys under
 *  redis.key_prefix, the context's clock). A Redis failure is the store's failure: the caller
 *  refuses (docs/architecture.md "Rate limits": fail closed). */
Result<store::RateDecision, store::StoreError> count_attempt(Context& context,
                                                             std::string_view user,
                                                             std::string_view action,
                                                             std::int64_t per_minute);

/**
 * The one mapping of a resolver failure to HTTP, shared by resolve and authorize: 502 with the
 * RFC 6749 label the upstream named, 503 (renewal in progress, with Retry-After; store). Each
 * route answers kReconnectRequired in its own words before calling this.
 */
http::Response resolver_failure(const broker::ResolveFailure& f, RequestNote& note);

/** 405 with Allow. */
http::Response method_not_allowed(std::string_view allow);
/** 404 for a path no route serves. */
http::Response not_found();

inline constexpr std::string_view kCredentialsPath = "/api/v1/user/credentials";

/**
 * For "/api/v1/user/credentials/<segment>[/<suffix>]": the raw (still percent-encoded) segment, or
 * nullopt when the path does not have that shape. `suffix` empty means no further segment.
 */
std::optional<std::string_view> server_segment(std::string_view path, std::string_view suffix);

/** Server name from a raw segment: percent-decoded, trimmed. nullopt when the encoding is bad. */
std::optional<std::string> decode_server_name(std::string_view segment);

/** The brokered server named `name` (already decoded and trimmed), or the 400 (empty) / 404
 *  (unknown or not brokered) response to send. */
Result<const config::Server*, http::Response> find_server(std::string_view name,
                                                          const config::Config& config,
                                                          RequestNote& note);

/**
 * The brokered server a raw `{server}` segment names, or the 400/404 response to send (bad
 * encoding, empty name, unknown or not brokered server).
 */
Result<const config::Server*, http::Response> resolve_server(std::string_view segment,
                                                             const config::Config& config,
                                                             RequestNote& note);

/** Who calls, about which brokered server. */
struct ServerCall {
  std::string user;
  const config::Server* server;
};

/**
 * The common start of every "/api/v1/user/credentials/{server}[/<suffix>]" route, in order: the
 * path shape (404), the method (405 with Allow: `method`), the caller (401/503), the server
 * (400/404). Either the call to serve or the response to send.
 */
Result<ServerCall, http::Response> begin_server_call(const http::Request& request, Context& context,
                                                     RequestNote& note, std::string_view suffix,
                                                     std::string_view method);

/** "<prefix>\"<name>\"" */
std::string with_quoted(std::string_view prefix, std::string_view name);

/** A server name safe to repeat in a message: printable, at most 128 bytes; else empty. */
std::string quotable_name(std::string_view name);

}  // namespace credbroker::routes
