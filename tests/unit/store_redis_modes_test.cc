// The Redis client in every mode against real deployments on loopback started here (once per
// suite): TLS with a test CA and a client certificate, an ACL user allowed only the commands
// credbroker sends, a 3-primary Cluster with a slot migration during a run, and primary + replica
// + 3 sentinels losing the primary mid-run.
#define BOOST_TEST_MODULE store_redis_modes
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <thread>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/rate_limiter.h"
#include "shared/store/redis.h"
#include "shared/store/redis_cluster.h"
#include "shared/store/refresh_lock.h"
#include "tests/support/fakes/fakes.h"
#include "tests/support/servers/redis_deployments.h"

using credbroker::config::Redis;
using credbroker::store::make_hiredis;
using credbroker::store::RedisError;
using credbroker::store::Reply;
using namespace credbroker::testing;
namespace cluster = credbroker::store::cluster;

namespace {

struct Deployments {
  std::optional<TestCa> ca;
  int tls_port = 0;
  std::optional<RedisServer> tls;
  std::optional<RedisClusterDeployment> cluster;
  std::optional<RedisSentinelDeployment> sentinel;
};
Deployments& d() {
  static Deployments deployments;
  return deployments;
}

/** Started on first use, stopped at the end of the suite. */
RedisServer& tls_server() {
  if (!d().tls) {
    d().ca.emplace();
    d().tls_port = free_port();
    d().tls.emplace(RedisServerOptions{.extra_args = d().ca->server_args(d().tls_port)});
  }
  return *d().tls;
}
RedisClusterDeployment& cluster_deployment() {
  if (!d().cluster) d().cluster.emplace();
  return *d().cluster;
}
RedisSentinelDeployment& sentinel_deployment() {
  if (!d().sentinel) d().sentinel.emplace();
  return *d().sentinel;
}

struct StopAll {
  ~StopAll() {
    d().sentinel.reset();
    d().cluster.reset();
    d().tls.reset();
    d().ca.reset();
  }
};

Redis tls_config(const std::string& host) {
  tls_server();
  Redis c = redis_config("rediss://" + host + ":" + std::to_string(d().tls_port) + "/0");
  c.endpoint.tls.ca_file = d().ca->ca_file();
  c.endpoint.tls.cert_file = d().ca->client_cert();
  c.endpoint.tls.key_file = d().ca->client_key();
  c.connect_timeout_ms = 2000;
  c.command_timeout_ms = 2000;
  return c;
}

void expect_unreachable(credbroker::store::Redis& redis, std::string_view detail_has) {
  const auto r = redis.command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kUnreachable));
  BOOST_TEST(r.error().detail.find(detail_has) != std::string::npos, r.error().detail);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(StopAll);

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(round_trip_by_name_and_by_address_with_a_client_certificate) {
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    BOOST_TEST_CONTEXT(host) {
      auto redis = make_hiredis(tls_config(host));
      const std::string value(100000, 'v');  // several TLS records each way
      BOOST_TEST_REQUIRE(redis->command({"SET", "tls:" + host, value}).ok());
      const auto got = redis->command({"GET", "tls:" + host});
      BOOST_TEST_REQUIRE(got.ok());
      BOOST_TEST(got->str == value);
      BOOST_TEST(tls_server().cli({"STRLEN", "tls:" + host}).integer == 100000);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_certificate_from_another_ca_is_refused) {
  Redis c = tls_config("localhost");
  c.endpoint.tls.ca_file = d().ca->other_ca_file();
  auto redis = make_hiredis(c);
  expect_unreachable(*redis, "certificate rejected");
}

BOOST_AUTO_TEST_CASE(the_server_name_is_checked) {
  Redis c = tls_config("localhost");
  c.endpoint.tls.server_name = "redis.elsewhere.example";
  auto redis = make_hiredis(c);
  expect_unreachable(*redis, "certificate rejected");
  c.endpoint.tls.server_name = "127.0.0.2";  // an address the certificate does not list
  expect_unreachable(*make_hiredis(c), "certificate rejected");
}

BOOST_AUTO_TEST_CASE(no_client_certificate_when_the_server_wants_one_is_unreachable) {
  Redis c = tls_config("localhost");
  c.endpoint.tls.cert_file.clear();
  c.endpoint.tls.key_file.clear();
  auto redis = make_hiredis(c);
  const auto r = redis->command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kUnreachable));
}

BOOST_AUTO_TEST_CASE(plain_text_to_the_tls_port_fails_within_the_timeout) {
  tls_server();
  Redis c = redis_config("redis://127.0.0.1:" + std::to_string(d().tls_port));
  auto redis = make_hiredis(c);
  BOOST_TEST(!redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(missing_tls_files_fail_every_command_naming_the_setting) {
  Redis c = tls_config("localhost");
  c.endpoint.tls.ca_file = "/nonexistent/ca.pem";
  expect_unreachable(*make_hiredis(c), "redis.tls.ca_file");
}

BOOST_AUTO_TEST_CASE(restart_is_survived_over_tls) {
  auto redis = make_hiredis(tls_config("localhost"));
  BOOST_TEST_REQUIRE(redis->command({"PING"}).ok());
  tls_server().stop();
  BOOST_TEST(!redis->command({"PING"}).ok());
  tls_server().start();
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(acl)

// What credbroker sends (grep of command({...}) in shared/; every script by EVALSHA, loaded with
// SCRIPT LOAD on NOSCRIPT, never EVAL), plus what the modes need: ROLE (Sentinel), CLUSTER SLOTS
// and ASKING (Cluster). AUTH and SELECT need no permission. docs/security.md lists the same.
constexpr const char* kCredbrokerCommands =
    "+ping +get +set +getdel +del +exists +expire +hget +hset +hgetall +hdel +zadd +zrem +zcard "
    "+zpopmin +zremrangebyscore +zrange +hincrby +type +time +evalsha +script|load +incr +xadd "
    "+role +cluster|slots +asking";

BOOST_AUTO_TEST_CASE(a_user_allowed_only_credbrokers_commands_and_keys_works_and_no_more) {
  RedisServer& server = tls_server();
  server.cli({"ACL", "SETUSER", "credbroker", "reset", "on", ">acl-Pa55", "~credbroker:*"});
  std::vector<std::string> setuser = {"ACL", "SETUSER", "credbroker"};
  std::string list = kCredbrokerCommands;
  for (std::size_t at = 0; at < list.size();) {
    const auto space = list.find(' ', at);
    setuser.push_back(list.substr(at, space - at));
    at = space == std::string::npos ? list.size() : space + 1;
  }
  server.cli(setuser);

  Redis c = tls_config("localhost");
  c.endpoint.user = "credbroker";
  c.endpoint.password = "acl-Pa55";  // as CREDBROKER_REDIS_PASSWORD sets it
  auto redis = make_hiredis(c);
  BOOST_TEST(redis->command({"HSET", "credbroker:cred:{alice}", "github", "x"}).ok());
  BOOST_TEST(redis->command({"HGET", "credbroker:cred:{alice}", "github"})->str == "x");
  // Every store the handlers use, through this user, from a server that holds no script yet
  // (NOSCRIPT, SCRIPT LOAD, EVALSHA): the commands the scripts run are checked against the ACL too.
  server.cli({"SCRIPT", "FLUSH"});
  namespace st = credbroker::store;
  credbroker::testing::CapturingSink sink;
  credbroker::audit::Log log(sink, "acl-test");
  const credbroker::crypto::Keyring keys({credbroker::crypto::Key{"k1", std::string(32, 'k')}});
  auto& random = credbroker::crypto::system_random();
  st::CredentialStore credentials(*redis, keys, random, "credbroker:", log);
  st::Credential credential;
  credential.access_token = "acl-access";
  credential.expires_at = 1'900'000'000;
  BOOST_TEST(credentials.put("alice", "github_0123456789abcdef", credential).ok());
  const auto versioned = credentials.load_versioned("alice", "github_0123456789abcdef");
  BOOST_TEST_REQUIRE(versioned.ok());
  BOOST_TEST(credentials.put_if("alice", "github_0123456789abcdef", credential, *versioned).ok());
  BOOST_TEST(credentials.load_all("alice").ok());
  BOOST_TEST(credentials.remove("alice", "github_0123456789abcdef").ok());
  st::FlowStore flows(*redis, keys, "credbroker:", random, log);
  const st::PendingFlow flow{.user = "alice", .server_key = "github_0123456789abcdef"};
  std::string state;
  for (int i = 0; i < 3; ++i) {  // one over the cap: the script trims the oldest
    state = flows.new_state("alice");
    BOOST_TEST(flows.put(state, flow, {.ttl_seconds = 60, .max_per_user = 2}).ok());
  }
  const auto taken = flows.take(state);
  BOOST_TEST_REQUIRE(taken.ok());
  BOOST_TEST(taken->has_value());
  st::RateLimiter rates(*redis, "credbroker:", log);
  BOOST_TEST(rates.hit("alice", "connect", 20, 1'800'000'000).ok());
  st::RefreshLock locks(*redis, random, "credbroker:", log);
  const auto owner = locks.try_acquire("alice", "github_0123456789abcdef", 1000);
  BOOST_TEST_REQUIRE(owner.ok());
  BOOST_TEST_REQUIRE(owner->has_value());
  BOOST_TEST(locks.release("alice", "github_0123456789abcdef", **owner).ok());
  for (const auto& line : sink.lines) {
    BOOST_TEST(line.find("\"level\":\"warn\"") == std::string::npos, line);
  }
  // EVAL is not needed, and not allowed.
  const auto eval = redis->command({"EVAL", "return 1", "0"});
  BOOST_TEST_REQUIRE(!eval.ok());
  BOOST_TEST(eval.error().detail.starts_with("NOPERM"));
  BOOST_TEST(redis->command({"SET", "credbroker:lock", "o", "NX", "PX", "1000"}).ok());
  BOOST_TEST(redis->command({"ROLE"}).ok());

  const auto flush = redis->command({"FLUSHALL"});
  BOOST_TEST_REQUIRE(!flush.ok());
  BOOST_TEST((flush.error().kind == RedisError::kRejected));
  BOOST_TEST(flush.error().detail.starts_with("NOPERM"));
  const auto other_key = redis->command({"GET", "someone-else:key"});
  BOOST_TEST_REQUIRE(!other_key.ok());
  BOOST_TEST(other_key.error().detail.starts_with("NOPERM"));

  c.endpoint.password = "wrong-acl-pw";
  const auto wrong = make_hiredis(c)->command({"PING"});
  BOOST_TEST_REQUIRE(!wrong.ok());
  BOOST_TEST(wrong.error().detail.starts_with("AUTH: WRONGPASS"));
  BOOST_TEST(wrong.error().detail.find("wrong-acl-pw") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_mode)

BOOST_AUTO_TEST_CASE(keys_land_on_the_primary_that_owns_their_slot) {
  auto& cl = cluster_deployment();
  auto redis = make_hiredis(redis_config(cl.url()));
  std::vector<std::size_t> per_node(cl.size());
  for (int i = 0; i < 200; ++i) {
    const std::string key = "route:" + std::to_string(i);
    BOOST_TEST_REQUIRE(redis->command({"SET", key, std::to_string(i)}).ok());
    const std::size_t owner = cl.owner(cluster::key_slot(key));
    ++per_node[owner];
    BOOST_TEST(cl.node(owner).cli({"GET", key}).str == std::to_string(i));
  }
  for (std::size_t n : per_node) BOOST_TEST(n > 0u);  // all three were used
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(scripts_loaded_once_run_on_every_primary) {
  auto redis = make_hiredis(redis_config(cluster_deployment().url()));
  const auto sha = redis->command({"SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"});
  BOOST_TEST_REQUIRE(sha.ok());
  for (int i = 0; i < 30; ++i) {
    const auto n = redis->command({"EVALSHA", sha->str, "1", "script:" + std::to_string(i)});
    BOOST_TEST_REQUIRE(n.ok());
    BOOST_TEST(n->integer == 1);
  }
}

BOOST_AUTO_TEST_CASE(a_script_over_a_half_migrated_user_waits_out_tryagain) {
  // A user's keys share a slot; while it migrates, a script over two of them answers TRYAGAIN
  // when one has moved and the other not (Redis Cluster spec, "Multi-keys operations"). The client
  // tries again (bounded backoff); here the migration ends once the first TRYAGAIN was answered.
  auto& cl = cluster_deployment();
  auto redis = make_hiredis(redis_config(cl.url()));
  const std::string tag = "{tryagain-user}";
  const int slot = cluster::key_slot(tag);
  const std::size_t from = cl.owner(slot);
  const std::size_t to = (from + 1) % cl.size();
  BOOST_TEST_REQUIRE(redis->command({"SET", tag + ":a", "1"}).ok());
  BOOST_TEST_REQUIRE(redis->command({"SET", tag + ":b", "2"}).ok());
  const auto tryagains = [&] {
    long n = 0;
    for (std::size_t i : {from, to}) {
      const std::string info = cl.node(i).cli({"INFO", "errorstats"}).str;
      const auto at = info.find("errorstat_TRYAGAIN:count=");
      if (at != std::string::npos) n += std::stol(info.substr(at + 25));
    }
    return n;
  };
  const long before = tryagains();
  cl.begin_migration(slot, from, to);
  BOOST_TEST_REQUIRE(cl.migrate_keys(slot, from, to, 1) == 1);  // one of the two keys

  std::atomic<bool> answered{false};
  std::thread finisher([&] {
    for (int i = 0; i < 2000 && tryagains() == before && !answered; ++i) {  // bounded: 10 s
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    while (cl.migrate_keys(slot, from, to, 10) > 0) {
    }
    cl.end_migration(slot, to);
  });
  const auto got =
      redis->command({"EVAL", "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}",
                      "2", tag + ":a", tag + ":b"});
  answered = true;
  finisher.join();
  BOOST_TEST(tryagains() > before, "the half-migrated slot answered TRYAGAIN");
  BOOST_TEST_REQUIRE(got.ok(), (got.ok() ? std::string() : got.error().detail));
  BOOST_TEST_REQUIRE(got->elements.size() == 2u);
  BOOST_TEST(got->elements[0].str == "1");
  BOOST_TEST(got->elements[1].str == "2");
}

BOOST_AUTO_TEST_CASE(a_slot_migration_during_a_run_is_followed_with_ask_and_moved) {
  auto& cl = cluster_deployment();
  auto redis = make_hiredis(redis_config(cl.url()));
  const std::string tag = "{migrating-user}";
  const int slot = cluster::key_slot(tag);
  const std::size_t from = cl.owner(slot);
  const std::size_t to = (from + 1) % cl.size();
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST_REQUIRE(redis->command({"HSET", tag + ":" + std::to_string(i), "f", "v"}).ok());
  }

  cl.begin_migration(slot, from, to);
  BOOST_TEST(cl.migrate_keys(slot, from, to, 10) == 10);
  // Half the keys are on `to` now: reads of those get ASK, new keys are created on `to` by ASK.
  for (int i = 0; i < 20; ++i) {
    const auto got = redis->command({"HGET", tag + ":" + std::to_string(i), "f"});
    BOOST_TEST_REQUIRE(got.ok());
    BOOST_TEST(got->str == "v");
  }
  for (int i = 20; i < 25; ++i) {
    BOOST_TEST_REQUIRE(redis->command({"HSET", tag + ":" + std::to_string(i), "f", "v"}).ok());
  }
  while (cl.migrate_keys(slot, from, to, 10) > 0) {
  }
  cl.end_migration(slot, to);

  // The client's map still says `from`: MOVED sends it to `to` and reloads the map.
  for (int i = 0; i < 25; ++i) {
    const std::string key = tag + ":" + std::to_string(i);
    const auto got = redis->command({"HGET", key, "f"});
    BOOST_TEST_REQUIRE(got.ok());
    BOOST_TEST(got->str == "v");
    BOOST_TEST(cl.node(to).cli({"EXISTS", key}).integer == 1);
  }
  const auto keys_on_from = cl.node(from).cli({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)});
  BOOST_TEST(keys_on_from.integer == 0);
}

BOOST_AUTO_TEST_CASE(a_restarted_node_is_reconnected) {
  auto& cl = cluster_deployment();
  auto redis = make_hiredis(redis_config(cl.url()));
  const std::string key = "restart:key";
  const std::size_t owner = cl.owner(cluster::key_slot(key));
  BOOST_TEST_REQUIRE(redis->command({"SET", key, "1"}).ok());
  cl.node(owner).stop();
  BOOST_TEST(!redis->command({"GET", key}).ok());
  cl.node(owner).start();  // nodes.conf keeps its slots; no data persisted
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {  // bounded: the cluster agrees again within seconds
    back = redis->command({"SET", key, "2"}).ok();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(back);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sentinel_mode)

BOOST_AUTO_TEST_CASE(the_primary_is_found_and_a_failover_is_survived) {
  auto& s = sentinel_deployment();
  auto redis = make_hiredis(redis_config(s.url()));
  const int first = s.primary_port();
  BOOST_TEST_REQUIRE(redis->command({"SET", "before", "1"}).ok());
  BOOST_TEST(s.server(first).cli({"GET", "before"}).str == "1");

  // A write acknowledged by one replica (WAIT) is promised to survive; plain writes acknowledged
  // just before the kill are measured (replication is asynchronous).
  BOOST_TEST_REQUIRE(redis->command({"SET", "waited", "1"}).ok());
  const auto waited = s.server(first).cli({"WAIT", "1", "5000"});
  BOOST_TEST_REQUIRE(waited.integer == 1);
  constexpr int kBurst = 200;
  int acknowledged = 0;
  for (int i = 0; i < kBurst; ++i) {
    if (redis->command({"SET", "burst:" + std::to_string(i), "1"}).ok()) ++acknowledged;
  }
  BOOST_TEST_REQUIRE(acknowledged == kBurst);
  const int old_port = s.kill_primary();

  // Commands fail (kUnreachable) until the sentinels promote the replica, then succeed with the
  // same client: bounded by 600 attempts 100 ms apart.
  int failed = 0;
  bool recovered = false;
  for (int i = 0; i < 600 && !recovered; ++i) {
    const auto r = redis->command({"SET", "after", "1"});
    if (r.ok()) {
      recovered = true;
    } else {
      BOOST_TEST((r.error().kind == RedisError::kUnreachable));
      ++failed;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  BOOST_TEST_REQUIRE(recovered);
  const int now = s.wait_for_failover(old_port);
  BOOST_TEST(now != old_port);
  BOOST_TEST(s.server(now).cli({"GET", "after"}).str == "1");
  BOOST_TEST(s.server(now).cli({"GET", "waited"}).str == "1");
  BOOST_TEST(s.server(now).cli({"GET", "before"}).str == "1");
  int survived = 0;
  for (int i = 0; i < kBurst; ++i) {
    if (s.server(now).cli({"EXISTS", "burst:" + std::to_string(i)}).integer == 1) ++survived;
  }
  BOOST_TEST_MESSAGE("sentinel failover: " << survived << " of " << kBurst
                                           << " writes acknowledged just before SIGKILL of the "
                                              "primary survived; "
                                           << failed << " commands failed during the failover");
  BOOST_TEST(survived <= kBurst);
}

BOOST_AUTO_TEST_CASE(a_planned_switch_leaves_the_demoted_primary_for_the_new_one) {
  auto& s = sentinel_deployment();
  s.restart_stopped();  // the primary killed above comes back and is made a replica
  auto redis = make_hiredis(redis_config(s.url()));
  BOOST_TEST_REQUIRE(redis->command({"SET", "switch", "1"}).ok());
  const int before = s.primary_port();
  const int after = s.switch_over();
  BOOST_TEST_REQUIRE(after != before);

  // Sentinel promotes first and demotes the old primary seconds later: in between both say
  // "master". The client asks the sentinels again once its last answer is a second old, so after
  // that second its writes go to the new primary even though the old one still takes them.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  bool written = false;
  for (int i = 0; i < 300 && !written; ++i) {  // bounded: 300 x 100 ms
    written = redis->command({"SET", "switch", "2"}).ok();
    if (!written) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST(written);
  BOOST_TEST(s.server(after).cli({"GET", "switch"}).str == "2");
  // And once the old primary is a replica (bounded wait: the sentinels demote it only after
  // watching it for several of their periods), the value is the new primary's.
  for (int i = 0; i < 600; ++i) {
    if (s.server(before).cli({"ROLE"}).elements.at(0).str == "slave") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  BOOST_TEST_REQUIRE(s.server(before).cli({"ROLE"}).elements.at(0).str == "slave");
  BOOST_TEST(redis->command({"GET", "switch"})->str == "2");
}

BOOST_AUTO_TEST_SUITE_END()
