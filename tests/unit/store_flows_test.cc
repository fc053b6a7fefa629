// FlowStore against a real redis-server with the real sealing: round trip, single use under
// concurrency (GETDEL), TTL, the per-user cap, records that must not open, a disabled store, an
// outage, and what Redis gets to see (never the state, never the verifier in plaintext).
#define BOOST_TEST_MODULE store_flows
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <latch>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/hash.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/crypto/seal.h"
#include "shared/store/flow_store.h"
#include "shared/store/redis.h"
#include "tests/support/fakes/fakes.h"
#include "tests/support/servers/one_redis_server.h"
#include "tests/support/servers/redis_server.h"

namespace credbroker::store {
namespace {

using credbroker::testing::FreshServer;
using credbroker::testing::OneRedisServer;
using credbroker::testing::server;

using testing::CapturingSink;
using testing::RedisServer;

constexpr std::int64_t kT0 = 1'800'000'000;
constexpr char kVerifier[] = "VERIFIER-SENTINEL-5b0e1f7c9d2a4e6f8a1b3c5d7e9f0a2b4c6";
constexpr FlowLimits kLimits{.ttl_seconds = 600, .max_per_user = 16};

/** Passes commands through and counts them, to prove a store did not touch Redis. */
class CountingRedis final : public Redis {
 public:
  explicit CountingRedis(Redis& inner) : inner_(inner) {}
  Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) override {
    ++calls;
    return inner_.command(argv);
  }
  int calls = 0;

 private:
  Redis& inner_;
};

/** 32-byte keys whose bytes derive from the id, so two keyrings agree on "k1". */
crypto::Keyring keyring(std::initializer_list<std::string> ids) {
  std::vector<crypto::Key> keys;
  for (const auto& id : ids) keys.push_back(crypto::Key{id, std::string(32, id.back())});
  return crypto::Keyring(std::move(keys));
}

/**
 * The state connect would hand out, made for `user` under the name a test gives it the first time
 * the name is used, the same state ever after (the tests name states for readability). A real
 * state (it holds a '.') is itself.
 */
std::string state_for(const std::string& name, std::string_view user = "alice") {
  if (name.find('.') != std::string::npos) return name;
  static std::map<std::string, std::string> made;
  if (const auto it = made.find(name); it != made.end()) return it->second;
  static testing::FakeRedis unused;  // new_state touches no Redis
  static CapturingSink sink;
  static audit::Log log{sink, "test"};
  static const crypto::Keyring keys = keyring({"k1"});
  static FlowStore maker{unused, keys, "credbroker:", crypto::system_random(), log};
  return made[name] = maker.new_state(user);
}

PendingFlow flow(std::string user = "alice", std::string verifier = kVerifier) {
  return {.user = std::move(user),
          .server_key = "github_0123456789abcdef",
          .verifier = std::move(verifier),
          .redirect_uri = "https://cb.test/api/v1/user/credentials/github/callback",
          .issuer = "https://as.test",
          .created_at = kT0};
}

/** One FlowStore on its own hiredis connection, with its own keyring and log capture. */
struct Harness {
  explicit Harness(crypto::Keyring ring = keyring({"k1"}))
      : keys(std::move(ring)), client(make_hiredis(server().config())), redis(*client) {}

  CapturingSink sink;
  audit::Log log{sink, "test"};
  crypto::Keyring keys;
  std::unique_ptr<Redis> client;
  CountingRedis redis;
  FlowStore store{redis, keys, "credbroker:", crypto::system_random(), log};
};

std::optional<PendingFlow> taken(Harness& h, const std::string& state) {
  auto r = h.store.take(state_for(state));
  BOOST_TEST_REQUIRE(r.ok(), "take failed");
  return r.value();
}

void put_ok(Harness& h, const std::string& state, const PendingFlow& f,
            const FlowLimits& limits = kLimits) {
  BOOST_TEST_REQUIRE(h.store.put(state_for(state, f.user), f, limits).ok(), "put failed");
}

void check_same(const PendingFlow& got, const PendingFlow& want) {
  BOOST_TEST(got.user == want.user);
  BOOST_TEST(got.server_key == want.server_key);
  BOOST_TEST(got.verifier == want.verifier);
  BOOST_TEST(got.redirect_uri == want.redirect_uri);
  BOOST_TEST(got.issuer == want.issuer);
  BOOST_TEST(got.created_at == want.created_at);
}

bool exists(const std::string& key) {
  return server().cli({"EXISTS", key}).integer == 1;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

BOOST_AUTO_TEST_SUITE(encoding)

BOOST_AUTO_TEST_CASE(encode_then_decode_keeps_every_field) {
  PendingFlow f = flow("ünïcode \"user\"\x01", "v");
  f.issuer.clear();
  const auto back = decode_flow(encode_flow(f));
  BOOST_TEST_REQUIRE(back.has_value());
  check_same(*back, f);
}

BOOST_AUTO_TEST_CASE(anything_but_a_complete_flow_decodes_to_nothing) {
  for (
      const char* bad :
      {"", "null", "[]", "{", R"({})",
       R"({"user":"a","server_key":"s","verifier":"v","redirect_uri":"r","issuer":""})",
       R"({"user":"a","server_key":"s","verifier":"v","redirect_uri":"r","created_at":1})",
       R"({"user":1,"server_key":"s","verifier":"v","redirect_uri":"r","issuer":"","created_at":1})",
       R"({"user":"a","server_key":"s","verifier":"v","redirect_uri":"r","issuer":"","created_at":"1"})"}) {
    BOOST_TEST(!decode_flow(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(keys_hold_the_prefix_and_only_the_hash_of_the_state) {
  Harness h;
  const std::string state = state_for("state-1");
  BOOST_TEST(h.store.flow_key(state) ==
             "credbroker:u:{2bd806c97f0e00af1a1fc3328fa763a9}:flow:" + crypto::sha256_hex(state));
  BOOST_TEST(h.store.index_key("alice") == "credbroker:u:{2bd806c97f0e00af1a1fc3328fa763a9}:flows");
  // A state from before the tags (no '.') names its flow's old key.
  BOOST_TEST(h.store.flow_key("state-1") ==
             "credbroker:flow:f36b45ae818809ee24ae2489edabfe3cf2a12627b6929c07fc7a3b885d414d44");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(flows, FreshServer)

BOOST_AUTO_TEST_CASE(put_then_take_returns_every_field) {
  Harness h;
  const PendingFlow f = flow();
  put_ok(h, "state-1", f);
  const auto got = taken(h, "state-1");
  BOOST_TEST_REQUIRE(got.has_value());
  check_same(*got, f);
}

BOOST_AUTO_TEST_CASE(take_is_single_use) {
  Harness h;
  put_ok(h, "state-1", flow());
  BOOST_TEST(taken(h, "state-1").has_value());
  BOOST_TEST(!taken(h, "state-1").has_value());
  BOOST_TEST(!exists(h.store.flow_key(state_for("state-1"))));
}

BOOST_AUTO_TEST_CASE(take_uses_one_getdel_on_the_hashed_key) {
  Harness h;
  put_ok(h, "state-1", flow());
  server().cli({"CONFIG", "RESETSTAT"});
  BOOST_TEST(taken(h, "state-1").has_value());
  const std::string stats = server().cli({"INFO", "commandstats"}).str;
  BOOST_TEST(stats.find("cmdstat_getdel:calls=1,") != std::string::npos, stats);
  BOOST_TEST(stats.find("cmdstat_get:") == std::string::npos, "no GET then DEL race");
}

BOOST_AUTO_TEST_CASE(an_unknown_state_is_nothing) {
  Harness h;
  put_ok(h, "state-1", flow());
  BOOST_TEST(!taken(h, "state-2").has_value());
  BOOST_TEST(!taken(h, "").has_value());
  BOOST_TEST(taken(h, "state-1").has_value(), "the other flow is untouched");
}

BOOST_AUTO_TEST_CASE(take_removes_the_flow_from_the_users_index) {
  Harness h;
  put_ok(h, "state-1", flow());
  put_ok(h, "state-2", flow());
  BOOST_TEST(server().cli({"ZCARD", h.store.index_key("alice")}).integer == 2);
  BOOST_TEST(taken(h, "state-1").has_value());
  const auto members = server().cli({"ZRANGE", h.store.index_key("alice"), "0", "-1"});
  BOOST_TEST_REQUIRE(members.elements.size() == 1u);
  BOOST_TEST(members.elements[0].str == crypto::sha256_hex(state_for("state-2")));
}

BOOST_AUTO_TEST_CASE(concurrent_takes_from_separate_clients_yield_exactly_one_flow) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  Harness writer;
  for (int round = 0; round < kRounds; ++round) {
    const std::string state = "race-" + std::to_string(round);
    put_ok(writer, state, flow());
    std::atomic<int> winners{0}, failures{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        Harness mine;  // own hiredis connection, own log
        start.arrive_and_wait();
        auto r = mine.store.take(state_for(state));
        if (!r) {
          ++failures;
        } else if (r.value().has_value() && r.value()->verifier == kVerifier) {
          ++winners;
        }
      });
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(failures.load() == 0, "round " << round);
    BOOST_TEST(winners.load() == 1, "round " << round);
  }
}

BOOST_AUTO_TEST_CASE(concurrent_puts_for_one_user_leave_exactly_the_cap) {
  // Connects of one user on many processes at once: whatever the interleaving, the user ends with
  // exactly `cap` live flows (never more, and none dropped that the cap did not require), and the
  // index names exactly those. Each round is bounded; nothing here depends on timing.
  constexpr int kThreads = 6;
  constexpr int kPerThread = 5;
  constexpr int kRounds = 6;
  const FlowLimits limits{.ttl_seconds = 600, .max_per_user = 4};
  for (int round = 0; round < kRounds; ++round) {
    server().flushall();
    std::vector<std::string> states;
    for (int i = 0; i < kThreads * kPerThread; ++i) {
      states.push_back(state_for("r" + std::to_string(round) + "-" + std::to_string(i)));
    }
    std::atomic<int> failures{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Harness mine;  // own hiredis connection, own log
        start.arrive_and_wait();
        for (int i = 0; i < kPerThread; ++i) {
          if (!mine.store.put(states[t * kPerThread + i], flow(), limits)) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    BOOST_TEST_REQUIRE(failures.load() == 0, "round " << round);
    Harness h;
    int live = 0;
    for (const auto& s : states) live += exists(h.store.flow_key(state_for(s))) ? 1 : 0;
    BOOST_TEST(live == limits.max_per_user, "round " << round << ": live flows");
    BOOST_TEST(server().cli({"ZCARD", h.store.index_key("alice")}).integer == limits.max_per_user,
               "round " << round << ": index size");
  }
}

BOOST_AUTO_TEST_CASE(flow_and_index_expire_after_the_configured_ttl) {
  // TTL counts down in real time, so allow a minute of slack below the configured value.
  for (const std::int64_t ttl : {123, 4567}) {
    Harness h;
    const std::string state = "state-" + std::to_string(ttl);
    put_ok(h, state, flow(), {.ttl_seconds = ttl, .max_per_user = 16});
    for (const auto& key : {h.store.flow_key(state_for(state)), h.store.index_key("alice")}) {
      const auto left = server().cli({"TTL", key}).integer;
      BOOST_TEST(left <= ttl, key);
      BOOST_TEST(left > ttl - 60, key);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_cap_drops_the_oldest_flows_beyond_the_maximum) {
  Harness h;
  const FlowLimits limits{.ttl_seconds = 600, .max_per_user = 3};
  for (int i = 0; i < 5; ++i) {
    put_ok(h, "state-" + std::to_string(i), flow(), limits);
  }
  BOOST_TEST(server().cli({"ZCARD", h.store.index_key("alice")}).integer == 3);
  BOOST_TEST(!exists(h.store.flow_key(state_for("state-0"))));
  BOOST_TEST(!exists(h.store.flow_key(state_for("state-1"))));
  BOOST_TEST(h.sink.events("pending_flows_capped").size() == 2u);
  BOOST_TEST(!taken(h, "state-0").has_value());
  BOOST_TEST(!taken(h, "state-1").has_value());
  for (int i = 2; i < 5; ++i) BOOST_TEST(taken(h, "state-" + std::to_string(i)).has_value(), i);
}

BOOST_AUTO_TEST_CASE(the_cap_keeps_the_newest_flows_by_the_servers_clock) {
  // Flows are ordered by the Redis server's TIME inside the script, so connects served by hosts
  // whose clocks disagree cannot give the newest flow the lowest score.
  Harness h;
  const FlowLimits limits{.ttl_seconds = 600, .max_per_user = 2};
  put_ok(h, "state-0", flow(), limits);
  put_ok(h, "state-1", flow(), limits);
  put_ok(h, "state-2", flow(), limits);
  BOOST_TEST(server().cli({"ZCARD", h.store.index_key("alice")}).integer == 2);
  BOOST_TEST(taken(h, "state-2").has_value(), "the state just handed out still works");
  BOOST_TEST(taken(h, "state-1").has_value());
  BOOST_TEST(!taken(h, "state-0").has_value());
}

BOOST_AUTO_TEST_CASE(the_cap_never_drops_the_flow_just_stored_on_equal_timestamps) {
  for (int round = 0; round < 20; ++round) {
    Harness h;
    const FlowLimits limits{.ttl_seconds = 600, .max_per_user = 1};
    const std::string older = "older-" + std::to_string(round);
    const std::string newer = "newer-" + std::to_string(round);
    put_ok(h, older, flow(), limits);
    put_ok(h, newer, flow(), limits);  // same microsecond: Redis orders these by member bytes
    BOOST_TEST(taken(h, newer).has_value(), round);
    BOOST_TEST(!taken(h, older).has_value(), round);
  }
}

BOOST_AUTO_TEST_CASE(the_cap_counts_each_user_apart) {
  Harness h;
  const FlowLimits limits{.ttl_seconds = 600, .max_per_user = 2};
  put_ok(h, "bob-0", flow("bob"), limits);
  for (int i = 0; i < 4; ++i) {
    put_ok(h, "alice-" + std::to_string(i), flow("alice"), limits);
  }
  BOOST_TEST(taken(h, "bob-0").has_value());
  BOOST_TEST(!taken(h, "alice-1").has_value());
  BOOST_TEST(taken(h, "alice-3").has_value());
}

BOOST_AUTO_TEST_CASE(the_index_forgets_entries_older_than_the_ttl) {
  Harness h;
  // An entry scored 61 s before the server's now, as a flow stored then would be.
  const auto time = server().cli({"TIME"});
  const std::int64_t now_us =
      std::stoll(time.elements.at(0).str) * 1'000'000 + std::stoll(time.elements.at(1).str);
  server().cli({"ZADD", h.store.index_key("alice"), std::to_string(now_us - 61'000'000),
                crypto::sha256_hex("old")});
  put_ok(h, "new", flow(), {.ttl_seconds = 60, .max_per_user = 16});
  const auto members = server().cli({"ZRANGE", h.store.index_key("alice"), "0", "-1"});
  BOOST_TEST_REQUIRE(members.elements.size() == 1u);
  BOOST_TEST(members.elements[0].str == crypto::sha256_hex(state_for("new")));
}

BOOST_AUTO_TEST_CASE(the_same_state_twice_is_refused_and_the_first_flow_kept) {
  Harness h;
  put_ok(h, "state-1", flow("alice"));
  const auto second = h.store.put(state_for("state-1"), flow("alice", "other"), kLimits);
  BOOST_TEST_REQUIRE(!second.ok());
  BOOST_TEST((second.error() == StoreError::kUnavailable));
  // Nor can a state made for one user carry another user's flow.
  const auto third = h.store.put(state_for("state-1"), flow("mallory", "other"), kLimits);
  BOOST_TEST_REQUIRE(!third.ok());
  BOOST_TEST(h.sink.events("flow_state_refused").size() == 1u);
  const auto got = taken(h, "state-1");
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->user == "alice");
}

BOOST_AUTO_TEST_CASE(a_record_moved_under_another_states_key_does_not_open) {
  Harness h;
  put_ok(h, "state-a", flow("alice"));
  put_ok(h, "state-b", flow("mallory"));
  const std::string record_a = server().cli({"GET", h.store.flow_key(state_for("state-a"))}).str;
  server().cli({"SET", h.store.flow_key(state_for("state-b")), record_a});
  BOOST_TEST(!taken(h, "state-b").has_value());
  const auto lines = h.sink.events("flow_unreadable");
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("\"reason\":\"auth_failed\"") != std::string::npos, lines[0]);
  BOOST_TEST(taken(h, "state-a").has_value(), "the original still opens in its own place");
}

BOOST_AUTO_TEST_CASE(a_record_sealed_with_a_key_we_lack_does_not_open) {
  // The other store seals with k2 (its primary) and still reads k1, so the state's tag opens for
  // both; the record it stores does not open for a store that holds k1 only.
  Harness other(keyring({"k2", "k1"}));
  put_ok(other, "state-1", flow());
  Harness h(keyring({"k1"}));
  BOOST_TEST(!taken(h, "state-1").has_value());
  const auto lines = h.sink.events("flow_unreadable");
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].find("\"reason\":\"unknown_key_id\"") != std::string::npos, lines[0]);
}

BOOST_AUTO_TEST_CASE(a_rotated_keyring_still_opens_flows_sealed_with_the_old_key) {
  Harness old(keyring({"k1"}));
  put_ok(old, "state-1", flow());
  Harness h(keyring({"k2", "k1"}));
  BOOST_TEST(taken(h, "state-1").has_value());
}

BOOST_AUTO_TEST_CASE(a_garbage_record_is_nothing) {
  Harness h;
  server().cli({"SET", h.store.flow_key(state_for("state-1")), "garbage"});
  BOOST_TEST(!taken(h, "state-1").has_value());
  BOOST_TEST(h.sink.events("flow_unreadable").size() == 1u);
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_the_store_is_disabled_and_touches_no_redis) {
  Harness h{crypto::Keyring()};
  BOOST_TEST(!h.store.enabled());
  const auto put = h.store.put(state_for("state-1"), flow(), kLimits);
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error() == StoreError::kDisabled));
  const auto take = h.store.take(state_for("state-1"));
  BOOST_TEST_REQUIRE(!take.ok());
  BOOST_TEST((take.error() == StoreError::kDisabled));
  BOOST_TEST(h.redis.calls == 0);
}

BOOST_AUTO_TEST_CASE(redis_down_is_unavailable_and_logged) {
  Harness h;
  put_ok(h, "state-1", flow());
  server().stop();
  const auto put = h.store.put(state_for("state-2"), flow(), kLimits);
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error() == StoreError::kUnavailable));
  const auto take = h.store.take(state_for("state-1"));
  BOOST_TEST_REQUIRE(!take.ok());
  BOOST_TEST((take.error() == StoreError::kUnavailable));
  const auto lines = h.sink.events("redis_unavailable");
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(lines[0].find("\"op\":\"flow_put\"") != std::string::npos, lines[0]);
  BOOST_TEST(lines[1].find("\"op\":\"flow_take\"") != std::string::npos, lines[1]);
  server().start();
  put_ok(h, "state-3", flow());
  BOOST_TEST(taken(h, "state-3").has_value(), "the same store recovers once Redis is back");
}

BOOST_AUTO_TEST_CASE(a_state_whose_tag_does_not_open_is_nothing_and_asks_no_redis) {
  Harness h;
  put_ok(h, "state-1", flow());
  const std::string real = state_for("state-1");
  const std::string random_part = real.substr(0, real.find('.'));
  const int before = h.redis.calls;
  for (const std::string& forged : {random_part + ".", random_part + ".AAAA", random_part + ".!!",
                                    state_for("state-2").substr(0, 43) + real.substr(43)}) {
    BOOST_TEST(!taken(h, forged).has_value(), forged);
  }
  BOOST_TEST(h.redis.calls == before);
  BOOST_TEST(taken(h, "state-1").has_value());
}

BOOST_AUTO_TEST_CASE(a_flow_stored_before_the_tags_is_still_taken_once_by_its_old_state) {
  // Stored as the old layout did: "<prefix>flow:<sha256hex(state)>", sealed for its own id.
  Harness h;
  const std::string old_state = "b2xkLXN0YXRlLWJlZm9yZS10aGUtdGFncw";
  const std::string id = crypto::sha256_hex(old_state);
  server().cli({"SET", "credbroker:flow:" + id,
                crypto::seal(h.keys, crypto::system_random(),
                             {.user = id, .server_key = "", .kind = "flow"}, encode_flow(flow())),
                "EX", "600"});
  const auto got = h.store.take(old_state);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got.value().has_value());
  BOOST_TEST(got.value()->verifier == kVerifier);
  BOOST_TEST(!h.store.take(old_state).value().has_value(), "single use");
}

BOOST_AUTO_TEST_CASE(redis_never_sees_the_state_nor_the_verifier_in_plaintext) {
  Harness h;
  const std::vector<std::string> states = {"STATE-SENTINEL-0", "STATE-SENTINEL-1"};
  for (const auto& s : states) {
    put_ok(h, s, flow());
  }
  std::vector<std::string> seen;  // every key and every stored byte string
  for (const auto& key : server().cli({"KEYS", "*"}).elements) {
    seen.push_back(key.str);
    const std::string type = server().cli({"TYPE", key.str}).str;
    if (type == "string") {
      seen.push_back(server().cli({"GET", key.str}).str);
    } else if (type == "zset") {
      for (const auto& e : server().cli({"ZRANGE", key.str, "0", "-1", "WITHSCORES"}).elements) {
        seen.push_back(e.str);
      }
    } else {
      BOOST_FAIL("unexpected key type " << type);
    }
  }
  BOOST_TEST(seen.size() == 3u + 2 + 4, "three keys, two records, two index members and scores");
  for (const auto& s : seen) {
    for (const auto& name : states) {
      const std::string state = state_for(name);
      BOOST_TEST(s.find(state.substr(0, state.find('.'))) == std::string::npos, s);
      BOOST_TEST(s.find(state.substr(state.find('.') + 1)) == std::string::npos, s);
    }
    BOOST_TEST(s.find("VERIFIER-SENTINEL") == std::string::npos, s);
    BOOST_TEST(s.find("cb.test") == std::string::npos, "the whole record is sealed");
  }
  for (const auto& line : h.sink.lines) {
    BOOST_TEST(line.find("SENTINEL") == std::string::npos, line);
    for (const auto& name : states) {
      BOOST_TEST(line.find(state_for(name).substr(0, 20)) == std::string::npos, line);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::store
