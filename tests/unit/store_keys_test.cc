// The per-user key layout (shared/store/user_keys.h) and the one-time migration of credentials
// against a real redis-server with the real sealing:
// every key of one user shares one Cluster hash slot whatever the user id holds, and old
// credential hashes move to their new keys and still open.
#define BOOST_TEST_MODULE store_keys
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/migrate.h"
#include "shared/store/rate_limiter.h"
#include "shared/store/redis.h"
#include "shared/store/refresh_lock.h"
#include "shared/store/user_keys.h"
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

crypto::Keyring keyring() {
  std::vector<crypto::Key> keys;
  keys.push_back(crypto::Key{"k1", std::string(32, '1')});
  return crypto::Keyring(std::move(keys));
}

/** What Redis Cluster hashes to pick `key`'s slot: the part between the first '{' and the
 *  next '}' when that is not empty, else the whole key (Redis Cluster specification, "Hash tags").
 */
std::string hashed_part(const std::string& key) {
  const auto open = key.find('{');
  if (open == std::string::npos) return key;
  const auto close = key.find('}', open + 1);
  if (close == std::string::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

Credential credential(std::string access_token) {
  Credential c;
  c.access_token = std::move(access_token);
  return c;
}

struct Stores {
  CapturingSink sink;
  audit::Log log{sink, "test"};
  crypto::Keyring keys = keyring();
  std::unique_ptr<Redis> redis = make_hiredis(server().config());
  CredentialStore credentials{*redis, keys, crypto::system_random(), "credbroker:", log};
  FlowStore flows{*redis, keys, "credbroker:", crypto::system_random(), log};
  RefreshLock lock{*redis, crypto::system_random(), "credbroker:", log};
  RateLimiter rate{*redis, "credbroker:", log};
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

BOOST_AUTO_TEST_CASE(a_users_tag_is_32_hex_digits_of_the_sha256_of_the_id) {
  BOOST_TEST(user_tag("alice") == "2bd806c97f0e00af1a1fc3328fa763a9");
  BOOST_TEST(is_user_tag(user_tag("}{ any id at all")));
  BOOST_TEST(!is_user_tag("alice"));
  BOOST_TEST(user_key("p:", "alice", "cred") == "p:u:{2bd806c97f0e00af1a1fc3328fa763a9}:cred");
}

BOOST_AUTO_TEST_CASE(a_users_tag_is_its_own_whichever_user_came_before) {
  // user_tag keeps the last user's tag: alternating users (and the empty id) never get another's.
  const std::string alice = "2bd806c97f0e00af1a1fc3328fa763a9";
  const std::string empty = "e3b0c44298fc1c149afbf4c8996fb924";  // SHA-256("")
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST(user_tag("alice") == alice);
    BOOST_TEST(user_tag("alice") == alice);
    BOOST_TEST(user_tag("") == empty);
    BOOST_TEST(user_tag("alicE") != alice);
    BOOST_TEST(user_tag("alice") == alice);
    BOOST_TEST(user_tag("") == empty);
  }
}

BOOST_AUTO_TEST_CASE(every_key_of_one_user_shares_one_slot_whatever_the_id_holds) {
  Stores s;
  for (const std::string user : {"alice", "a}b", "{x}", "}", "{", "", "é{}}{"}) {
    const std::string state = s.flows.new_state(user);
    const std::vector<std::string> keys = {s.credentials.hash_key(user),
                                           s.credentials.generation_key(user),
                                           s.flows.index_key(user),
                                           s.flows.flow_key(state),
                                           s.lock.lock_key(user, "github_0123"),
                                           s.rate.key(user, "connect", 1'800'000'000)};
    for (const auto& key : keys) {
      BOOST_TEST(hashed_part(key) == user_tag(user), user << ": " << key);
    }
    // credbroker-admin names the user of a credential hash it finds, whatever the id holds.
    BOOST_TEST(s.credentials.user_of(s.credentials.hash_key(user)).value_or("?") == user);
  }
  // Two users apart: their tags differ (so, almost always, their slots).
  BOOST_TEST(s.flows.index_key("a}b") != s.flows.index_key("a}c"));
}

BOOST_AUTO_TEST_CASE(the_state_reveals_nothing_of_the_user_and_only_opens_with_the_keyring) {
  Stores s;
  const std::string a = s.flows.new_state("alice@example.com");
  const std::string b = s.flows.new_state("alice@example.com");
  BOOST_TEST(a != b);
  for (const auto& st : {a, b}) {
    BOOST_TEST(st.find(user_tag("alice@example.com")) == std::string::npos, st);
    BOOST_TEST(st.find("alice") == std::string::npos, st);
  }
  BOOST_TEST(a.substr(a.find('.')) != b.substr(b.find('.')), "the sealed tag differs each time");
  BOOST_TEST(
      s.flows.flow_key(a).starts_with(user_key("credbroker:", "alice@example.com", "flow:")));
  // Another keyring cannot read the tag: the state then names no flow.
  CapturingSink sink;
  audit::Log log{sink, "test"};
  std::vector<crypto::Key> other_keys;
  other_keys.push_back(crypto::Key{"k1", std::string(32, '2')});
  const crypto::Keyring other(std::move(other_keys));
  FlowStore stranger{*s.redis, other, "credbroker:", crypto::system_random(), log};
  BOOST_TEST(!stranger.flow_key(a).starts_with("credbroker:u:{"));
}

BOOST_FIXTURE_TEST_SUITE(migration, FreshServer)

BOOST_AUTO_TEST_CASE(old_credential_hashes_move_to_the_new_keys_and_still_open) {
  Stores s;
  // Written as the old layout did: "<prefix>cred:{<user>}", the id as it is, braces included.
  for (const std::string user : {"alice", "a}b", "{x}"}) {
    BOOST_TEST_REQUIRE(s.credentials.put(user, "github_0123", credential("A-" + user)).ok());
    BOOST_TEST_REQUIRE(s.credentials.put(user, "jira_4567", credential("J-" + user)).ok());
    server().cli({"RENAME", s.credentials.hash_key(user), "credbroker:cred:{" + user + "}"});
    BOOST_TEST(s.credentials.load_all(user).value().empty(), "not found before the migration");
  }
  // Bob wrote a newer record under the new layout before the migration ran: it wins.
  BOOST_TEST_REQUIRE(s.credentials.put("bob", "github_0123", credential("old-bob")).ok());
  server().cli({"RENAME", s.credentials.hash_key("bob"), "credbroker:cred:{bob}"});
  BOOST_TEST_REQUIRE(s.credentials.put("bob", "github_0123", credential("new-bob")).ok());
  // Another deployment's keys (another prefix) are not touched.
  server().cli({"HSET", "other:cred:{alice}", "f", "v"});

  const auto report = migrate_legacy_credentials(*s.redis, "credbroker:", s.log);
  BOOST_TEST_REQUIRE(report.ok());
  BOOST_TEST(report.value().users == 4);
  BOOST_TEST(report.value().records == 6);
  BOOST_TEST(report.value().kept_newer == 1);
  for (const std::string user : {"alice", "a}b", "{x}"}) {
    const auto all = s.credentials.load_all(user);
    BOOST_TEST_REQUIRE(all.ok());
    BOOST_TEST_REQUIRE(all.value().size() == 2u, user);
    BOOST_TEST(all.value().at("github_0123").access_token == "A-" + user);
    BOOST_TEST(all.value().at("jira_4567").access_token == "J-" + user);
  }
  BOOST_TEST(s.credentials.load("bob", "github_0123").value()->access_token == "new-bob");
  BOOST_TEST(server().cli({"KEYS", "credbroker:cred:*"}).elements.empty());
  BOOST_TEST(server().cli({"EXISTS", "other:cred:{alice}"}).integer == 1);

  const auto again = migrate_legacy_credentials(*s.redis, "credbroker:", s.log);
  BOOST_TEST_REQUIRE(again.ok());
  BOOST_TEST(again.value().users == 0, "a second run finds nothing");
}

BOOST_AUTO_TEST_CASE(a_prefix_with_glob_characters_matches_only_itself) {
  Stores s;
  server().cli({"HSET", "a*[b]?:cred:{alice}", "f", "v"});
  server().cli({"HSET", "aXbY:cred:{alice}", "f", "v"});
  const auto report = migrate_legacy_credentials(*s.redis, "a*[b]?:", s.log);
  BOOST_TEST_REQUIRE(report.ok());
  BOOST_TEST(report.value().users == 1);
  BOOST_TEST(server().cli({"HGET", credential_key("a*[b]?:", "alice"), "f"}).str == "v");
  BOOST_TEST(server().cli({"EXISTS", "aXbY:cred:{alice}"}).integer == 1);
}

BOOST_AUTO_TEST_CASE(redis_down_is_unavailable) {
  Stores s;
  server().stop();
  BOOST_TEST(!migrate_legacy_credentials(*s.redis, "credbroker:", s.log).ok());
  server().start();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::store
