#include "tests/support/route_harness.h"

#include <stdexcept>

#include "shared/identity/jwt.h"
#include "shared/routes/common.h"
#include "tests/support/jwt_mint.h"

namespace credbroker::testing {

namespace {

constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "credbroker";

constexpr char kServiceIssuer[] = "https://gateway-idp.test";
constexpr char kServiceAudience[] = "credbroker-resolve";

const SigningKey& signing_key() {
  static const SigningKey key = generate_key(identity::Alg::kES256, "route-tests");
  return key;
}

const SigningKey& service_key() {
  static const SigningKey key = generate_key(identity::Alg::kES256, "service-tests");
  return key;
}

std::string resolve_block(const RouteOptions& options) {
  if (!options.resolve) return {};
  std::string subjects;
  for (const auto& s : options.allowed_subjects) {
    subjects += (subjects.empty() ? "\"" : ", \"") + s + "\"";
  }
  return std::string(R"("resolve": {"issuer": ")") + kServiceIssuer + R"(", "audience": ")" +
         kServiceAudience +
         R"(", "public_key_pem_file": "/unused/by/route/tests.pem", "allowed_subjects": [)" +
         subjects + "]},";
}

config::Config parse_config(const RouteOptions& options) {
  const std::string json = R"({"public_base_url": "https://broker.test/",)" + options.extra_config +
                           resolve_block(options) + R"("identity": {"issuer": ")" + kIssuer +
                           R"(", "audience": ")" + kAudience +
                           R"(", "public_key_pem_file": "/unused/by/route/tests.pem"},
      "servers": )" + (options.servers.empty() ? std::string(kDefaultServers) : options.servers) +
                           "}";
  auto parsed = config::parse(json, [](std::string_view) { return std::nullopt; });
  if (!parsed) throw std::invalid_argument("route harness config: " + parsed.error());
  return std::move(parsed.value());
}

crypto::Keyring make_keyring(bool with_key) {
  if (!with_key) return crypto::Keyring();
  std::vector<crypto::Key> keys;
  keys.push_back(crypto::Key{"k1", std::string(32, 'k')});
  return crypto::Keyring(std::move(keys));
}

identity::KeySet key_set(const SigningKey& key) {
  auto set = identity::parse_jwks(jwks_json({key}));
  if (!set) throw std::runtime_error("route harness keys: " + set.error());
  return std::move(set.value());
}

}  // namespace

const char kDefaultServers[] = R"([
  {"name": "jira", "url": "https://jira.test",
   "auth_broker": {"mode": "token_exchange", "token_endpoint": "https://jira.test/token",
                   "client_id": "jira-client", "client_secret": "CS-SENTINEL-jira"}},
  {"name": "github", "url": "https://github.test/api",
   "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "https://as.test/authorize",
                   "token_endpoint": "https://as.test/token", "client_id": "gh-client",
                   "client_secret": "CS-SENTINEL-github", "scopes": ["repo", "read:org"],
                   "resource": "https://api.github.test", "issuer": "https://as.test",
                   "authorization_params": {"prompt": "consent", "access_type": "offline"}}},
  {"name": "Basic Wiki", "url": "https://wiki.test",
   "auth_broker": {"mode": "oauth_connect",
                   "authorization_endpoint": "https://wiki.test/oauth/authorize?tenant=acme",
                   "token_endpoint": "https://wiki.test/oauth/token", "client_id": "wiki client",
                   "client_secret": "CS-SENTINEL-wiki",
                   "token_endpoint_auth_method": "client_secret_basic"}},
  {"name": "plain", "url": "https://plain.test"}
])";

RouteHarness::RouteHarness(RouteOptions options)
    : config(parse_config(options)),
      keyring(make_keyring(options.sealing_key)),
      key_source(identity::make_static_key_source(key_set(signing_key()))),
      authenticator(config.identity, *key_source, clock),
      credentials(redis, keyring, random, config.redis.key_prefix, log),
      flows(redis, keyring, config.redis.key_prefix, random, log),
      rate_limiter(redis, config.redis.key_prefix, log),
      refresh_lock(redis, random, config.redis.key_prefix, log),
      resolver(credentials, refresh_lock, http, clock, log, events,
               broker::resolver_options(config),
               [this](std::chrono::milliseconds) {
                 ++sleeps;
                 if (on_sleep) on_sleep();
               }),
      context{.config = config,
              .clock = clock,
              .authenticator = authenticator,
              .credentials = credentials,
              .flows = flows,
              .rate_limiter = rate_limiter,
              .redis = redis,
              .random = random,
              .http = http,
              .log = log,
              .resolver = resolver,
              .audit = events} {
  if (config.resolve) {
    caller_key_source = identity::make_static_key_source(key_set(service_key()));
    callers.emplace(config.resolve->verifier, *caller_key_source, clock);
    context.callers = &*callers;
  }
}

std::string RouteHarness::service_token(std::string_view sub) const {
  return mint(
      service_key(),
      Claims().iss(kServiceIssuer).aud(kServiceAudience).sub(sub).iat(kNow).exp(kNow + 3600));
}

http::Request RouteHarness::resolve_request(std::string_view body, std::string_view caller) const {
  http::Request r;
  r.method = "POST";
  r.path = std::string(routes::kResolvePath);
  r.add_header("Authorization", "Bearer " + service_token(caller));
  r.add_header("Content-Type", "application/json");
  r.body = std::string(body);
  return r;
}

std::string RouteHarness::token(std::string_view user) const {
  return mint(signing_key(),
              Claims().iss(kIssuer).aud(kAudience).sub(user).iat(kNow).exp(kNow + 3600));
}

http::Request RouteHarness::request(std::string_view method, std::string_view target,
                                    std::string_view user) const {
  http::Request r;
  r.method = std::string(method);
  const auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  if (!user.empty()) r.add_header("Authorization", "Bearer " + token(user));
  return r;
}

http::Response RouteHarness::call(routes::RouteFn route, std::string_view name,
                                  const http::Request& request) {
  return routes::dispatch(name, route, request, context);
}

const config::Server& RouteHarness::server(std::string_view name) const {
  for (const auto& s : config.servers) {
    if (s.name == name) return s;
  }
  throw std::invalid_argument("no server " + std::string(name));
}

}  // namespace credbroker::testing
