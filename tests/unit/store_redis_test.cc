// The hiredis client against a real redis-server (with requirepass): URL parsing, binary safety,
// authentication, and recovery from outages without recreating the client.
#define BOOST_TEST_MODULE store_redis
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

#include "shared/store/redis.h"
#include "tests/support/redis_server.h"

using credbroker::config::Redis;
using credbroker::store::make_hiredis;
using credbroker::store::parse_redis_url;
using credbroker::store::RedisEndpoint;
using credbroker::store::RedisError;
using credbroker::store::Reply;
using credbroker::testing::free_port;
using credbroker::testing::RedisServer;
using credbroker::testing::RedisServerOptions;

namespace {

constexpr const char* kPassword = "s3cret-Pa55";

std::optional<RedisServer>& server_slot() {
  static std::optional<RedisServer> server;
  return server;
}
RedisServer& server() {
  return *server_slot();
}

struct OneRedisServer {
  OneRedisServer() { server_slot().emplace(RedisServerOptions{.password = kPassword}); }
  ~OneRedisServer() { server_slot().reset(); }
};

/** Each case starts from a running, answering, empty server whatever the previous case did. */
struct FreshServer {
  FreshServer() {
    server().ensure_running();
    server().flushall();
  }
};

Redis config_with(std::string url, std::string password = "") {
  Redis c = server().config();
  c.url = std::move(url);
  c.password = std::move(password);
  return c;
}

std::string tcp_url(std::string_view userinfo = "", std::string_view db = "0") {
  return "redis://" + std::string(userinfo) + "127.0.0.1:" + std::to_string(server().port()) + "/" +
         std::string(db);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(host_alone_gets_default_port_and_db) {
  const auto ep = parse_redis_url("redis://redis.internal");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST((ep->transport == RedisEndpoint::Transport::kTcp));
  BOOST_TEST(ep->host == "redis.internal");
  BOOST_TEST(ep->port == 6379);
  BOOST_TEST(ep->db == 0);
  BOOST_TEST(ep->user.empty());
  BOOST_TEST(ep->password.empty());
}

BOOST_AUTO_TEST_CASE(user_password_port_and_db_are_read_and_decoded) {
  const auto ep = parse_redis_url("redis://svc%2Dbroker:p%40ss%3Aword@10.0.0.5:6380/3");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->user == "svc-broker");
  BOOST_TEST(ep->password == "p@ss:word");
  BOOST_TEST(ep->host == "10.0.0.5");
  BOOST_TEST(ep->port == 6380);
  BOOST_TEST(ep->db == 3);
}

BOOST_AUTO_TEST_CASE(password_without_user) {
  const auto ep = parse_redis_url("redis://:pw@localhost:7000");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->user.empty());
  BOOST_TEST(ep->password == "pw");
  BOOST_TEST(ep->port == 7000);
}

BOOST_AUTO_TEST_CASE(trailing_slash_means_db_zero) {
  const auto ep = parse_redis_url("redis://localhost:6379/");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->db == 0);
}

BOOST_AUTO_TEST_CASE(ipv6_literal_in_brackets) {
  const auto ep = parse_redis_url("redis://[::1]:7001/2");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->host == "::1");
  BOOST_TEST(ep->port == 7001);
  BOOST_TEST(ep->db == 2);
}

BOOST_AUTO_TEST_CASE(unix_socket_with_and_without_db) {
  const auto plain = parse_redis_url("unix:///run/redis/redis.sock");
  BOOST_TEST_REQUIRE(plain.ok());
  BOOST_TEST((plain->transport == RedisEndpoint::Transport::kUnix));
  BOOST_TEST(plain->socket_path == "/run/redis/redis.sock");
  BOOST_TEST(plain->db == 0);

  const auto with_db = parse_redis_url("unix:///run/redis/redis.sock?db=4");
  BOOST_TEST_REQUIRE(with_db.ok());
  BOOST_TEST(with_db->socket_path == "/run/redis/redis.sock");
  BOOST_TEST(with_db->db == 4);
}

BOOST_AUTO_TEST_CASE(malformed_urls_are_rejected_without_quoting_the_password) {
  const char* bad[] = {
      "",
      "http://hunter2@localhost",
      "rediss://:hunter2@localhost",
      "redis://",
      "redis://:hunter2@",
      "redis://:hunter2@localhost:0",
      "redis://:hunter2@localhost:65536",
      "redis://:hunter2@localhost:",
      "redis://:hunter2@localhost:63x9",
      "redis://:hunter2@localhost/x",
      "redis://:hunter2@localhost/-1",
      "redis://:hunter2@localhost/0?foo=1",
      "redis://hunter2@localhost",
      "redis://:%zzhunter2@localhost",
      "redis://:hunter2@[::1",
      "redis://:hunter2@[::1]x",
      "unix://relative/sock",
      "unix://",
      "unix:///sock?db=-1",
      "unix:///sock?password=hunter2",
  };
  for (const char* url : bad) {
    BOOST_TEST_CONTEXT("url " << url) {
      const auto ep = parse_redis_url(url);
      BOOST_TEST_REQUIRE(!ep.ok());
      BOOST_TEST(ep.error().starts_with("redis.url: "));
      BOOST_TEST(ep.error().find("hunter2") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

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

BOOST_AUTO_TEST_CASE(unparsable_url_fails_every_command_without_quoting_it) {
  auto redis = make_hiredis(config_with("redis://:hunter2@host:notaport"));
  const auto r = redis->command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == RedisError::kUnreachable));
  BOOST_TEST(r.error().detail.find("hunter2") == std::string::npos);
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
  Redis c = server().config();
  c.url = "redis://127.0.0.1:" + std::to_string(free_port()) + "/0";
  auto redis = make_hiredis(c);
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
