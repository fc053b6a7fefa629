#include "admin/admin.h"

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <optional>
#include <set>

#include "shared/broker/lifecycle.h"
#include "shared/crypto/base64.h"
#include "shared/crypto/cleanse.h"
#include "shared/identity/authenticator.h"
#include "shared/oauth/token_client.h"
#include "shared/store/keyspace.h"
#include "shared/util/strings.h"

namespace credbroker::admin {

namespace {

std::string_view failure_kind(store::RedisError e) {
  return e == store::RedisError::kUnreachable ? "unreachable" : "rejected";
}

/** Every user that has a credential hash, each once, in key order. */
Result<std::vector<std::string>, store::RedisFailure> all_users(store::CredentialStore& credentials,
                                                                store::Redis& redis) {
  std::set<std::string> users;  // SCAN may return a key twice
  auto walked = store::scan_keys(redis, credentials.scan_pattern(), [&](const std::string& key) {
    if (auto user = credentials.user_of(key)) users.insert(std::move(*user));
    return true;
  });
  if (!walked) return Err(walked.error());
  return std::vector<std::string>(users.begin(), users.end());
}

/** The configured name of a server key, or "(unconfigured <key>)". */
std::string server_label(const config::Config& config, std::string_view server_key) {
  for (const auto& server : config.servers) {
    if (server.key == server_key) return server.name;
  }
  return "(unconfigured " + std::string(server_key) + ")";
}

const config::Server* configured(const config::Config& config, std::string_view server_key) {
  for (const auto& server : config.servers) {
    if (server.key == server_key && server.auth_broker) return &server;
  }
  return nullptr;
}

class Progress {
 public:
  Progress(Output& io, std::int64_t total, std::int64_t line_every)
      : io_(io), total_(total), line_every_(std::max<std::int64_t>(line_every, 1)) {}

  void update(std::int64_t done) {
    if (io_.terminal) {
      const int percent = total_ == 0 ? 100 : static_cast<int>(done * 100 / total_);
      if (percent == last_percent_ && done != total_) return;
      last_percent_ = percent;
      constexpr int kWidth = 30;
      const int filled = percent * kWidth / 100;
      io_.out << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, ' ') << "] "
              << std::setw(3) << percent << "% " << done << "/" << total_ << " users" << std::flush;
    } else if (done % line_every_ == 0 || done == total_) {
      io_.out << "rotate: " << done << "/" << total_ << " users\n" << std::flush;
    }
  }
  void finish() {
    if (io_.terminal) io_.out << "\n";
  }

 private:
  Output& io_;
  std::int64_t total_;
  std::int64_t line_every_;
  int last_percent_ = -1;
};

}  // namespace

Result<std::string, std::string> gen_key(crypto::Random& random, const Clock& clock,
                                         std::string_view id) {
  std::string chosen(id);
  if (chosen.empty()) {
    const std::time_t t = static_cast<std::time_t>(clock.now_seconds());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char date[16] = {};
    std::strftime(date, sizeof date, "%Y%m%d", &tm);
    chosen = "k" + std::string(date) + "-" + to_hex(random.bytes(3));
  }
  std::string material = random.bytes(32);
  std::string entry = chosen + ":" + crypto::base64_encode(material);
  crypto::cleanse(material);
  // The one parser of CREDBROKER_KEYS says whether the entry is usable (the id, mostly).
  if (auto parsed = crypto::Keyring::parse(entry); !parsed) {
    crypto::cleanse(entry);
    return Err(std::string("invalid key id: 1 to 64 characters of [A-Za-z0-9._-]"));
  }
  return entry;
}

std::vector<CheckRow> check_config(const config::Config& config,
                                   const Result<crypto::Keyring, std::string>& keyring,
                                   CheckParts parts) {
  std::vector<CheckRow> rows;

  if (!keyring) {
    rows.push_back({"keys", "CREDBROKER_KEYS", false, keyring.error()});
  } else if (keyring->empty()) {
    rows.push_back({"keys", "CREDBROKER_KEYS", false, "not set: the store would be unavailable"});
  } else {
    rows.push_back(
        {"keys", "CREDBROKER_KEYS", true, "first key (seals): " + keyring->primary().id});
  }

  if (auto pong = parts.redis.command({"PING"}); !pong) {
    rows.push_back({"redis", "redis.url", false,
                    std::string(failure_kind(pong.error().kind)) +
                        (pong.error().detail.empty() ? "" : ": " + pong.error().detail)});
  } else {
    rows.push_back({"redis", "redis.url", true, "PING answered"});
  }

  const auto key_row = [&](std::string_view check, const config::Identity& identity,
                           std::string_view section) {
    const std::string target = !identity.hmac_secret_env.empty() ? identity.hmac_secret_env
                               : !identity.jwks_url.empty()      ? identity.jwks_url
                               : !identity.jwks_file.empty()     ? identity.jwks_file
                               : !identity.public_key_pem_file.empty()
                                   ? identity.public_key_pem_file
                                   : std::string(section) + ".alb";
    auto source = identity::make_key_source(identity, parts.http, section);
    if (!source) {
      rows.push_back({std::string(check), target, false, source.error()});
      return;
    }
    if (identity.alb) {
      // ALB keys are fetched per kid when a token names one: nothing to load ahead.
      rows.push_back({std::string(check), target, true, "configured (keys are fetched per kid)"});
      return;
    }
    auto keys = (*source)->keys(parts.clock.now_seconds());
    if (!keys) {
      rows.push_back({std::string(check), target, false, keys.error()});
    } else {
      rows.push_back({std::string(check), target, true,
                      std::to_string((*keys)->keys.size()) + " verification key(s)"});
    }
  };
  key_row("identity_keys", config.identity, "identity");
  if (config.resolve) key_row("resolve_keys", config.resolve->verifier, "resolve");

  for (const config::Server* server : config.brokered()) {
    auto probed = oauth::probe_token_endpoint(parts.http, *server->auth_broker);
    if (probed) {
      rows.push_back({"token_endpoint", server->name, true, "answers as a token endpoint"});
      continue;
    }
    const oauth::TokenError& e = probed.error();
    std::string detail = oauth::label(e);
    if (e.kind == oauth::TokenErrorKind::kHttpStatus) {
      detail += " " + std::to_string(e.http_status);
      if (!e.oauth_error.empty()) detail += " " + e.oauth_error;
      if (e.oauth_error == "invalid_client") detail += " (client authentication refused)";
    }
    rows.push_back({"token_endpoint", server->name, false, detail});
  }
  return rows;
}

int print_checks(const std::vector<CheckRow>& rows, Output& io) {
  std::size_t check_width = 5;
  std::size_t target_width = 6;
  for (const auto& row : rows) {
    check_width = std::max(check_width, row.check.size());
    target_width = std::max(target_width, row.target.size());
  }
  const auto line = [&](std::string_view check, std::string_view target, std::string_view result,
                        std::string_view detail) {
    io.out << std::left << std::setw(static_cast<int>(check_width)) << check << "  "
           << std::setw(static_cast<int>(target_width)) << target << "  " << std::setw(6) << result
           << "  " << detail << "\n";
  };
  line("check", "target", "result", "detail");
  bool all_ok = true;
  for (const auto& row : rows) {
    line(row.check, row.target, row.ok ? "ok" : "FAIL", row.detail);
    all_ok = all_ok && row.ok;
  }
  io.out << std::flush;
  return all_ok ? kExitOk : kExitFailed;
}

RotateReport rotate(store::CredentialStore& credentials, store::Redis& redis, Output& io,
                    std::int64_t line_every) {
  RotateReport report;
  auto users = all_users(credentials, redis);
  if (!users) {
    io.err << "rotate: cannot scan Redis: " << failure_kind(users.error().kind) << "\n";
    report.redis_failed = true;
    return report;
  }
  Progress progress(io, static_cast<std::int64_t>(users->size()), line_every);
  for (const std::string& user : *users) {
    auto keys = credentials.server_keys(user);
    if (!keys) {
      report.redis_failed = true;
      break;
    }
    for (const std::string& server_key : *keys) {
      ++report.records;
      bool settled = false;
      for (int attempt = 0; attempt < kResealAttempts && !settled; ++attempt) {
        auto outcome = credentials.reseal(user, server_key);
        if (!outcome) {
          report.redis_failed = true;
          break;
        }
        settled = true;
        switch (*outcome) {
          case store::CredentialStore::Reseal::kCurrent:
            ++report.current;
            break;
          case store::CredentialStore::Reseal::kResealed:
            ++report.resealed;
            break;
          case store::CredentialStore::Reseal::kGone:
            ++report.gone;
            break;
          case store::CredentialStore::Reseal::kUnopenable:
            ++report.unopenable;
            break;
          case store::CredentialStore::Reseal::kChanged:
            ++report.retried;
            settled = false;
            break;
        }
      }
      if (report.redis_failed) break;
      if (!settled) ++report.busy;
    }
    if (report.redis_failed) break;
    ++report.users;
    progress.update(report.users);
  }
  progress.finish();
  io.out << "rotate: users=" << report.users << " records=" << report.records
         << " resealed=" << report.resealed << " already_current=" << report.current
         << " gone=" << report.gone << " retried=" << report.retried << " busy=" << report.busy
         << " unopenable=" << report.unopenable << "\n";
  if (report.redis_failed) {
    io.err << "rotate: Redis failed midway; run it again (records done stay done)\n";
  } else if (report.busy > 0) {
    io.out << "rotate: some records kept changing; run it again\n";
  } else if (report.unopenable > 0) {
    io.out << "rotate: some records open under no key held (logged as credential_unreadable); "
              "they never will\n";
  } else {
    io.out << "rotate: every record is under the first key\n";
  }
  io.out << std::flush;
  return report;
}

int rotate_status(const RotateReport& report) {
  if (report.redis_failed) return kExitRedis;
  return report.busy == 0 && report.unopenable == 0 ? kExitOk : kExitFailed;
}

Stats stats(const config::Config& config, store::CredentialStore& credentials, store::Redis& redis,
            const Clock& clock) {
  Stats out;
  for (const config::Server* server : config.brokered()) {
    out.servers[server->key].name = server->name;
  }
  auto users = all_users(credentials, redis);
  if (!users) {
    out.redis_failed = true;
    return out;
  }
  const std::int64_t now = clock.now_seconds();
  for (const std::string& user : *users) {
    auto keys = credentials.server_keys(user);
    auto opened = credentials.load_all(user);
    if (!keys || !opened) {
      out.redis_failed = true;
      return out;
    }
    if (keys->empty()) continue;
    ++out.users;
    for (const std::string& server_key : *keys) {
      ++out.records;
      ServerStats& row = out.servers[server_key];
      if (row.name.empty()) row.name = server_label(config, server_key);
      const auto it = opened->find(server_key);
      if (it == opened->end()) {
        ++row.unopenable;
        continue;
      }
      const config::Server* server = configured(config, server_key);
      const std::string_view status =
          server ? broker::list_status(it->second, *server->auth_broker, now) : "expired";
      if (status == "connected") {
        ++row.connected;
      } else {
        ++row.expired;
      }
      if (it->second.reconnect_required) ++row.reconnect_required;
    }
  }
  return out;
}

int print_stats(const Stats& stats, Output& io) {
  if (stats.redis_failed) {
    io.err << "stats: Redis failed\n";
    return kExitRedis;
  }
  io.out << "users " << stats.users << "\nrecords " << stats.records << "\n";
  std::size_t width = 6;
  for (const auto& [key, row] : stats.servers) width = std::max(width, row.name.size());
  std::vector<const ServerStats*> rows;
  for (const auto& [key, row] : stats.servers) rows.push_back(&row);
  std::sort(rows.begin(), rows.end(),
            [](const ServerStats* a, const ServerStats* b) { return a->name < b->name; });
  io.out << std::left << std::setw(static_cast<int>(width)) << "server"
         << "  connected  expired  reconnect_required  unopenable\n";
  for (const ServerStats* row : rows) {
    io.out << std::left << std::setw(static_cast<int>(width)) << row->name << "  " << std::right
           << std::setw(9) << row->connected << "  " << std::setw(7) << row->expired << "  "
           << std::setw(18) << row->reconnect_required << "  " << std::setw(10) << row->unopenable
           << "\n";
  }
  io.out << std::flush;
  return kExitOk;
}

PurgeReport purge_user(const config::Config& config, std::string_view user, PurgeParts parts) {
  PurgeReport report;
  parts.events.start_request(std::nullopt);
  const auto fail = [&]() {
    report.redis_failed = true;
    parts.events.record(
        {.kind = audit::EventKind::kPurged, .user = user, .server = "*", .outcome = "failed"});
    return report;
  };

  auto removed = parts.credentials.remove_all(user);
  if (!removed) return fail();
  for (const std::string& key : *removed) report.servers.push_back(server_label(config, key));

  auto flows = parts.flows.purge_user(user);
  if (!flows) return fail();
  report.flows = *flows;

  const auto delete_matching = [&](const std::string& pattern, std::int64_t& count) {
    std::vector<std::string> keys;
    auto walked = store::scan_keys(parts.redis, pattern, [&](const std::string& key) {
      keys.push_back(key);
      return true;
    });
    if (!walked) return false;
    for (const std::string& key : keys) {
      auto deleted = parts.redis.command({"DEL", key});
      if (!deleted) return false;
      count += deleted->integer;
    }
    return true;
  };
  if (!delete_matching(parts.locks.user_pattern(user), report.locks)) return fail();
  if (!delete_matching(parts.rates.user_pattern(user), report.counters)) return fail();

  if (report.servers.empty()) {
    parts.events.record(
        {.kind = audit::EventKind::kPurged, .user = user, .server = "*", .outcome = "ok"});
  }
  for (const std::string& server : report.servers) {
    parts.events.record(
        {.kind = audit::EventKind::kPurged, .user = user, .server = server, .outcome = "ok"});
  }
  return report;
}

int print_purge(std::string_view user, const PurgeReport& report, Output& io) {
  if (report.redis_failed) {
    io.err << "purge-user: Redis failed; run it again (it is idempotent)\n";
    return kExitRedis;
  }
  io.out << "purge-user " << user << ": credentials=" << report.servers.size()
         << " flows=" << report.flows << " locks=" << report.locks
         << " rate_counters=" << report.counters << "\n";
  for (const std::string& server : report.servers) io.out << "  removed " << server << "\n";
  io.out << std::flush;
  return kExitOk;
}

}  // namespace credbroker::admin
