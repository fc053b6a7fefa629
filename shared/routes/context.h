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

}  // namespace credbroker::routes
