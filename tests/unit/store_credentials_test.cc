// CredentialStore against a real redis-server with the real sealing: encoding, per-user
// isolation, records that must not open (moved, tampered, unknown key, put back after a delete),
// generations and records from before them, key rotation, a disabled store, and Redis outages.
#define BOOST_TEST_MODULE store_credentials
#include <boost/test/unit_test.hpp>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/crypto/seal.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"
#include "tests/support/servers/one_redis_server.h"
#include "tests/support/servers/redis_server.h"

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

using credbroker::testing::FreshServer;
using credbroker::testing::OneRedisServer;
using credbroker::testing::server;

constexpr std::string_view kGithub = "github_0123456789abcdef";
constexpr std::string_view kJira = "jira_fedcba9876543210";

class CapturingSink final : public Sink {
 public:
  void write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

/** Passes commands through and counts them, to prove a store did not touch Redis. `before`, when
 *  set, runs ahead of each command (another process acting between two round trips). */
class CountingRedis final : public Redis {
 public:
  explicit CountingRedis(Redis& inner) : inner_(inner) {}
  Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) override {
    ++calls;
    if (before) before(argv);
    return inner_.command(argv);
  }
  int calls = 0;
  std::function<void(const std::vector<std::string>&)> before;

 private:
  Redis& inner_;
};

const std::string kPutSha =
    credbroker::store::script_sha(credbroker::store::scripts::kPutCredential);

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
      : keys(std::move(ring)), client(credbroker::store::make_hiredis(config)), redis(*client) {
    // The store's scripts are loaded up front (uncounted), so a count is the round trips of the
    // operation itself, not the first-use NOSCRIPT and SCRIPT LOAD (store_flows_test covers those).
    namespace scripts = credbroker::store::scripts;
    for (std::string_view text :
         {scripts::kLoadCredentials, scripts::kLoadCredential, scripts::kPutCredential,
          scripts::kPutIf, scripts::kRemoveCredential}) {
      (void)client->command({"SCRIPT", "LOAD", std::string(text)});
    }
  }

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

std::string raw_record(std::string_view user, std::string_view server_key) {
  return server()
      .cli({"HGET", credbroker::store::user_key("credbroker:", user, "cred:" + std::string(user)),
            std::string(server_key)})
      .str;
}

void put_raw(std::string_view user, std::string_view server_key, const std::string& record) {
  server().cli({"HSET",
                credbroker::store::user_key("credbroker:", user, "cred:" + std::string(user)),
                std::string(server_key), record});
}

std::string raw_generation(std::string_view user, std::string_view server_key) {
  return server()
      .cli({"HGET", credbroker::store::user_key("credbroker:", user, "gen:" + std::string(user)),
            std::string(server_key)})
      .str;
}

/** A record as this code wrote it before generations existed (seal format 1). */
std::string format1_record(const Keyring& ring, std::string_view user, std::string_view server_key,
                           const Credential& c) {
  return credbroker::crypto::seal(ring, system_random(), {user, server_key, "credential"},
                                  encode_credential(c));
}

/** How many credential_unreadable warnings give `reason`. */
std::size_t unreadable(const CapturingSink& sink, std::string_view reason) {
  std::size_t n = 0;
  for (const auto& l : sink.lines) {
    if (l.find("\"event\":\"credential_unreadable\"") != std::string::npos &&
        l.find("\"reason\":\"" + std::string(reason) + "\"") != std::string::npos) {
      ++n;
    }
  }
  return n;
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

BOOST_AUTO_TEST_CASE(hash_key_carries_the_users_hash_tag_and_then_the_user) {
  Harness h;
  BOOST_TEST(h.store.hash_key("alice") ==
             "credbroker:u:{2bd806c97f0e00af1a1fc3328fa763a9}:cred:alice");
  BOOST_TEST(h.store.generation_key("alice") ==
             "credbroker:u:{2bd806c97f0e00af1a1fc3328fa763a9}:gen:alice");
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

BOOST_AUTO_TEST_CASE(a_deleted_record_put_back_from_a_backup_does_not_open) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("deleted-token")).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kJira, credential("jira")).ok());
  const std::string backup = raw_record("alice", kGithub);
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST(raw_generation("alice", kGithub) == "1");
  put_raw("alice", kGithub, backup);  // the old field value, copied back into the live hash

  const auto one = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST(!one->has_value());
  const auto versioned = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(versioned.ok());
  BOOST_TEST(!versioned->credential.has_value());
  BOOST_TEST(versioned->version == backup);
  BOOST_TEST(versioned->generation == 1);
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST_REQUIRE(all->size() == 1u);  // the other server's record is untouched
  BOOST_TEST(all->at(std::string(kJira)).access_token == "jira");
  BOOST_TEST(unreadable(h.sink, "stale") == 3u);
  for (const auto& line : h.sink.lines) BOOST_TEST(line.find("deleted-token") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_delete_bumps_only_its_own_generation_and_only_when_it_removed_something) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST(server()
                 .cli({"EXISTS", credbroker::store::user_key("credbroker:", "alice", "gen:alice")})
                 .integer == 0);
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("a")).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kJira, credential("j")).ok());
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST(raw_generation("alice", kGithub) == "1");
  BOOST_TEST(server()
                 .cli({"HEXISTS", credbroker::store::user_key("credbroker:", "alice", "gen:alice"),
                       std::string(kJira)})
                 .integer == 0);
  const auto jira = h.store.load("alice", kJira);
  BOOST_TEST_REQUIRE(jira.ok());
  BOOST_TEST_REQUIRE(jira->has_value());
  BOOST_TEST((*jira)->access_token == "j");
}

BOOST_AUTO_TEST_CASE(a_connect_after_a_delete_is_stored_under_the_new_generation_and_opens) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("first")).ok());
  const std::string first = raw_record("alice", kGithub);
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("second")).ok());
  const auto got = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->credential.has_value());
  BOOST_TEST(got->credential->access_token == "second");
  BOOST_TEST(got->generation == 1);
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->at(std::string(kGithub)).access_token == "second");
  BOOST_TEST(h.sink.lines.empty());
  // The first record still does not open in its place.
  put_raw("alice", kGithub, first);
  const auto old = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(old.ok());
  BOOST_TEST(!old->has_value());
}

BOOST_AUTO_TEST_CASE(a_refresh_that_raced_a_delete_writes_nothing_even_over_the_put_back_record) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("before")).ok());
  const auto read = h.store.load_versioned("alice", kGithub);  // the renewal's read
  BOOST_TEST_REQUIRE(read.ok());
  BOOST_TEST_REQUIRE(read->credential.has_value());

  // The user disconnects while the refresh is in flight; its write finds nothing to replace.
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  auto written = h.store.put_if("alice", kGithub, credential("renewed"), *read);
  BOOST_TEST_REQUIRE(written.ok());
  BOOST_TEST(!written->has_value());
  BOOST_TEST(server()
                 .cli({"EXISTS", credbroker::store::user_key("credbroker:", "alice", "cred:alice")})
                 .integer == 0);

  // Even with the old value put back, so the record compares equal to what the renewal read.
  put_raw("alice", kGithub, read->version);
  written = h.store.put_if("alice", kGithub, credential("renewed"), *read);
  BOOST_TEST_REQUIRE(written.ok());
  BOOST_TEST(!written->has_value());
  BOOST_TEST(raw_record("alice", kGithub) == read->version);
  const auto after = h.store.load("alice", kGithub);
  BOOST_TEST_REQUIRE(after.ok());
  BOOST_TEST(!after->has_value());
}

BOOST_AUTO_TEST_CASE(put_if_writes_over_the_version_and_generation_it_read) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("one")).ok());
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("two")).ok());
  const auto read = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(read.ok());
  const auto written = h.store.put_if("alice", kGithub, credential("three"), *read);
  BOOST_TEST_REQUIRE(written.ok());
  BOOST_TEST_REQUIRE(written->has_value());
  BOOST_TEST(**written == raw_record("alice", kGithub));
  const auto got = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->credential.has_value());
  BOOST_TEST(got->credential->access_token == "three");
  BOOST_TEST(got->generation == 1);
  // A second write over the same read loses the comparison.
  const auto again = h.store.put_if("alice", kGithub, credential("four"), *read);
  BOOST_TEST_REQUIRE(again.ok());
  BOOST_TEST(!again->has_value());
}

BOOST_AUTO_TEST_CASE(a_put_that_raced_a_delete_seals_again_under_the_new_generation) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("old")).ok());
  // Another process deletes between this put's generation read and its write.
  CountingRedis other(*h.client);
  CredentialStore deleter{other, h.keys, system_random(), "credbroker:", h.log};
  bool deleted = false;
  h.redis.before = [&](const std::vector<std::string>& argv) {
    if (!deleted && argv.size() > 1 && argv[1] == kPutSha) {
      deleted = true;
      BOOST_TEST_REQUIRE(deleter.remove("alice", kGithub).ok());
    }
  };
  const int before = h.redis.calls;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("new")).ok());
  BOOST_TEST(deleted);
  BOOST_TEST(h.redis.calls == before + 4);  // read, refused write, read, write
  h.redis.before = nullptr;
  const auto got = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->credential.has_value());
  BOOST_TEST(got->credential->access_token == "new");
  BOOST_TEST(got->generation == 1);
}

BOOST_AUTO_TEST_CASE(a_put_losing_to_deletes_every_time_gives_up_as_unavailable) {
  Harness h;
  CountingRedis other(*h.client);
  CredentialStore deleter{other, h.keys, system_random(), "credbroker:", h.log};
  h.redis.before = [&](const std::vector<std::string>& argv) {
    if (argv.size() > 1 && argv[1] == kPutSha) {
      // A record to delete, so that the delete moves the generation.
      put_raw("alice", kGithub, "x");
      BOOST_TEST_REQUIRE(deleter.remove("alice", kGithub).ok());
    }
  };
  const auto put = h.store.put("alice", kGithub, credential("never"));
  BOOST_TEST_REQUIRE(!put.ok());
  BOOST_TEST((put.error() == StoreError::kUnavailable));
  BOOST_TEST(h.redis.calls == 6);  // three reads, three refused writes: bounded
  BOOST_TEST(raw_generation("alice", kGithub) == "3");
  BOOST_TEST(server()
                 .cli({"EXISTS", credbroker::store::user_key("credbroker:", "alice", "cred:alice")})
                 .integer == 0);
}

BOOST_AUTO_TEST_CASE(a_record_from_before_generations_opens_until_its_first_delete) {
  Harness h;
  const std::string old = format1_record(h.keys, "alice", kGithub, credential("from-v1"));
  BOOST_TEST_REQUIRE(old[0] == '\x01');
  put_raw("alice", kGithub, old);
  put_raw("alice", kJira, format1_record(h.keys, "alice", kJira, credential("jira-v1")));

  const auto one = h.store.load_versioned("alice", kGithub);
  BOOST_TEST_REQUIRE(one.ok());
  BOOST_TEST_REQUIRE(one->credential.has_value());
  BOOST_TEST(one->credential->access_token == "from-v1");
  BOOST_TEST(one->generation == 0);
  const auto all = h.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST(all->size() == 2u);
  BOOST_TEST(h.sink.lines.empty());

  // The next write (a refresh) re-seals it in the current format.
  const auto written = h.store.put_if("alice", kGithub, *one->credential, *one);
  BOOST_TEST_REQUIRE(written.ok());
  BOOST_TEST_REQUIRE(written->has_value());
  BOOST_TEST(raw_record("alice", kGithub)[0] == '\x02');

  // After a delete, neither the old-format record nor the current one opens when put back.
  const std::string current = raw_record("alice", kGithub);
  BOOST_TEST_REQUIRE(h.store.remove("alice", kGithub).ok());
  for (const auto& record : {old, current}) {
    put_raw("alice", kGithub, record);
    const auto back = h.store.load("alice", kGithub);
    BOOST_TEST_REQUIRE(back.ok());
    BOOST_TEST(!back->has_value());
  }
  BOOST_TEST(unreadable(h.sink, "stale") == 2u);
  // The jira record, never deleted, still opens in the old format.
  const auto jira = h.store.load("alice", kJira);
  BOOST_TEST_REQUIRE(jira.ok());
  BOOST_TEST_REQUIRE(jira->has_value());
}

BOOST_AUTO_TEST_CASE(reseal_moves_a_record_to_the_primary_key_keeping_its_generation) {
  Harness before(keyring({"k1"}));
  put_raw("alice", kGithub, format1_record(before.keys, "alice", kGithub, credential("gh")));
  BOOST_TEST_REQUIRE(before.store.put("alice", kJira, credential("jira")).ok());
  BOOST_TEST_REQUIRE(before.store.remove("alice", kJira).ok());
  BOOST_TEST_REQUIRE(before.store.put("alice", kJira, credential("jira-2")).ok());

  Harness after(keyring({"k2", "k1"}));
  const auto gh = after.store.reseal("alice", kGithub);
  const auto jira = after.store.reseal("alice", kJira);
  BOOST_TEST_REQUIRE(gh.ok());
  BOOST_TEST_REQUIRE(jira.ok());
  BOOST_TEST((*gh == CredentialStore::Reseal::kResealed));
  BOOST_TEST((*jira == CredentialStore::Reseal::kResealed));
  BOOST_TEST(raw_generation("alice", kJira) == "1");

  Harness only_new(keyring({"k2"}));  // k1 retired: both still open
  const auto all = only_new.store.load_all("alice");
  BOOST_TEST_REQUIRE(all.ok());
  BOOST_TEST_REQUIRE(all->size() == 2u);
  BOOST_TEST(all->at(std::string(kGithub)).access_token == "gh");
  BOOST_TEST(all->at(std::string(kJira)).access_token == "jira-2");

  const auto absent = after.store.reseal("bob", kGithub);
  BOOST_TEST_REQUIRE(absent.ok());
  BOOST_TEST((*absent == CredentialStore::Reseal::kGone));
  put_raw("bob", kGithub, "garbage");
  const auto garbage = after.store.reseal("bob", kGithub);
  BOOST_TEST_REQUIRE(garbage.ok());
  BOOST_TEST((*garbage == CredentialStore::Reseal::kUnopenable));
  BOOST_TEST(raw_record("bob", kGithub) == "garbage");
}

BOOST_AUTO_TEST_CASE(a_generation_that_is_not_a_number_fails_closed_as_unavailable) {
  Harness h;
  BOOST_TEST_REQUIRE(h.store.put("alice", kGithub, credential("t")).ok());
  for (const std::string bad : {"x", "-1", "01", "1.5", ""}) {
    BOOST_TEST_CONTEXT("generation '" << bad << "'") {
      server().cli({"HSET", credbroker::store::user_key("credbroker:", "alice", "gen:alice"),
                    std::string(kGithub), bad});
      const auto one = h.store.load("alice", kGithub);
      const auto all = h.store.load_all("alice");
      const auto put = h.store.put("alice", kGithub, credential("t"));
      BOOST_TEST_REQUIRE(!one.ok());
      BOOST_TEST((one.error() == StoreError::kUnavailable));
      BOOST_TEST_REQUIRE(!all.ok());
      BOOST_TEST((all.error() == StoreError::kUnavailable));
      BOOST_TEST_REQUIRE(!put.ok());
      BOOST_TEST((put.error() == StoreError::kUnavailable));
    }
  }
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
  down.endpoint.hosts = {{"127.0.0.1", free_port()}};
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
  server().cli(
      {"SET", credbroker::store::user_key("credbroker:", "alice", "cred:alice"), "not a hash"});
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
