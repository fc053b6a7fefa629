// The single-server client against a real redis-server (with requirepass): binary safety,
// authentication, and recovery from outages without recreating the client. (URL parsing:
// config_redis_url_test; TLS, ACL, Sentinel, Cluster: store_redis_modes_test.)
#define BOOST_TEST_MODULE store_redis
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

#include "shared/store/redis.h"
#include "tests/support/servers/one_redis_server.h"
#include "tests/support/servers/redis_server.h"

using credbroker::config::Redis;
using credbroker::store::make_hiredis;
using credbroker::store::RedisError;
using credbroker::store::Reply;
using credbroker::testing::free_port;
using credbroker::testing::redis_config;
using credbroker::testing::RedisServer;
using credbroker::testing::RedisServerOptions;

namespace {

using credbroker::testing::FreshServer;
using credbroker::testing::OneRedisServer;
using credbroker::testing::server;

constexpr const char* kPassword = "s3cret-Pa55";

struct GuardedRedisServer : OneRedisServer {
  GuardedRedisServer() : OneRedisServer(RedisServerOptions{.password = kPassword}) {}
};

/** Each case starts from a running, answering, empty server whatever the previous case did. */

Redis config_with(std::string url, std::string password = "") {
  return redis_config(url, std::move(password));
}

std::string tcp_url(std::string_view userinfo = "", std::string_view db = "0") {
  return "redis://" + std::string(userinfo) + "127.0.0.1:" + std::to_string(server().port()) + "/" +
         std::string(db);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(GuardedRedisServer);

BOOST_FIXTURE_TEST_SUITE(live, FreshServer)

BOOST_AUTO_TEST_CASE(values_and_keys_are_binary_safe) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::string key = std::string("bin\0key\r\n", 9);
  auto redis = make_hiredis(server().config());

  const auto set = redis->command({"SET", key, all_bytes});
  BOOST_TEST_REQUIRE(set.ok());
  BOOST_TEST((set->type == Reply::Type::kStatus));
  BOOST_TEST(set->str == "OK");

  const auto got = redis->command({"GET", key});
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST((got->type == Reply::Type::kString));
  BOOST_TEST(got->str == all_bytes);
  BOOST_TEST(server().cli({"GET", key}).str == all_bytes);
}

BOOST_AUTO_TEST_CASE(replies_keep_their_types) {
  auto redis = make_hiredis(server().config());
  const auto missing = redis->command({"GET", "nothing"});
  BOOST_TEST_REQUIRE(missing.ok());
  BOOST_TEST((missing->type == Reply::Type::kNil));

  const auto count = redis->command({"HSET", "h", "f1", "a", "f2", "b"});
  BOOST_TEST_REQUIRE(count.ok());
  BOOST_TEST((count->type == Reply::Type::kInteger));
  BOOST_TEST(count->integer == 2);

  const auto all = redis->command({"HGETALL", "h"});
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST((all->type == Reply::Type::kArray));
  BOOST_TEST(all->elements.size() == 4u);
}

BOOST_AUTO_TEST_CASE(db_from_the_url_is_selected) {
  auto db2 = make_hiredis(config_with(tcp_url("", "2"), kPassword));
  BOOST_TEST_REQUIRE(db2->command({"SET", "where", "db2"}).ok());

  BOOST_TEST(server().cli({"INFO", "keyspace"}).str.find("db2:keys=1") != std::string::npos);
  auto db0 = make_hiredis(config_with(tcp_url(), kPassword));
  const auto in_db0 = db0->command({"GET", "where"});
  BOOST_TEST_REQUIRE(in_db0.ok());
  BOOST_TEST((in_db0->type == Reply::Type::kNil));
}

BOOST_AUTO_TEST_CASE(unix_socket_url_with_db) {
  auto redis = make_hiredis(config_with(server().unix_url() + "?db=1", kPassword));
  BOOST_TEST_REQUIRE(redis->command({"SET", "via", "unix"}).ok());
  BOOST_TEST(server().cli({"INFO", "keyspace"}).str.find("db1:keys=1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(password_from_the_url) {
  auto redis = make_hiredis(config_with(tcp_url(std::string(":") + kPassword + "@")));
  const auto pong = redis->command({"PING"});
  BOOST_TEST_REQUIRE(pong.ok());
  BOOST_TEST(pong->str == "PONG");
}

BOOST_AUTO_TEST_CASE(user_and_password_from_the_url) {
  auto redis = make_hiredis(config_with(tcp_url(std::string("default:") + kPassword + "@")));
  BOOST_TEST(redis->command({"PING"}).ok());
}

// Before config owned the one parser, "REDIS://" passed start-up and every command then failed.
BOOST_AUTO_TEST_CASE(upper_case_scheme_from_config_reaches_the_server) {
  auto redis = make_hiredis(
      config_with("REDIS://127.0.0.1:" + std::to_string(server().port()) + "/0", kPassword));
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(password_from_config) {
  auto redis = make_hiredis(config_with(tcp_url(), kPassword));
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(config_password_overrides_the_url_password) {
  auto redis = make_hiredis(config_with(tcp_url(":stale-url-pw@"), kPassword));
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(wrong_password_is_rejected_without_echoing_it) {
  auto redis = make_hiredis(config_with(tcp_url(), "not-the-Pa55"));
  const auto r = redis->command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kRejected));
  BOOST_TEST(r.error().detail.starts_with("AUTH: "));
  BOOST_TEST(r.error().detail.find("not-the-Pa55") == std::string::npos);
  BOOST_TEST(r.error().detail.find(kPassword) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_password_is_rejected_by_the_server) {
  auto redis = make_hiredis(config_with(tcp_url()));
  const auto r = redis->command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kRejected));
  BOOST_TEST(r.error().detail.starts_with("NOAUTH"));
}

BOOST_AUTO_TEST_CASE(error_reply_is_rejected_with_redis_text_and_connection_survives) {
  auto redis = make_hiredis(server().config());
  BOOST_TEST_REQUIRE(redis->command({"SET", "plain", "v"}).ok());
  const auto r = redis->command({"HGET", "plain", "field-arg"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kRejected));
  BOOST_TEST(r.error().detail.starts_with("WRONGTYPE"));
  BOOST_TEST(r.error().detail.find("field-arg") == std::string::npos);
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(unknown_command_detail_drops_the_argument_echo) {
  auto redis = make_hiredis(server().config());
  const auto r = redis->command({"NOSUCHCOMMAND", "sealed-record-bytes"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kRejected));
  BOOST_TEST(r.error().detail.starts_with("ERR unknown command"));
  BOOST_TEST(r.error().detail.find("sealed-record-bytes") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(nothing_listening_is_unreachable) {
  auto redis = make_hiredis(config_with("redis://127.0.0.1:" + std::to_string(free_port()) + "/0"));
  const auto r = redis->command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kUnreachable));
  BOOST_TEST(r.error().detail.starts_with("connect: "));
}

BOOST_AUTO_TEST_CASE(stopped_server_is_unreachable_and_restart_recovers_same_client) {
  auto redis = make_hiredis(server().config());
  BOOST_TEST_REQUIRE(redis->command({"SET", "k", "before"}).ok());

  server().stop();
  const auto down = redis->command({"GET", "k"});
  BOOST_TEST_REQUIRE(!down.ok());
  BOOST_TEST((down.error().kind == RedisError::kUnreachable));
  const auto still_down = redis->command({"GET", "k"});
  BOOST_TEST_REQUIRE(!still_down.ok());
  BOOST_TEST((still_down.error().kind == RedisError::kUnreachable));

  server().start();
  const auto back = redis->command({"SET", "k", "after"});
  BOOST_TEST_REQUIRE(back.ok());
  BOOST_TEST(server().cli({"GET", "k"}).str == "after");
}

BOOST_AUTO_TEST_CASE(restart_between_commands_is_invisible_to_the_next_command) {
  auto redis = make_hiredis(server().config());
  BOOST_TEST_REQUIRE(redis->command({"PING"}).ok());

  server().stop();
  server().start();
  // The idle connection was closed by the old server; it is replaced before sending.
  BOOST_TEST(redis->command({"PING"}).ok());
}

BOOST_AUTO_TEST_CASE(paused_server_times_out_as_unreachable_then_recovers) {
  Redis c = server().config();
  c.command_timeout_ms = 200;
  auto redis = make_hiredis(c);
  BOOST_TEST_REQUIRE(redis->command({"PING"}).ok());

  server().pause();
  const auto stalled = redis->command({"SET", "k", "v"});
  BOOST_TEST_REQUIRE(!stalled.ok());
  BOOST_TEST((stalled.error().kind == RedisError::kUnreachable));
  auto fresh = make_hiredis(c);
  const auto fresh_stalled = fresh->command({"PING"});
  BOOST_TEST_REQUIRE(!fresh_stalled.ok());
  BOOST_TEST((fresh_stalled.error().kind == RedisError::kUnreachable));

  server().resume();
  BOOST_TEST(redis->command({"PING"}).ok());
  BOOST_TEST(fresh->command({"PING"}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
