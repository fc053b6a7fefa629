// credbroker-admin's cores (admin/admin.h) against a real redis-server with the real sealing:
// gen-key, rotate (resumable, idempotent, never overwriting or resurrecting a record changed
// meanwhile, also racing live writers and deleters), stats and purge-user; no output carries a
// token or key.
#define BOOST_TEST_MODULE admin
#include "admin/admin.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shared/audit/events.h"
#include "shared/audit/log.h"
#include "shared/crypto/base64.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/crypto/seal.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/rate_limiter.h"
#include "shared/store/redis.h"
#include "shared/store/refresh_lock.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "tests/support/servers/one_redis_server.h"
#include "tests/support/servers/redis_server.h"

namespace admin = credbroker::admin;
using credbroker::FixedClock;
using credbroker::Result;
using credbroker::audit::Log;
using credbroker::audit::Sink;
using credbroker::crypto::Key;
using credbroker::crypto::Keyring;
using credbroker::crypto::system_random;
using credbroker::store::Credential;
using credbroker::store::CredentialStore;
using credbroker::store::Redis;
using credbroker::store::RedisFailure;
using credbroker::store::Reply;
using credbroker::testing::RedisServer;

namespace {

using credbroker::testing::FreshServer;
using credbroker::testing::OneRedisServer;
using credbroker::testing::server;

class CapturingSink final : public Sink {
 public:
  void write(std::string_view line) override {
    std::lock_guard<std::mutex> hold(mutex_);
    lines.emplace_back(line);
  }
  std::string all() {
    std::lock_guard<std::mutex> hold(mutex_);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  std::vector<std::string> lines;

 private:
  std::mutex mutex_;
};

Key key(std::string id, char fill) {
  return Key{std::move(id), std::string(32, fill)};
}
Keyring ring(std::vector<Key> keys) {
  return Keyring(std::move(keys));
}

const std::string kOldKey = std::string(32, 'o');
const std::string kNewKey = std::string(32, 'n');

Credential credential(std::string_view token) {
  Credential c;
  c.access_token = "at-" + std::string(token);
  c.refresh_token = "rt-" + std::string(token);
  c.scopes = {"repo"};
  c.obtained_via = "connect_flow";
  c.updated_at = 1'700'000'000;
  return c;
}

std::string server_key(int i) {
  return "srv" + std::to_string(i) + "_0123456789abcdef";
}

/** The key id a stored record names, read straight from Redis. */
std::string stored_key_id(std::string_view user, std::string_view server_key,
                          const CredentialStore& store) {
  const Reply r = server().cli({"HGET", store.hash_key(user), std::string(server_key)});
  if (r.type != Reply::Type::kString) return "";
  auto id = credbroker::crypto::sealed_key_id(r.str);
  return id ? std::string(*id) : "malformed";
}

/** Everything an operator could see: what a subcommand printed and logged. */
void no_secrets_in(const std::string& text) {
  BOOST_TEST(text.find("at-") == std::string::npos);
  BOOST_TEST(text.find("rt-") == std::string::npos);
  BOOST_TEST(text.find(credbroker::crypto::base64_encode(kOldKey)) == std::string::npos);
  BOOST_TEST(text.find(credbroker::crypto::base64_encode(kNewKey)) == std::string::npos);
}

/** One test's parts: a keyring for the store under test and a client of its own. */
struct Parts {
  explicit Parts(std::vector<Key> keys)
      : keyring(ring(std::move(keys))),
        redis(credbroker::store::make_hiredis(server().config())),
        log(sink, "admin-test"),
        store(*redis, keyring, system_random(), "credbroker:", log) {}
  Keyring keyring;
  std::unique_ptr<Redis> redis;
  CapturingSink sink;
  Log log;
  CredentialStore store;
};

struct Captured {
  std::ostringstream out;
  std::ostringstream err;
  admin::Output io{out, err, false};
  std::string all() const { return out.str() + err.str(); }
};

/** Passes commands through; before the first compare-and-set write (the kPutIf script), runs the
 *  hook once (another process changing the record between the rotation's read and its write). */
class InterferingRedis final : public Redis {
 public:
  InterferingRedis(Redis& inner, std::function<void()> hook)
      : inner_(inner), hook_(std::move(hook)) {}
  Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) override {
    if (argv.size() > 1 && argv[0] == "EVALSHA" && argv[1] == kPutIfSha && hook_) {
      auto hook = std::move(hook_);
      hook_ = nullptr;
      hook();
    }
    return inner_.command(argv);
  }

 private:
  Redis& inner_;
  std::function<void()> hook_;
  const std::string kPutIfSha = credbroker::store::script_sha(credbroker::store::scripts::kPutIf);
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

struct Flushed {
  Flushed() {
    server().ensure_running();
    server().flushall();
  }
};

BOOST_FIXTURE_TEST_SUITE(gen_key, Flushed)

BOOST_AUTO_TEST_CASE(prints_an_entry_the_keyring_accepts_each_time_a_new_key) {
  FixedClock clock(1'764'633'600);  // 2025-12-02
  auto a = admin::gen_key(system_random(), clock);
  auto b = admin::gen_key(system_random(), clock);
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(a->starts_with("k20251202-"));
  BOOST_TEST(*a != *b);
  auto parsed = Keyring::parse(*a + "," + *b);
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed->primary().bytes.size() == 32u);
  auto named = admin::gen_key(system_random(), clock, "2026-q1");
  BOOST_REQUIRE(named.ok());
  BOOST_TEST(named->starts_with("2026-q1:"));
  BOOST_TEST(!admin::gen_key(system_random(), clock, "bad id").ok());
  BOOST_TEST(!admin::gen_key(system_random(), clock, "a:b").ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(rotate, Flushed)

BOOST_AUTO_TEST_CASE(reseals_everything_under_the_first_key_then_the_old_key_can_go) {
  Parts old_parts({key("old", 'o')});
  for (int u = 0; u < 7; ++u) {
    for (int s = 0; s < 3; ++s) {
      const std::string user = "user" + std::to_string(u);
      BOOST_REQUIRE(old_parts.store.put(user, server_key(s), credential(user + std::to_string(s))));
    }
  }
  Parts both({key("new", 'n'), key("old", 'o')});
  Captured first;
  const auto report = admin::rotate(both.store, *both.redis, first.io, 3);
  BOOST_TEST(admin::rotate_status(report) == admin::kExitOk);
  BOOST_TEST(report.users == 7);
  BOOST_TEST(report.records == 21);
  BOOST_TEST(report.resealed == 21);
  BOOST_TEST(first.out.str().find("rotate: 3/7 users\n") != std::string::npos);
  BOOST_TEST(first.out.str().find("rotate: 7/7 users\n") != std::string::npos);
  BOOST_TEST(first.out.str().find("every record is under the first key") != std::string::npos);

  // Idempotent, hence resumable: a second run finds nothing to do.
  Captured second;
  const auto again = admin::rotate(both.store, *both.redis, second.io);
  BOOST_TEST(again.resealed == 0);
  BOOST_TEST(again.current == 21);

  // The old key removed: every record opens, with its content.
  Parts new_only({key("new", 'n')});
  for (int u = 0; u < 7; ++u) {
    const std::string user = "user" + std::to_string(u);
    auto all = new_only.store.load_all(user);
    BOOST_REQUIRE(all.ok());
    BOOST_TEST(all->size() == 3u);
    for (int s = 0; s < 3; ++s) {
      BOOST_TEST(all->at(server_key(s)).access_token == "at-" + user + std::to_string(s));
      BOOST_TEST(stored_key_id(user, server_key(s), new_only.store) == "new");
    }
  }
  no_secrets_in(first.all() + second.all() + both.sink.all());
}

BOOST_AUTO_TEST_CASE(user_ids_with_glob_or_brace_characters_are_found_and_only_theirs) {
  Parts old_parts({key("old", 'o')});
  const std::vector<std::string> users = {"we*rd", "a}b", "[x]", "back\\slash", "q?"};
  for (const auto& user : users) {
    BOOST_REQUIRE(old_parts.store.put(user, server_key(1), credential(user)));
    BOOST_TEST(old_parts.store.user_of(old_parts.store.hash_key(user)).value_or("") == user);
  }
  // Not credential hashes: another prefix, another kind of key.
  server().cli({"SET", "other:cred:{mallory}", "x"});
  server().cli({"SET", "credbroker:flows:{mallory}", "x"});
  BOOST_TEST(!old_parts.store.user_of("credbroker:flows:{mallory}").has_value());
  BOOST_TEST(!old_parts.store.user_of("credbroker:cred:{mallory").has_value());
  Parts both({key("new", 'n'), key("old", 'o')});
  Captured c;
  const auto report = admin::rotate(both.store, *both.redis, c.io);
  BOOST_TEST(admin::rotate_status(report) == admin::kExitOk);
  BOOST_TEST(report.users == static_cast<std::int64_t>(users.size()));
  BOOST_TEST(report.resealed == static_cast<std::int64_t>(users.size()));
  for (const auto& user : users)
    BOOST_TEST(stored_key_id(user, server_key(1), both.store) == "new");
}

BOOST_AUTO_TEST_CASE(a_record_deleted_between_read_and_write_is_not_brought_back) {
  Parts old_parts({key("old", 'o')});
  BOOST_REQUIRE(old_parts.store.put("alice", server_key(1), credential("a1")));
  Parts both({key("new", 'n'), key("old", 'o')});
  InterferingRedis racing(*both.redis, [&] {
    server().cli({"HDEL", both.store.hash_key("alice"), server_key(1)});
  });
  CredentialStore store(racing, both.keyring, system_random(), "credbroker:", both.log);
  Captured c;
  const auto report = admin::rotate(store, racing, c.io);
  BOOST_TEST(report.resealed == 0);
  BOOST_TEST(report.gone == 1);
  BOOST_TEST(admin::rotate_status(report) == admin::kExitOk);
  BOOST_TEST(server().cli({"HEXISTS", store.hash_key("alice"), server_key(1)}).integer == 0);
}

BOOST_AUTO_TEST_CASE(a_record_rewritten_between_read_and_write_keeps_the_new_content) {
  Parts old_parts({key("old", 'o')});
  BOOST_REQUIRE(old_parts.store.put("alice", server_key(1), credential("stale")));
  Parts both({key("new", 'n'), key("old", 'o')});
  // A handler still on the old keyring refreshes the credential meanwhile.
  InterferingRedis racing(*both.redis, [&] {
    BOOST_REQUIRE(old_parts.store.put("alice", server_key(1), credential("fresh")));
  });
  CredentialStore store(racing, both.keyring, system_random(), "credbroker:", both.log);
  Captured c;
  const auto report = admin::rotate(store, racing, c.io);
  BOOST_TEST(report.retried == 1);
  BOOST_TEST(report.resealed == 1);  // the fresh record, on the second attempt
  auto loaded = both.store.load("alice", server_key(1));
  BOOST_REQUIRE(loaded.ok());
  BOOST_REQUIRE(loaded->has_value());
  BOOST_TEST((*loaded)->access_token == "at-fresh");
  BOOST_TEST(stored_key_id("alice", server_key(1), both.store) == "new");
}

BOOST_AUTO_TEST_CASE(a_record_under_no_key_held_is_left_alone_and_reported) {
  Parts lost({key("lost", 'l')});
  BOOST_REQUIRE(lost.store.put("bob", server_key(2), credential("b2")));
  Parts old_parts({key("old", 'o')});
  BOOST_REQUIRE(old_parts.store.put("bob", server_key(3), credential("b3")));
  const Reply before = server().cli({"HGET", lost.store.hash_key("bob"), server_key(2)});
  Parts both({key("new", 'n'), key("old", 'o')});
  Captured c;
  const auto report = admin::rotate(both.store, *both.redis, c.io);
  BOOST_TEST(report.unopenable == 1);
  BOOST_TEST(report.resealed == 1);
  BOOST_TEST(admin::rotate_status(report) == admin::kExitFailed);
  BOOST_TEST(server().cli({"HGET", lost.store.hash_key("bob"), server_key(2)}).str == before.str);
  no_secrets_in(c.all() + both.sink.all());
}

BOOST_AUTO_TEST_CASE(a_terminal_gets_a_progress_bar) {
  Parts old_parts({key("old", 'o')});
  BOOST_REQUIRE(old_parts.store.put("carol", server_key(1), credential("c1")));
  Parts both({key("new", 'n'), key("old", 'o')});
  Captured c;
  c.io.terminal = true;
  admin::rotate(both.store, *both.redis, c.io);
  BOOST_TEST(c.out.str().find("\r[##############################] 100% 1/1 users\n") !=
             std::string::npos);
  BOOST_TEST(c.out.str().find("rotate: 1/1 users") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(redis_down_is_its_own_exit_status) {
  Parts both({key("new", 'n'), key("old", 'o')});
  server().stop();
  Captured c;
  const auto report = admin::rotate(both.store, *both.redis, c.io);
  server().start();
  BOOST_TEST(report.redis_failed);
  BOOST_TEST(admin::rotate_status(report) == admin::kExitRedis);
}

// Handlers keep connecting, refreshing and disconnecting while the rotation runs (they already
// hold the new keyring, as the runbook orders). Each (user, server) has one writer, which knows
// the last thing it did; afterwards every record is exactly that, and opens under the new key
// alone.
BOOST_AUTO_TEST_CASE(racing_live_connects_and_deletes_nothing_lost_nothing_resurrected) {
  constexpr int kUsers = 24;
  constexpr int kServers = 4;
  constexpr int kWriters = 3;
  constexpr int kOpsPerWriter = 300;
  {
    Parts old_parts({key("old", 'o')});
    for (int u = 0; u < kUsers; ++u) {
      for (int s = 0; s < kServers; ++s) {
        const std::string user = "u" + std::to_string(u);
        BOOST_REQUIRE(old_parts.store.put(user, server_key(s), credential(user + "-seed")));
      }
    }
  }
  // expected[user][server] = the last token written, or "" after a delete.
  std::vector<std::map<std::string, std::map<std::string, std::string>>> expected(kWriters);
  std::atomic<int> failures{0};
  std::atomic<bool> rotation_done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Parts parts({key("new", 'n'), key("old", 'o')});
      auto& mine = expected[w];
      for (int u = w; u < kUsers; u += kWriters) {
        for (int s = 0; s < kServers; ++s) {
          mine["u" + std::to_string(u)][server_key(s)] = "u" + std::to_string(u) + "-seed";
        }
      }
      // Bounded: kOpsPerWriter operations, plus at most as many again until the rotation ends.
      for (int i = 0; i < 2 * kOpsPerWriter && (i < kOpsPerWriter || !rotation_done); ++i) {
        const int u = w + kWriters * (i % ((kUsers + kWriters - 1 - w) / kWriters));
        const int s = (i / 7) % kServers;
        const std::string user = "u" + std::to_string(u);
        if (i % 3 == 2) {
          if (!parts.store.remove(user, server_key(s))) ++failures;
          mine[user][server_key(s)] = "";
        } else {
          const std::string token = user + "-w" + std::to_string(i);
          if (!parts.store.put(user, server_key(s), credential(token))) ++failures;
          mine[user][server_key(s)] = token;
        }
      }
    });
  }
  Parts both({key("new", 'n'), key("old", 'o')});
  Captured c;
  const auto report = admin::rotate(both.store, *both.redis, c.io);
  rotation_done = true;
  for (auto& t : writers) t.join();
  BOOST_TEST_MESSAGE("first pass: resealed=" << report.resealed << " current=" << report.current
                                             << " gone=" << report.gone
                                             << " retried=" << report.retried);
  BOOST_TEST(failures == 0);
  BOOST_TEST(!report.redis_failed);
  BOOST_TEST(report.unopenable == 0);
  // Whatever the writers left under the old key (none: they seal under the new one) and whatever
  // the first pass missed as busy, a second pass finishes.
  Captured again;
  const auto second = admin::rotate(both.store, *both.redis, again.io);
  BOOST_TEST(admin::rotate_status(second) == admin::kExitOk);
  BOOST_TEST(second.resealed + second.busy == report.busy);

  Parts new_only({key("new", 'n')});
  for (const auto& mine : expected) {
    for (const auto& [user, servers] : mine) {
      auto all = new_only.store.load_all(user);
      BOOST_REQUIRE(all.ok());
      const auto fields = server().cli({"HLEN", new_only.store.hash_key(user)}).integer;
      BOOST_TEST(static_cast<std::size_t>(fields) == all->size());  // every record opens
      for (const auto& [server_key, token] : servers) {
        const auto it = all->find(server_key);
        if (token.empty()) {
          BOOST_TEST((it == all->end()), user << " " << server_key << " was brought back");
        } else {
          BOOST_TEST_REQUIRE((it != all->end()), user << " " << server_key << " was lost");
          BOOST_TEST(it->second.access_token == "at-" + token);
        }
      }
    }
  }
  no_secrets_in(c.all() + again.all() + both.sink.all());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

credbroker::config::Config two_servers() {
  auto parsed = credbroker::config::parse(R"({
    "public_base_url": "https://broker.example.com",
    "identity": {"issuer": "https://idp.example.com", "audience": "credbroker",
                 "jwks_file": "/nonexistent/jwks.json"},
    "servers": [
      {"name": "github", "url": "https://mcp.github.example/mcp",
       "auth_broker": {"mode": "oauth_connect",
         "authorization_endpoint": "https://github.example/authorize",
         "token_endpoint": "https://github.example/token",
         "client_id": "gh", "client_secret": "gh-client-secret"}},
      {"name": "jira", "url": "https://jira.example/mcp",
       "auth_broker": {"mode": "oauth_connect",
         "authorization_endpoint": "https://jira.example/authorize",
         "token_endpoint": "https://jira.example/token",
         "client_id": "jira", "client_secret": "jira-client-secret"}}
    ]})",
                                          [](std::string_view) { return std::nullopt; });
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error()));
  return std::move(parsed.value());
}

const credbroker::config::Server& named(const credbroker::config::Config& config,
                                        std::string_view name) {
  return *config.find_brokered(name);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stats, Flushed)

BOOST_AUTO_TEST_CASE(counts_per_server_and_status_without_user_ids) {
  const auto config = two_servers();
  const std::string github = named(config, "github").key;
  const std::string jira = named(config, "jira").key;
  Parts parts({key("new", 'n')});
  FixedClock clock(1'800'000'000);
  Credential live = credential("live");
  live.expires_at = 1'800'003'600;
  Credential dead = credential("dead");
  dead.refresh_token.clear();
  dead.expires_at = 1'700'000'000;  // expired, nothing to refresh it
  Credential refused = credential("refused");
  refused.access_token.clear();
  refused.refresh_token.clear();
  refused.reconnect_required = true;
  BOOST_REQUIRE(parts.store.put("secret-user-1", github, live));
  BOOST_REQUIRE(parts.store.put("secret-user-1", jira, dead));
  BOOST_REQUIRE(parts.store.put("secret-user-2", github, refused));
  BOOST_REQUIRE(parts.store.put("secret-user-3", "gone_00000000deadbeef", live));
  Parts other({key("other", 'x')});
  BOOST_REQUIRE(other.store.put("secret-user-3", github, live));

  const auto s = admin::stats(config, parts.store, *parts.redis, clock);
  BOOST_TEST(!s.redis_failed);
  BOOST_TEST(s.users == 3);
  BOOST_TEST(s.records == 5);
  BOOST_TEST(s.servers.at(github).connected == 1);
  BOOST_TEST(s.servers.at(github).expired == 1);
  BOOST_TEST(s.servers.at(github).reconnect_required == 1);
  BOOST_TEST(s.servers.at(github).unopenable == 1);
  BOOST_TEST(s.servers.at(jira).expired == 1);
  BOOST_TEST(s.servers.at("gone_00000000deadbeef").name == "(unconfigured gone_00000000deadbeef)");

  Captured c;
  BOOST_TEST(admin::print_stats(s, c.io) == admin::kExitOk);
  BOOST_TEST(c.out.str().find("users 3\nrecords 5\n") != std::string::npos);
  BOOST_TEST(c.out.str().find("secret-user") == std::string::npos);
  no_secrets_in(c.all());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(purge_user, Flushed)

BOOST_AUTO_TEST_CASE(removes_every_record_flow_lock_and_counter_of_one_user_only) {
  const auto config = two_servers();
  const std::string github = named(config, "github").key;
  Parts parts({key("new", 'n')});
  FixedClock clock(1'800'000'000);
  credbroker::store::FlowStore flows(*parts.redis, parts.keyring, "credbroker:", system_random(),
                                     parts.log);
  credbroker::store::RefreshLock locks(*parts.redis, system_random(), "credbroker:", parts.log);
  credbroker::store::RateLimiter rates(*parts.redis, "credbroker:", parts.log);
  credbroker::config::Audit audit_config{.redis_stream = "credbroker:audit"};
  credbroker::audit::Events events(parts.log, clock, system_random(), "test:1", audit_config,
                                   *parts.redis);

  // "a*" is a glob: purging it must not touch "ab".
  std::map<std::string, std::string> first_state;
  for (const std::string user : {"a*", "ab"}) {
    BOOST_REQUIRE(parts.store.put(user, github, credential(user)));
    BOOST_REQUIRE(parts.store.put(user, "gone_00000000deadbeef", credential(user)));
    credbroker::store::PendingFlow flow{
        .user = user, .server_key = github, .verifier = "verifier-" + user};
    first_state[user] = flows.new_state(user);
    BOOST_REQUIRE(flows.put(first_state[user], flow, {}));
    BOOST_REQUIRE(flows.put(flows.new_state(user), flow, {}));
    BOOST_REQUIRE(locks.try_acquire(user, github, 60'000));
    BOOST_REQUIRE(rates.hit(user, "connect", 20, clock.now_seconds()));
  }
  const auto keys_before = server().cli({"DBSIZE"}).integer;

  const auto report = admin::purge_user(config, "a*",
                                        {.credentials = parts.store,
                                         .flows = flows,
                                         .locks = locks,
                                         .rates = rates,
                                         .redis = *parts.redis,
                                         .events = events});
  BOOST_TEST(!report.redis_failed);
  BOOST_TEST(report.servers.size() == 2u);
  BOOST_TEST(report.flows == 2);
  BOOST_TEST(report.locks == 1);
  BOOST_TEST(report.counters == 1);
  // 1 hash + 2 flows + 1 index + 1 lock + 1 counter gone; the audit stream is one key more, and
  // so are the user's generations, which the purge moved on: a purged record put back from a
  // backup does not open.
  BOOST_TEST(server().cli({"DBSIZE"}).integer == keys_before - 6 + 2);
  BOOST_TEST(server().cli({"HLEN", parts.store.generation_key("a*")}).integer == 2);
  BOOST_TEST(server().cli({"EXISTS", parts.store.hash_key("a*")}).integer == 0);
  BOOST_TEST(server().cli({"EXISTS", flows.index_key("a*")}).integer == 0);
  BOOST_TEST(server().cli({"EXISTS", locks.lock_key("a*", github)}).integer == 0);
  BOOST_TEST(server().cli({"HLEN", parts.store.hash_key("ab")}).integer == 2);
  BOOST_TEST(server().cli({"ZCARD", flows.index_key("ab")}).integer == 2);
  BOOST_TEST(server().cli({"EXISTS", locks.lock_key("ab", github)}).integer == 1);
  auto ab_flow = flows.take(first_state["ab"]);
  BOOST_REQUIRE(ab_flow.ok());
  BOOST_TEST(ab_flow->has_value());

  // The audit trail: one "purged" per removed record, in the log and the stream.
  const std::string log = parts.sink.all();
  BOOST_TEST(log.find(R"("audit_event":"purged")") != std::string::npos);
  BOOST_TEST(log.find(R"("server":"github")") != std::string::npos);
  BOOST_TEST(log.find(R"x("server":"(unconfigured gone_00000000deadbeef)")x") != std::string::npos);
  BOOST_TEST(server().cli({"XLEN", "credbroker:audit"}).integer == 2);

  Captured c;
  BOOST_TEST(admin::print_purge("a*", report, c.io) == admin::kExitOk);
  BOOST_TEST(c.out.str().find("credentials=2 flows=2 locks=1 rate_counters=1") !=
             std::string::npos);
  no_secrets_in(c.all() + log);
  BOOST_TEST((c.all() + log).find("verifier-") == std::string::npos);

  // Idempotent: nothing left, one "purged" with server "*".
  const auto again = admin::purge_user(config, "a*",
                                       {.credentials = parts.store,
                                        .flows = flows,
                                        .locks = locks,
                                        .rates = rates,
                                        .redis = *parts.redis,
                                        .events = events});
  BOOST_TEST(again.servers.empty());
  BOOST_TEST(server().cli({"XLEN", "credbroker:audit"}).integer == 3);
}

BOOST_AUTO_TEST_CASE(redis_down_fails_with_its_exit_status) {
  const auto config = two_servers();
  Parts parts({key("new", 'n')});
  FixedClock clock(1'800'000'000);
  credbroker::store::FlowStore flows(*parts.redis, parts.keyring, "credbroker:", system_random(),
                                     parts.log);
  credbroker::store::RefreshLock locks(*parts.redis, system_random(), "credbroker:", parts.log);
  credbroker::store::RateLimiter rates(*parts.redis, "credbroker:", parts.log);
  credbroker::config::Audit audit_config;
  credbroker::audit::Events events(parts.log, clock, system_random(), "test:1", audit_config,
                                   *parts.redis);
  server().stop();
  const auto report = admin::purge_user(config, "alice",
                                        {.credentials = parts.store,
                                         .flows = flows,
                                         .locks = locks,
                                         .rates = rates,
                                         .redis = *parts.redis,
                                         .events = events});
  server().start();
  BOOST_TEST(report.redis_failed);
  Captured c;
  BOOST_TEST(admin::print_purge("alice", report, c.io) == admin::kExitRedis);
  BOOST_TEST(parts.sink.all().find(R"("outcome":"failed")") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
