// CredentialStore against a real redis-server with the real sealing: encoding, per-user
// isolation, records that must not open (moved, tampered, unknown key), key rotation, a disabled
// store, and Redis outages.
#define BOOST_TEST_MODULE store_credentials
#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/store/user_keys.h"
#include "tests/support/redis_server.h"

using credbroker::Result;
using credbroker::audit::Log;
using credbroker::audit::Sink;
using credbroker::crypto::Key;
using credbroker::crypto::Keyring;
using credbroker::crypto::system_random;
using credbroker::store::Credential;
using credbroker::store::CredentialStore;
using credbroker::store::decode_credential;
using credbroker::store::encode_credential;
using credbroker::store::Redis;
using credbroker::store::RedisFailure;
using credbroker::store::Reply;
using credbroker::store::StoreError;
using credbroker::testing::free_port;
using credbroker::testing::RedisServer;

namespace {

constexpr std::string_view kGithub = "github_0123456789abcdef";
constexpr std::string_view kJira = "jira_fedcba9876543210";

std::optional<RedisServer>& server_slot() {
  static std::optional<RedisServer> server;
  return server;
}
RedisServer& server() {
  return *server_slot();
}

struct OneRedisServer {
  OneRedisServer() { server_slot().emplace(); }
  ~OneRedisServer() { server_slot().reset(); }
};

class CapturingSink final : public Sink {
 public:
  void write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

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

/** A keyring of 32-byte keys whose bytes derive from the id, so two keyrings agree on "k1". */
Keyring keyring(std::initializer_list<std::string> ids) {
  std::vector<Key> keys;
  for (const auto& id : ids) keys.push_back(Key{id, std::string(32, id.back())});
  return Keyring(std::move(keys));
}

Credential credential(std::string access_token) {
  Credential c;
  c.access_token = std::move(access_token);
  c.refresh_token = "refresh-" + std::string(kGithub);
  c.expires_at = 1'900'000'000;
  c.scopes = {"repo", "read:org"};
  c.audience = "https://api.github.com";
  c.obtained_via = "connect_flow";
  c.updated_at = 1'800'000'000;
  return c;
}

void check_same(const Credential& got, const Credential& want) {
  BOOST_TEST(got.type == want.type);
  BOOST_TEST(got.access_token == want.access_token);
  BOOST_TEST(got.refresh_token == want.refresh_token);
  BOOST_TEST(got.token_type == want.token_type);
  BOOST_TEST(got.expires_at == want.expires_at);
  BOOST_TEST(got.scopes == want.scopes, boost::test_tools::per_element());
  BOOST_TEST(got.audience == want.audience);
  BOOST_TEST(got.obtained_via == want.obtained_via);
  BOOST_TEST(got.updated_at == want.updated_at);
}

/** One store wired to the module's server, with its own keyring, log capture and call count. */
struct Harness {
  explicit Harness(Keyring ring = keyring({"k1"}),
                   credbroker::config::Redis config = server().config())
      : keys(std::move(ring)), client(credbroker::store::make_hiredis(config)), redis(*client) {}

  std::size_t warnings(std::string_view event) const {
    std::size_t n = 0;
    for (const auto& l : sink.lines) {
      if (l.find("\"warn\"") != std::string::npos &&
          l.find("\"event\":\"" + std::string(event) + "\"") != std::string::npos) {
        ++n;
      }
    }
    return n;
  }

  CapturingSink sink;
  Log log{sink, "test"};
  Keyring keys;
  std::unique_ptr<Redis> client;
  CountingRedis redis;
  CredentialStore store{redis, keys, system_random(), "credbroker:", log};
};

struct FreshServer {
  FreshServer() {
    server().ensure_running();
    server().flushall();
  }
};

std::string raw_record(std::string_view user, std::string_view server_key) {
  return server()
      .cli({"HGET", credbroker::store::user_key("credbroker:", user, "cred"),
            std::string(server_key)})
      .str;
}

void put_raw(std::string_view user, std::string_view server_key, const std::string& record) {
  server().cli({"HSET", credbroker::store::user_key("credbroker:", user, "cred"),
                std::string(server_key), record});
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

BOOST_AUTO_TEST_SUITE(encoding)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
  Credential c = credential("tok \"quoted\" \\ ünïcode \x01");
  c.type = "oauth2";
  c.token_type = "DPoP";
  const auto back = decode_credential(encode_credential(c));
  BOOST_TEST_REQUIRE(back.has_value());
  check_same(*back, c);
}

BOOST_AUTO_TEST_CASE(encoding_is_compact_json) {
  const std::string json = encode_credential(credential("t"));
  BOOST_TEST(json.front() == '{');
  BOOST_TEST(json.find(": ") == std::string::npos);
  BOOST_TEST(json.find('\n') == std::string::npos);
  BOOST_TEST(json.find("\"access_token\":\"t\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_optional_fields_take_defaults) {
  const auto c = decode_credential(R"({"access_token":"only"})");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->access_token == "only");
  BOOST_TEST(c->type == "oauth2");
  BOOST_TEST(c->token_type == "Bearer");
  BOOST_TEST(c->expires_at == 0);
  BOOST_TEST(c->scopes.empty());
  BOOST_TEST(c->refresh_token.empty());
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored) {
  const auto c = decode_credential(R"({"access_token":"a","added_in_v2":{"x":[1]}})");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->access_token == "a");
}

BOOST_AUTO_TEST_CASE(garbage_and_wrong_types_decode_to_nothing) {
  const std::string bad[] = {
      "",
      "null",
      "[]",
      "\"access_token\"",
      "{",
      R"({})",
      R"({"access_token":1})",
      R"({"access_token":null})",
      R"({"access_token":"a","refresh_token":null})",
      R"({"access_token":"a","type":7})",
      R"({"access_token":"a","expires_at":"5"})",
      R"({"access_token":"a","expires_at":1.5})",
      R"({"access_token":"a","updated_at":true})",
      R"({"access_token":"a","scopes":"repo"})",
      R"({"access_token":"a","scopes":["repo",1]})",
      R"({"access_token":"a"} trailing)",
      std::string(R"({"access_token":"a"})") + '\0' + "hidden",
  };
  for (const auto& json : bad) {
    BOOST_TEST_CONTEXT("json " << json) {
      BOOST_TEST(!decode_credential(json).has_value());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(store, FreshServer)

BOOST_AUTO_TEST_CASE(hash_key_carries_the_users_hash_tag) {
  Harness h;
  BOOST_TEST(h.store.hash_key("alice") == "credbroker:u:{2bd806c97f0e00af1a1fc3328fa763a9}:cred");
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("a")).ok());
  const Reply keys = server().cli({"KEYS", "*"});
  BOOST_TEST_REQUIRE(keys.elements.size() == 1u);
  BOOST_TEST(keys.elements[0].str == h.store.hash_key("alice"));
}

BOOST_AUTO_TEST_CASE(put_then_load_and_load_all_return_it) {
  Harness h;
  const Credential github = credential("gh-token");
  const Credential jira = credential("jira-token");
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, github).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kJira, jira).ok());

  const auto one = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST_REQUIRE(one->has_value());
  check_same(**one, github);

  const int before = h.redis.calls;
  const auto all = h.store.load_all("alice");
  BOOST_TEST(h.redis.calls == before + 1);  // one round trip
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST_REQUIRE(all->size() == 2u);
  check_same(all->at(std::string(kGithub)), github);
  check_same(all->at(std::string(kJira)), jira);
  BOOST_TEST(h.sink.lines.empty());
}

BOOST_AUTO_TEST_CASE(put_replaces_the_older_record) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("old")).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("new")).ok());
  const auto got = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->access_token == "new");
}

BOOST_AUTO_TEST_CASE(missing_records_are_absent_not_errors) {
  Harness h;
  const auto one = h.store.load("nobody", kGithub);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST(!one->has_value());
  const auto all = h.store.load_all("nobody");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->empty());
}

BOOST_AUTO_TEST_CASE(remove_deletes_and_removing_nothing_is_ok) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("a")).ok());
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  const auto gone = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(gone.ok());
  BOOST_TEST(!gone->has_value());
  BOOST_TEST(h.store.remove("alice", kGithub).ok());
  BOOST_TEST(h.store.remove("nobody", kJira).ok());
}

BOOST_AUTO_TEST_CASE(load_all_of_one_user_never_contains_another_users_credentials) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("alice-gh")).ok());
  BOOST_TEST_REQUIRE(h.store.put("bob", kJira, credential("bob-jira")).ok());

  const auto alice = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(alice.ok());
  BOOST_TEST_REQUIRE(alice->size() == 1u);
  BOOST_TEST(alice->at(std::string(kGithub)).access_token == "alice-gh");
  const auto alice_jira = h.store.load("alice", kJira);
  BOOST_TEST_REQUIRE(alice_jira.ok());
  BOOST_TEST(!alice_jira->has_value());
}

BOOST_AUTO_TEST_CASE(record_copied_from_another_users_hash_does_not_open) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("bob", kGithub, credential("bob-secret-token")).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kJira, credential("alice-jira")).ok());
  put_raw("alice", kGithub, raw_record("bob", kGithub));

  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->size() == 1u);
  BOOST_TEST(all->count(std::string(kGithub)) == 0u);
  const auto one = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST(!one->has_value());

  BOOST_TEST(h.warnings("credential_unreadable") == 2u);
  for (const auto& line : h.sink.lines) {
    BOOST_TEST_CONTEXT(line) {
      BOOST_TEST(line.find(R"("user":"alice")") != std::string::npos);
      BOOST_TEST(line.find(R"("server_key":")" + std::string(kGithub) + "\"") != std::string::npos);
      BOOST_TEST(line.find(R"("reason":"auth_failed")") != std::string::npos);
      BOOST_TEST(line.find("bob-secret-token") == std::string::npos);
    }
  }
  const auto bob = h.store.load("bob", kGithub);  // the original still opens where it belongs
  BOOST_TEST_REQUIRE(bob.ok());
  BOOST_TEST_REQUIRE(bob->has_value());
  BOOST_TEST((*bob)->access_token == "bob-secret-token");
}

BOOST_AUTO_TEST_CASE(record_moved_to_another_server_key_does_not_open) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("gh")).ok());
  put_raw("alice", kJira, raw_record("alice", kGithub));
  const auto one = h.store.load("alice", kJira);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST(!one->has_value());
  BOOST_TEST(h.warnings("credential_unreadable") == 1u);
}

BOOST_AUTO_TEST_CASE(tampered_record_is_left_out_and_the_rest_still_load) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("gh")).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kJira, credential("jira")).ok());
  std::string record = raw_record("alice", kGithub);
  record[record.size() / 2] ^= 0x01;
  put_raw("alice", kGithub, record);

  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST_REQUIRE(all->size() == 1u);
  BOOST_TEST(all->count(std::string(kJira)) == 1u);
  BOOST_TEST_REQUIRE(h.sink.lines.size() == 1u);
  BOOST_TEST(h.sink.lines[0].find(R"("reason":"auth_failed")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(truncated_record_is_left_out_as_malformed) {
  Harness h;
  put_raw("alice", kGithub, "\x01");
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->empty());
  BOOST_TEST_REQUIRE(h.sink.lines.size() == 1u);
  BOOST_TEST(h.sink.lines[0].find(R"("reason":"malformed")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(record_sealed_with_a_key_not_in_the_keyring_is_left_out) {
  Harness retired(keyring({"k9"}));
  BOOST_TEST_REQUIRE(retired.store.put("alice", kGithub, credential("gh")).ok());

  Harness h(keyring({"k1"}));
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->empty());
  BOOST_TEST_REQUIRE(h.sink.lines.size() == 1u);
  BOOST_TEST(h.sink.lines[0].find(R"("reason":"unknown_key_id")") != std::string::npos);
  BOOST_TEST(h.warnings("credential_unreadable") == 1u);
}

BOOST_AUTO_TEST_CASE(rotation_old_records_open_and_new_ones_use_the_new_key) {
  Harness before(keyring({"k1"}));
  BOOST_TEST_REQUIRE(before.store.put("alice", kGithub, credential("sealed-by-k1")).ok());

  Harness after(keyring({"k2", "k1"}));
  const auto old = after.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(old.ok());
  BOOST_TEST_REQUIRE(old->has_value());
  BOOST_TEST((*old)->access_token == "sealed-by-k1");

  BOOST_TEST_REQUIRE(after.store.put("alice", kJira, credential("sealed-by-k2")).ok());
  const auto stale = before.store.load("alice", kJira);  // a process still on [k1]
  BOOST_TEST_REQUIRE(stale.ok());
  BOOST_TEST(!stale->has_value());
  BOOST_TEST(before.sink.lines.back().find(R"("reason":"unknown_key_id")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(disabled_store_answers_disabled_without_touching_redis) {
  Harness h(Keyring{});
  BOOST_TEST(!h.store.enabled());
  const auto all = h.store.load_all("alice");
  const auto one = h.store.load("alice", kGithub);
  const auto put = h.store.put("alice", kGithub, credential("t"));
  const auto removed = h.store.remove("alice", kGithub);
  BOOST_TEST_REQUIRE(!all.ok());
  BOOST_TEST((all.error() == StoreError::kDisabled));
  BOOST_TEST_REQUIRE(!one.ok());
  BOOST_TEST((one.error() == StoreError::kDisabled));
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error() == StoreError::kDisabled));
  BOOST_TEST_REQUIRE(!removed.ok());
  BOOST_TEST((removed.error() == StoreError::kDisabled));
  BOOST_TEST(h.redis.calls == 0);
  BOOST_TEST(server().cli({"DBSIZE"}).integer == 0);
}

BOOST_AUTO_TEST_CASE(redis_down_is_unavailable_and_logged) {
  credbroker::config::Redis down = server().config();
  down.url = "redis://127.0.0.1:" + std::to_string(free_port()) + "/0";
  Harness h(keyring({"k1"}), down);
  const auto all = h.store.load_all("alice");
  const auto one = h.store.load("alice", kGithub);
  const auto put = h.store.put("alice", kGithub, credential("t"));
  const auto removed = h.store.remove("alice", kGithub);
  BOOST_TEST_REQUIRE(!all.ok());
  BOOST_TEST((all.error() == StoreError::kUnavailable));
  BOOST_TEST_REQUIRE(!one.ok());
  BOOST_TEST((one.error() == StoreError::kUnavailable));
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error() == StoreError::kUnavailable));
  BOOST_TEST_REQUIRE(!removed.ok());
  BOOST_TEST((removed.error() == StoreError::kUnavailable));
  BOOST_TEST(h.warnings("redis_unavailable") == 4u);
  BOOST_TEST(h.sink.lines[0].find(R"("kind":"unreachable")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stopped_server_is_unavailable_then_recovers) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("t")).ok());
  server().stop();
  const auto down = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(!down.ok());
  BOOST_TEST((down.error() == StoreError::kUnavailable));
  server().start();  // nothing persisted: the restarted server is empty
  const auto back = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(back.ok());
  BOOST_TEST(back->empty());
}

BOOST_AUTO_TEST_CASE(error_reply_is_unavailable_with_redis_text_logged) {
  Harness h;
  server().cli({"SET", credbroker::store::user_key("credbroker:", "alice", "cred"), "not a hash"});
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(!all.ok());
  BOOST_TEST((all.error() == StoreError::kUnavailable));
  BOOST_TEST_REQUIRE(h.sink.lines.size() == 1u);
  BOOST_TEST(h.sink.lines[0].find(R"("kind":"rejected")") != std::string::npos);
  BOOST_TEST(h.sink.lines[0].find("WRONGTYPE") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(redis_never_holds_a_token_in_plaintext) {
  const std::string access = "SENTINEL-ACCESS-7f3a9c";
  const std::string refresh = "SENTINEL-REFRESH-41be0d";
  Harness h;
  Credential c = credential(access);
  c.refresh_token = refresh;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, c).ok());
  BOOST_TEST_REQUIRE(h.store.put("bob", kJira, c).ok());

  const Reply keys = server().cli({"KEYS", "*"});
  BOOST_TEST(keys.elements.size() == 2u);
  for (const auto& key : keys.elements) {
    const Reply fields = server().cli({"HGETALL", key.str});
    BOOST_TEST(fields.elements.size() == 2u);
    for (const auto& item : fields.elements) {
      BOOST_TEST(item.str.find(access) == std::string::npos);
      BOOST_TEST(item.str.find(refresh) == std::string::npos);
      BOOST_TEST(item.str.find("SENTINEL") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
