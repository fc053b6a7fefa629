#include "shared/app/app.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/crypto/cleanse.h"
#include "shared/routes/common.h"
#include "shared/runtime/runtime.h"

namespace credbroker::app {

namespace {

int fail(std::string_view program, std::string_view message, int status = kExitConfig) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  return status;
}

/** A start-up failure once the transport is known: also told to it (Lambda: init/error). */
int fail(std::string_view program, std::string_view message, const runtime::Transport& transport) {
  const int status = fail(program, message);
  runtime::report_start_failure(transport, message);
  return status;
}

}  // namespace

int run(int argc, char** argv, std::string_view route_name, routes::RouteFn route) {
  const std::string program = "credbroker-" + std::string(route_name);
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto transport = runtime::choose_transport(args);
  if (!transport.ok) return fail(program, transport.error, kExitUsage);

  const auto env = config::process_env();
  const std::string config_path = env("CREDBROKER_CONFIG").value_or("/etc/credbroker/config.json");
  auto config = config::load_file(config_path, env);
  std::string keys = env("CREDBROKER_KEYS").value_or("");
  // Read once, then gone from the environment, its bytes too: nothing later (a library, a child
  // process) inherits them, and /proc/<pid>/environ and a core dump no longer show them. Each
  // process has its own environment (a supervisor's or mod_fcgid's copy), so this reaches no other.
  crypto::scrub_env("CREDBROKER_KEYS");
  crypto::scrub_env("CREDBROKER_REDIS_PASSWORD");
  if (!config) {
    crypto::cleanse(keys);
    return fail(program, config.error(), transport.transport);
  }

  auto keyring = crypto::Keyring::parse(keys);
  crypto::cleanse(keys);
  if (!keyring) return fail(program, keyring.error(), transport.transport);

  audit::Log log(audit::stderr_sink(), program);
  if (keyring->empty()) {
    log.warn("sealing_disabled", {{"cause", std::string_view("CREDBROKER_KEYS is not set")}});
  }

  // Made on the first request that needs it: list, connect and health with keys from a file never
  // initialise (nor, linked as CMakeLists.txt does, load) libcurl.
  auto http_client =
      http::make_lazy_curl_client({.connect_timeout_ms = config->http.connect_timeout_ms,
                                   .total_timeout_ms = config->http.timeout_ms,
                                   .max_body_bytes = 1 << 20,
                                   .ca_file = config->http.ca_file});
  auto key_source = identity::make_key_source(config->identity, *http_client);
  // The HS256 secret now lives in the key source alone: the config's copy and the variable go.
  crypto::cleanse(config->identity.hmac_secret);
  if (!config->identity.hmac_secret_env.empty()) {
    crypto::scrub_env(config->identity.hmac_secret_env.c_str());
  }
  if (!key_source) return fail(program, key_source.error(), transport.transport);
  identity::Authenticator authenticator(config->identity, **key_source, system_clock());
  auto redis = store::make_hiredis(config->redis);
  store::CredentialStore credentials(*redis, *keyring, crypto::system_random(),
                                     config->redis.key_prefix, log);
  store::FlowStore flows(*redis, *keyring, config->redis.key_prefix, crypto::system_random(), log);
  store::RateLimiter rate_limiter(*redis, config->redis.key_prefix, log);
  store::RefreshLock refresh_lock(*redis, crypto::system_random(), config->redis.key_prefix, log);
  audit::Events events(log, system_clock(), crypto::system_random(), audit::instance_name(),
                       config->audit, *redis);
  broker::Resolver resolver(credentials, refresh_lock, *http_client, system_clock(), log, events,
                            broker::resolver_options(*config), broker::real_sleep());

  // The services that may call the resolve route, verified like users but by their own block.
  std::unique_ptr<identity::KeySource> caller_keys;
  std::optional<identity::Authenticator> callers;
  if (config->resolve) {
    auto keys = identity::make_key_source(config->resolve->verifier, *http_client, "resolve");
    if (!keys) return fail(program, keys.error(), transport.transport);
    caller_keys = std::move(keys.value());
    callers.emplace(config->resolve->verifier, *caller_keys, system_clock());
  }

  routes::Context context{.config = *config,
                          .clock = system_clock(),
                          .authenticator = authenticator,
                          .credentials = credentials,
                          .flows = flows,
                          .rate_limiter = rate_limiter,
                          .redis = *redis,
                          .random = crypto::system_random(),
                          .http = *http_client,
                          .log = log,
                          .resolver = resolver,
                          .audit = events,
                          .callers = callers ? &*callers : nullptr};
  log.info("started", {{"route", route_name}});
  return runtime::serve(transport.transport, [&](const http::Request& request) {
    return routes::dispatch(route_name, route, request, context);
  });
}

}  // namespace credbroker::app
