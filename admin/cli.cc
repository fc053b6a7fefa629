#include "admin/cli.h"

#include <memory>
#include <optional>
#include <string_view>

#include "shared/audit/events.h"
#include "shared/audit/log.h"
#include "shared/crypto/cleanse.h"
#include "shared/store/migrate.h"

namespace credbroker::admin {

namespace {

constexpr std::string_view kUsage =
    "usage: credbroker-admin [--config FILE] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  gen-key [--id ID]   print a new sealing key entry \"id:base64\" for CREDBROKER_KEYS\n"
    "  check-config        parse the config, reach Redis, load the keys, reach every token\n"
    "                      endpoint (no grant sent); a table, non-zero on any failure\n"
    "  rotate              seal every credential record under the first key of CREDBROKER_KEYS\n"
    "  stats               users and credentials per server and status (no user id, no secret)\n"
    "  purge-user USER     remove every record, pending flow, lock and counter of USER\n"
    "  migrate-keys        move credentials stored before the per-user hash tags, once\n"
    "\n"
    "The config is --config FILE, else CREDBROKER_CONFIG, else /etc/credbroker/config.json;\n"
    "the keys are CREDBROKER_KEYS. 'credbroker-admin COMMAND --help' describes one command.\n"
    "\n"
    "exit status: 0 ok, 1 a check failed or the work is partial, 2 usage error,\n"
    "             3 Redis unreachable or refusing, 4 config or CREDBROKER_KEYS unusable\n";

struct Command {
  std::string_view name;
  std::string_view help;
};

constexpr Command kCommands[] = {
    {"gen-key",
     "usage: credbroker-admin gen-key [--id ID]\n"
     "Prints a new keyring entry \"ID:<base64 of 32 random bytes>\" on stdout (ID defaults to\n"
     "k<YYYYMMDD>-<6 hex>). Prepend it to CREDBROKER_KEYS to rotate (docs/operations.md).\n"
     "Needs no config. Exit: 0, 2 for a bad ID.\n"},
    {"check-config",
     "usage: credbroker-admin [--config FILE] check-config\n"
     "Parses the config, checks CREDBROKER_KEYS, PINGs Redis, loads the identity (and resolve)\n"
     "verification keys and reaches every brokered server's token endpoint with a POST that\n"
     "carries the client authentication and no grant (an OAuth server answers 400\n"
     "invalid_request or unsupported_grant_type). Prints one row per check.\n"
     "Exit: 0 all ok, 1 any check failed (a config that does not parse included).\n"},
    {"rotate",
     "usage: credbroker-admin [--config FILE] rotate\n"
     "Seals every credential record again under the first key of CREDBROKER_KEYS (SCAN on every\n"
     "primary). Records already under it are skipped, so a rotation interrupted is resumed by\n"
     "running it again. Safe while the handlers serve: a record changed or deleted meanwhile is\n"
     "never overwritten or brought back. A progress bar on a terminal, else progress lines.\n"
     "Exit: 0 every record is under the first key, 1 some kept changing or open under no key,\n"
     "3 Redis failed (run it again), 4 no keys.\n"},
    {"stats",
     "usage: credbroker-admin [--config FILE] stats\n"
     "Counts users with credentials and records per server and status (connected, expired,\n"
     "reconnect_required, unopenable). No user id and no secret is printed.\n"
     "Exit: 0, 3 Redis failed, 4 no keys.\n"},
    {"purge-user",
     "usage: credbroker-admin [--config FILE] purge-user USER\n"
     "Off-boarding: removes every credential record, pending connect flow (and its index),\n"
     "refresh lock and rate counter of USER (the identity's user claim), and records an audit\n"
     "event \"purged\" per removed record (log, and audit.redis_stream when configured).\n"
     "Tokens are not revoked at the upstreams (use the delete route for that).\n"
     "Exit: 0, 2 no USER, 3 Redis failed (run it again: it is idempotent).\n"},
    {"migrate-keys",
     "usage: credbroker-admin [--config FILE] migrate-keys\n"
     "Once, after upgrading every handler to per-user hash tags: moves each credential hash\n"
     "stored under the old name \"<prefix>cred:{<user>}\" to \"<prefix>u:{<tag>}:cred:<user>\"\n"
     "(a record the new handlers wrote meanwhile wins), then deletes the old one. Records are\n"
     "moved as they are (never opened). Safe to run again or after an interruption.\n"
     "Exit: 0, 3 Redis failed (run it again).\n"},
};

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int usage_error(Output& io, std::string_view message) {
  io.err << "credbroker-admin: " << message << "\n" << kUsage;
  return kExitUsage;
}

bool is_help(std::string_view arg) {
  return arg == "--help" || arg == "-h";
}

}  // namespace

int run(const std::vector<std::string>& args, const config::EnvLookup& env, Output& io) {
  std::optional<std::string> config_path;
  std::size_t i = 0;
  while (i < args.size() && args[i].starts_with("-")) {
    if (is_help(args[i])) {
      io.out << kUsage;
      return kExitOk;
    }
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[i + 1];
      i += 2;
      continue;
    }
    return usage_error(io, "unknown option " + args[i]);
  }
  if (i == args.size()) return usage_error(io, "no command");
  const std::string_view name = args[i];
  if (name == "help") {
    if (i + 1 < args.size()) {
      if (const Command* c = find_command(args[i + 1])) {
        io.out << c->help;
        return kExitOk;
      }
    }
    io.out << kUsage;
    return kExitOk;
  }
  const Command* command = find_command(name);
  if (command == nullptr) return usage_error(io, "unknown command " + std::string(name));
  const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                      args.end());
  for (const auto& arg : rest) {
    if (is_help(arg)) {
      io.out << command->help;
      return kExitOk;
    }
  }
  const auto command_usage = [&](std::string_view message) {
    io.err << "credbroker-admin " << name << ": " << message << "\n" << command->help;
    return kExitUsage;
  };

  if (name == "gen-key") {
    std::string id;
    if (rest.size() == 2 && rest[0] == "--id") {
      id = rest[1];
    } else if (!rest.empty()) {
      return command_usage("unexpected arguments");
    }
    auto entry = gen_key(crypto::system_random(), system_clock(), id);
    if (!entry) return command_usage(entry.error());
    io.out << *entry << "\n" << std::flush;
    crypto::cleanse(*entry);
    return kExitOk;
  }

  std::string user;
  if (name == "purge-user") {
    if (rest.size() != 1 || rest[0].empty()) return command_usage("one USER expected");
    user = rest[0];
  } else if (!rest.empty()) {
    return command_usage("unexpected arguments");
  }

  const std::string path =
      config_path.value_or(env("CREDBROKER_CONFIG").value_or("/etc/credbroker/config.json"));
  auto config = config::load_file(path, env);
  std::string keys_spec = env("CREDBROKER_KEYS").value_or("");
  auto keyring = crypto::Keyring::parse(keys_spec);
  crypto::cleanse(keys_spec);

  if (!config) {
    if (name == "check-config") {
      return print_checks({{"config", path, false, config.error()}}, io);
    }
    io.err << "credbroker-admin " << name << ": " << config.error() << "\n";
    return kExitConfig;
  }

  audit::Log log(audit::stderr_sink(), "credbroker-admin");
  auto redis = store::make_hiredis(config->redis);
  if (name == "check-config") {
    auto http = http::make_curl_client({.connect_timeout_ms = config->http.connect_timeout_ms,
                                        .total_timeout_ms = config->http.timeout_ms,
                                        .max_body_bytes = 1 << 20,
                                        .ca_file = config->http.ca_file});
    std::vector<CheckRow> rows = {{"config", path, true, "parsed"}};
    for (auto& row : check_config(*config, keyring, {*redis, *http, system_clock()})) {
      rows.push_back(std::move(row));
    }
    return print_checks(rows, io);
  }

  if (name == "migrate-keys") {
    auto moved = store::migrate_legacy_credentials(*redis, config->redis.key_prefix, log);
    if (!moved) {
      io.err << "credbroker-admin migrate-keys: Redis failed; run it again\n";
      return kExitRedis;
    }
    io.out << "migrate-keys: " << moved->users << " users, " << moved->records << " records moved, "
           << moved->kept_newer << " left out (a newer record was there)\n";
    return kExitOk;
  }

  if (!keyring || keyring->empty()) {
    io.err << "credbroker-admin " << name << ": "
           << (keyring ? std::string("CREDBROKER_KEYS is not set") : keyring.error()) << "\n";
    return kExitConfig;
  }
  store::CredentialStore credentials(*redis, *keyring, crypto::system_random(),
                                     config->redis.key_prefix, log);
  if (name == "rotate") {
    io.out << "rotate: sealing under key " << keyring->primary().id << "\n";
    return rotate_status(rotate(credentials, *redis, io));
  }
  if (name == "stats") {
    return print_stats(stats(*config, credentials, *redis, system_clock()), io);
  }
  // purge-user
  store::FlowStore flows(*redis, *keyring, config->redis.key_prefix, crypto::system_random(), log);
  store::RefreshLock locks(*redis, crypto::system_random(), config->redis.key_prefix, log);
  store::RateLimiter rates(*redis, config->redis.key_prefix, log);
  audit::Events events(log, system_clock(), crypto::system_random(), audit::instance_name(),
                       config->audit, *redis);
  return print_purge(user,
                     purge_user(*config, user,
                                {.credentials = credentials,
                                 .flows = flows,
                                 .locks = locks,
                                 .rates = rates,
                                 .redis = *redis,
                                 .events = events}),
                     io);
}

}  // namespace credbroker::admin
