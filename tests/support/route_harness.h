#pragma once
// A routes::Context for route unit tests, built without servers: the real config parser, the real
// Authenticator with a static key set and tokens minted here, the real stores over a FakeRedis,
// a FakeHttpClient for the token endpoint, a FixedClock, a FakeRandom and a capturing log.
// Requests go through routes::dispatch, so the request log line is captured too.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/audit/events.h"
#include "shared/audit/log.h"
#include "shared/config/config.h"
#include "shared/crypto/keyring.h"
#include "shared/http/request.h"
#include "shared/identity/authenticator.h"
#include "shared/routes/routes.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/refresh_lock.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/fakes.h"

namespace credbroker::testing {

/** What the harness's config and keyring look like. */
struct RouteOptions {
  /** The "servers" array (JSON). Default: kDefaultServers. */
  std::string servers;
  /** Extra top-level members, each followed by a comma: R"("ui_redirect": "/app/",)". */
  std::string extra_config;
  /** false: empty keyring (the store is disabled). */
  bool sealing_key = true;
  /** true: a "resolve" block trusting service_token()s whose sub is in allowed_subjects. */
  bool resolve = false;
  std::vector<std::string> allowed_subjects = {"gateway"};
};

/**
 * jira (token_exchange), github (oauth_connect, client_secret_post, scopes, resource, issuer,
 * authorization_params prompt=consent and access_type=offline), "Basic Wiki" (oauth_connect,
 * client_secret_basic, authorization endpoint with a query), plain (not brokered).
 * Client secrets are "CS-SENTINEL-<name>".
 */
extern const char kDefaultServers[];

class RouteHarness {
 public:
  static constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z
  static constexpr char kPublicBaseUrl[] = "https://broker.test";

  explicit RouteHarness(RouteOptions options = {});
  RouteHarness(const RouteHarness&) = delete;
  RouteHarness& operator=(const RouteHarness&) = delete;

  /** A valid token for `user` (ES256, exp an hour after kNow). */
  std::string token(std::string_view user) const;
  /** A valid service token for the resolve block (its own key, issuer and audience). */
  std::string service_token(std::string_view sub) const;
  /** POST of `body` (application/json) to the resolve route as service `caller`. */
  http::Request resolve_request(std::string_view body, std::string_view caller = "gateway") const;
  /** A request for "path[?query]" with `Authorization: Bearer token(user)`; no header when
   *  `user` is empty. */
  http::Request request(std::string_view method, std::string_view target,
                        std::string_view user = "alice") const;

  /** routes::dispatch of one route; `name` as in app::run. */
  http::Response call(routes::RouteFn route, std::string_view name, const http::Request& request);
  http::Response list(const http::Request& r) { return call(routes::list, "list", r); }
  http::Response disconnect(const http::Request& r) {
    return call(routes::disconnect, "delete", r);
  }
  http::Response connect(const http::Request& r) { return call(routes::connect, "connect", r); }
  http::Response callback(const http::Request& r) { return call(routes::callback, "callback", r); }
  http::Response health(const http::Request& r) { return call(routes::health, "health", r); }
  http::Response resolve(const http::Request& r) { return call(routes::resolve, "resolve", r); }
  http::Response authorize(const http::Request& r) {
    return call(routes::authorize, "authorize", r);
  }

  /** The configured server named `name`; throws when there is none. */
  const config::Server& server(std::string_view name) const;

  config::Config config;
  FixedClock clock{kNow};
  FakeRedis redis;
  FakeRandom random;
  FakeHttpClient http;
  CapturingSink sink;
  audit::Log log{sink, "test"};
  /** Draws the request ids of requests without X-Request-Id (apart from `random`, so that ids
   *  never shift what the routes draw). */
  FakeRandom request_ids;
  /** Audit events as "test-host:1"; streamed when the config has "audit" (extra_config). */
  audit::Events events{log, clock, request_ids, "test-host:1", config.audit, redis};
  crypto::Keyring keyring;
  std::unique_ptr<identity::KeySource> key_source;
  identity::Authenticator authenticator;
  store::CredentialStore credentials;
  store::FlowStore flows;
  store::RateLimiter rate_limiter;
  store::RefreshLock refresh_lock;
  /** Runs at each of a waiting resolver's polls (another instance at work), counted in `sleeps`. */
  std::function<void()> on_sleep;
  std::size_t sleeps = 0;
  broker::Resolver resolver;
  std::unique_ptr<identity::KeySource> caller_key_source;
  std::optional<identity::Authenticator> callers;
  routes::Context context;
};

}  // namespace credbroker::testing
