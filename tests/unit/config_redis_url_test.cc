// config's one parser of redis URLs (config/redis_url.h) and the pure Cluster rules
// (store/redis_cluster.h): slots, key positions, redirections.
#define BOOST_TEST_MODULE config_redis_url
#include <boost/test/unit_test.hpp>
#include <string>

#include "shared/config/redis_url.h"
#include "shared/store/redis_cluster.h"

using credbroker::config::parse_redis_url;
using credbroker::config::RedisEndpoint;
using Mode = RedisEndpoint::Mode;
namespace cluster = credbroker::store::cluster;

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(host_alone_gets_default_port_and_db) {
  const auto ep = parse_redis_url("redis://redis.internal");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST((ep->mode == Mode::kSingle));
  BOOST_TEST_REQUIRE(ep->hosts.size() == 1u);
  BOOST_TEST(ep->hosts[0].host == "redis.internal");
  BOOST_TEST(ep->hosts[0].port == 6379);
  BOOST_TEST(ep->socket_path.empty());
  BOOST_TEST(ep->db == 0);
  BOOST_TEST(ep->user.empty());
  BOOST_TEST(ep->password.empty());
  BOOST_TEST(!ep->tls.enabled);
}

BOOST_AUTO_TEST_CASE(user_password_port_and_db_are_read_and_decoded) {
  const auto ep = parse_redis_url("redis://svc%2Dbroker:p%40ss%3Aword@10.0.0.5:6380/3");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->user == "svc-broker");
  BOOST_TEST(ep->password == "p@ss:word");
  BOOST_TEST(ep->hosts[0].host == "10.0.0.5");
  BOOST_TEST(ep->hosts[0].port == 6380);
  BOOST_TEST(ep->db == 3);
}

BOOST_AUTO_TEST_CASE(password_without_user_and_trailing_slash) {
  const auto ep = parse_redis_url("redis://:pw@localhost:7000/");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->user.empty());
  BOOST_TEST(ep->password == "pw");
  BOOST_TEST(ep->hosts[0].port == 7000);
  BOOST_TEST(ep->db == 0);
}

BOOST_AUTO_TEST_CASE(ipv6_literal_in_brackets) {
  const auto ep = parse_redis_url("redis://[::1]:7001/2");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST(ep->hosts[0].host == "::1");
  BOOST_TEST(ep->hosts[0].port == 7001);
  BOOST_TEST(ep->db == 2);
}

BOOST_AUTO_TEST_CASE(unix_socket_with_and_without_db) {
  const auto plain = parse_redis_url("unix:///run/redis/redis.sock");
  BOOST_TEST_REQUIRE(plain.ok());
  BOOST_TEST(plain->hosts.empty());
  BOOST_TEST(plain->socket_path == "/run/redis/redis.sock");
  BOOST_TEST(plain->db == 0);
  const auto with_db = parse_redis_url("unix:///run/redis/redis.sock?db=4");
  BOOST_TEST_REQUIRE(with_db.ok());
  BOOST_TEST(with_db->db == 4);
}

BOOST_AUTO_TEST_CASE(schemes_are_case_insensitive) {
  for (const char* url : {"REDIS://h:1/2", "Redis://h:1/2", "rEdIs://h:1/2"}) {
    BOOST_TEST_CONTEXT(url) {
      const auto ep = parse_redis_url(url);
      BOOST_TEST_REQUIRE(ep.ok());
      BOOST_TEST(ep->hosts[0].host == "h");
      BOOST_TEST(ep->db == 2);
    }
  }
  BOOST_TEST(parse_redis_url("UNIX:///s").ok());
  BOOST_TEST(parse_redis_url("REDISS-CLUSTER://h").ok());
}

BOOST_AUTO_TEST_CASE(rediss_turns_tls_on) {
  const auto ep = parse_redis_url("rediss://u:p@cache.example:6380/1");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST((ep->mode == Mode::kSingle));
  BOOST_TEST(ep->tls.enabled);
  BOOST_TEST(ep->hosts[0].host == "cache.example");
}

BOOST_AUTO_TEST_CASE(sentinel_hosts_master_and_db) {
  const auto ep = parse_redis_url("redis-sentinel://u:p@s1:5000,s2,[::1]:5002/mymaster/3");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST((ep->mode == Mode::kSentinel));
  BOOST_TEST_REQUIRE(ep->hosts.size() == 3u);
  BOOST_TEST(ep->hosts[0].host == "s1");
  BOOST_TEST(ep->hosts[0].port == 5000);
  BOOST_TEST(ep->hosts[1].port == 26379);
  BOOST_TEST(ep->hosts[2].host == "::1");
  BOOST_TEST(ep->master_name == "mymaster");
  BOOST_TEST(ep->db == 3);
  BOOST_TEST(ep->user == "u");
  BOOST_TEST(!ep->tls.enabled);
  const auto tls = parse_redis_url("rediss-sentinel://s1/m");
  BOOST_TEST_REQUIRE(tls.ok());
  BOOST_TEST(tls->tls.enabled);
  BOOST_TEST(tls->db == 0);
}

BOOST_AUTO_TEST_CASE(cluster_seeds) {
  const auto ep = parse_redis_url("redis-cluster://:pw@n1:7000,n2:7001");
  BOOST_TEST_REQUIRE(ep.ok());
  BOOST_TEST((ep->mode == Mode::kCluster));
  BOOST_TEST_REQUIRE(ep->hosts.size() == 2u);
  BOOST_TEST(ep->hosts[1].host == "n2");
  BOOST_TEST(ep->hosts[1].port == 7001);
  BOOST_TEST(ep->password == "pw");
  BOOST_TEST(parse_redis_url("rediss-cluster://n1/0")->tls.enabled);
}

BOOST_AUTO_TEST_CASE(malformed_urls_are_rejected_without_quoting_the_password) {
  const char* bad[] = {
      "",
      "http://hunter2@localhost",
      "hunter2",
      "redis://",
      "redis://:hunter2@",
      "redis://:hunter2@localhost:0",
      "redis://:hunter2@localhost:65536",
      "redis://:hunter2@localhost:",
      "redis://:hunter2@localhost:63x9",
      "redis://:hunter2@localhost/x",
      "redis://:hunter2@localhost/-1",
      "redis://:hunter2@localhost/0?foo=1",
      "redis://:hunter2@localhost/0#f",
      "redis://hunter2@localhost",
      "redis://:%zzhunter2@localhost",
      "redis://:hunter2@[::1",
      "redis://:hunter2@[::1]x",
      "redis://:hunter2@h1,h2",
      "redis://:hunter2 @h1",
      "redis://:hunter2@bad host",
      "unix://relative/sock",
      "unix://",
      "unix:///sock?db=-1",
      "unix:///sock?password=hunter2",
      "redis-sentinel://:hunter2@s1",
      "redis-sentinel://:hunter2@s1/",
      "redis-sentinel://:hunter2@s1,/m",
      "redis-sentinel://:hunter2@s1/m/x",
      "redis-cluster://:hunter2@n1/1",
      "redis-cluster://:hunter2@n1,,n2",
      "rediss+x://:hunter2@n1",
  };
  for (const char* url : bad) {
    BOOST_TEST_CONTEXT("url " << url) {
      const auto ep = parse_redis_url(url);
      BOOST_TEST_REQUIRE(!ep.ok());
      BOOST_TEST(ep.error().starts_with("must be a Redis URL: "));
      BOOST_TEST(ep.error().find("hunter2") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_rules)

BOOST_AUTO_TEST_CASE(crc16_is_xmodem) {
  BOOST_TEST(cluster::crc16("123456789") == 0x31C3);  // the specification's check value
  BOOST_TEST(cluster::crc16("") == 0);
}

BOOST_AUTO_TEST_CASE(slots_follow_the_hash_tag_rule) {
  BOOST_TEST(cluster::key_slot("foo") == 12182);  // CLUSTER KEYSLOT foo
  BOOST_TEST(cluster::key_slot("{user1000}.following") == cluster::key_slot("user1000"));
  BOOST_TEST(cluster::key_slot("{user1000}.followers") == cluster::key_slot("{user1000}.x"));
  // An empty tag does not count: the whole key is hashed.
  BOOST_TEST(cluster::key_slot("foo{}{bar}") == cluster::crc16("foo{}{bar}") % 16384);
  // The tag ends at the first '}' after the first '{'.
  BOOST_TEST(cluster::key_slot("foo{{bar}}zap") == cluster::key_slot("{bar"));
  BOOST_TEST(cluster::key_slot("foo{bar}{zap}") == cluster::key_slot("bar"));
  BOOST_TEST(cluster::key_slot("no-close{tag") == cluster::crc16("no-close{tag") % 16384);
}

BOOST_AUTO_TEST_CASE(first_key_positions) {
  using V = std::vector<std::string>;
  BOOST_TEST(cluster::first_key(V{"HGET", "k", "f"}).value() == 1u);
  BOOST_TEST(cluster::first_key(V{"set", "k", "v", "NX"}).value() == 1u);
  BOOST_TEST(cluster::first_key(V{"EVAL", "return 1", "2", "k1", "k2", "a"}).value() == 3u);
  BOOST_TEST(cluster::first_key(V{"EVALSHA", "abc", "1", "k"}).value() == 3u);
  BOOST_TEST(!cluster::first_key(V{"EVAL", "return 1", "0"}));
  BOOST_TEST(!cluster::first_key(V{"PING"}));
  BOOST_TEST(!cluster::first_key(V{"INFO", "keyspace"}));
  BOOST_TEST(!cluster::first_key(V{"GET"}));
}

BOOST_AUTO_TEST_CASE(redirections_are_parsed) {
  const auto moved = cluster::parse_redirect("MOVED 3999 127.0.0.1:6381");
  BOOST_TEST_REQUIRE(moved.has_value());
  BOOST_TEST(!moved->ask);
  BOOST_TEST(moved->slot == 3999);
  BOOST_TEST(moved->node.host == "127.0.0.1");
  BOOST_TEST(moved->node.port == 6381);
  const auto ask = cluster::parse_redirect("ASK 1 [::1]:7000");
  BOOST_TEST_REQUIRE(ask.has_value());
  BOOST_TEST(ask->ask);
  BOOST_TEST(ask->node.host == "::1");
  for (const char* other : {"ERR x", "MOVED", "MOVED 16384 h:1", "MOVED 1 h", "ASK 1 h:0",
                            "MOVED x h:1", "READONLY You can't write"}) {
    BOOST_TEST_CONTEXT(other) {
      BOOST_TEST(!cluster::parse_redirect(other));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
