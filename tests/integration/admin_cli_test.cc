// The credbroker-admin executable as an operator runs it: help and usage errors with their exit
// statuses; check-config against a real redis-server, the real oidc-provider (tests/oidc) and a
// token endpoint where nothing listens; gen-key, rotate, stats and purge-user end to end. No
// output ever carries a token, a key or a client secret.
#define BOOST_TEST_MODULE integration_admin_cli
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/base64.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/process.h"
#include "tests/support/servers/oidc_provider.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"
#include "tests/support/tempdir.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kClientSecret = "admin-client-secret-5e2b";
const std::string kOldKey(32, 'o');
const std::string kNewKey(32, 'n');

struct Suite : SuiteInstance<Suite> {
  Suite()
      : provider({.clients = {{.client_id = "admin-client",
                               .client_secret = std::string(kClientSecret),
                               .auth_method = "client_secret_post",
                               .redirect_uris = {"http://127.0.0.1:1/callback"}}}}) {}
  RedisServer redis;
  TestIssuer issuer;
  OidcProvider provider;
  TempDir dir{"admin-cli"};
};
CREDBROKER_TEST_SUITE(Suite)

struct Ran {
  int status = -1;
  std::string out;
  std::string err;
};

/** Runs credbroker-admin to its end (bounded: 60 s, then it is killed and the test fails). */
Ran admin(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env) {
  static int n = 0;
  const std::string out = S().dir.file("out-" + std::to_string(++n));
  const std::string err = S().dir.file("err-" + std::to_string(n));
  args.insert(args.begin(), std::string(CREDBROKER_BIN_DIR) + "/credbroker-admin");
  // Whatever the test process has, the child sees only what the case gives it.
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"CREDBROKER_CONFIG", S().dir.file("missing.json")},
      {"CREDBROKER_KEYS", ""},
      {"CREDBROKER_REDIS_URL", ""},
      {"CREDBROKER_REDIS_PASSWORD", ""}};
  for (const auto& [name, value] : defaults) {
    bool given = false;
    for (const auto& [k, v] : env) given = given || k == name;
    if (!given) env.emplace_back(name, value);
  }
  ChildProcess child(
      {.argv = std::move(args), .env = std::move(env), .stdout_path = out, .stderr_path = err});
  for (int i = 0; i < 1200 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  BOOST_REQUIRE_MESSAGE(!child.running(), "credbroker-admin did not finish");
  Ran ran;
  const int raw = *child.exit_status();
  ran.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  ran.out = read_file(out);
  ran.err = read_file(err);
  return ran;
}

std::string server_json(std::string_view name, std::string_view token_endpoint,
                        std::string_view secret = kClientSecret) {
  return R"({"name":")" + std::string(name) + R"(","url":"https://)" + std::string(name) +
         R"(.example/mcp","auth_broker":{"mode":"oauth_connect",)" +
         R"("authorization_endpoint":")" + S().provider.authorization_endpoint() +
         R"(","token_endpoint":")" + std::string(token_endpoint) +
         R"(","client_id":"admin-client","client_secret":")" + std::string(secret) + R"("}})";
}

/** A config file with these servers (JSON objects, comma-joined) and the suite's Redis. */
std::string config_file(std::string_view name, const std::string& servers,
                        const std::string& redis_url = "") {
  const std::string path = S().dir.file(std::string(name) + ".json");
  write_file(path, R"({"public_base_url":"http://127.0.0.1:8080",)"
                   R"("identity":{"issuer":")" +
                       std::string(kTestIssuer) + R"(","audience":")" + std::string(kTestAudience) +
                       R"(","jwks_file":")" + S().issuer.jwks_path() + R"("},"redis":{"url":")" +
                       (redis_url.empty() ? S().redis.url() : redis_url) + R"("},"servers":[)" +
                       servers + "]}");
  return path;
}

std::string keys(std::initializer_list<std::pair<std::string, const std::string*>> entries) {
  std::string out;
  for (const auto& [id, bytes] : entries) {
    if (!out.empty()) out += ",";
    out += id + ":" + crypto::base64_encode(*bytes);
  }
  return out;
}

void no_secrets_in(const Ran& ran) {
  for (const std::string& text : {ran.out, ran.err}) {
    BOOST_TEST(text.find(kClientSecret) == std::string::npos);
    BOOST_TEST(text.find(crypto::base64_encode(kOldKey)) == std::string::npos);
    BOOST_TEST(text.find(crypto::base64_encode(kNewKey)) == std::string::npos);
    BOOST_TEST(text.find("at-") == std::string::npos);
  }
}

/** The row of `check` for `target` in check-config's table, or "". */
std::string row(const std::string& table, std::string_view check, std::string_view target) {
  std::size_t start = 0;
  while (start < table.size()) {
    const std::size_t end = table.find('\n', start);
    const std::string line = table.substr(start, end - start);
    if (line.starts_with(std::string(check) + " ") &&
        line.find(" " + std::string(target) + " ") != std::string::npos) {
      return line;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(help_for_the_tool_and_each_command_usage_errors_exit_2) {
  const Ran help = admin({"--help"}, {});
  BOOST_TEST(help.status == 0);
  BOOST_TEST(help.out.find("exit status: 0 ok") != std::string::npos);
  for (const std::string command : {"gen-key", "check-config", "rotate", "stats", "purge-user"}) {
    const Ran one = admin({command, "--help"}, {});
    BOOST_TEST(one.status == 0);
    BOOST_TEST(one.out.starts_with("usage: credbroker-admin"), command);
    BOOST_TEST(one.out.find("Exit: 0") != std::string::npos, command);
  }
  BOOST_TEST(admin({}, {}).status == 2);
  BOOST_TEST(admin({"frobnicate"}, {}).status == 2);
  BOOST_TEST(admin({"purge-user"}, {}).status == 2);
  BOOST_TEST(admin({"stats", "extra"}, {}).status == 2);
  BOOST_TEST(admin({"gen-key", "--id", "not valid"}, {}).status == 2);
}

BOOST_AUTO_TEST_CASE(gen_key_prints_one_keyring_entry) {
  const Ran ran = admin({"gen-key", "--id", "2026-q1"}, {});
  BOOST_TEST(ran.status == 0);
  BOOST_REQUIRE(ran.out.ends_with("\n"));
  auto parsed = crypto::Keyring::parse(ran.out.substr(0, ran.out.size() - 1));
  BOOST_REQUIRE(parsed.ok());
  BOOST_TEST(parsed->primary().id == "2026-q1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(check_config)

BOOST_AUTO_TEST_CASE(every_part_reached_gives_exit_0) {
  const std::string config =
      config_file("good", server_json("good", S().provider.token_endpoint()));
  const Ran ran =
      admin({"--config", config, "check-config"}, {{"CREDBROKER_KEYS", keys({{"new", &kNewKey}})}});
  BOOST_TEST(ran.status == 0, ran.out << ran.err);
  BOOST_TEST(row(ran.out, "config", config).find(" ok ") != std::string::npos);
  BOOST_TEST(row(ran.out, "keys", "CREDBROKER_KEYS").find("first key (seals): new") !=
             std::string::npos);
  BOOST_TEST(row(ran.out, "redis", "redis.url").find(" ok ") != std::string::npos);
  BOOST_TEST(row(ran.out, "identity_keys", S().issuer.jwks_path()).find("2 verification key(s)") !=
             std::string::npos);
  BOOST_TEST(row(ran.out, "token_endpoint", "good").find(" ok ") != std::string::npos);
  // No grant was sent: the provider saw one POST to its token endpoint, refused as a request.
  BOOST_TEST(S().provider.log().find("invalid_request") != std::string::npos, S().provider.log());
  no_secrets_in(ran);
}

BOOST_AUTO_TEST_CASE(the_shared_secret_identity_is_checked_by_its_variable_never_shown) {
  const std::string key = "HMAC-SENTINEL-gateway-token-key!";  // 32 bytes
  const std::string path = S().dir.file("hmac.json");
  write_file(path, R"({"public_base_url":"http://127.0.0.1:8080",)"
                   R"("identity":{"hmac_secret_env":"GATEWAY_TOKEN_KEY"},"redis":{"url":")" +
                       S().redis.url() + R"("},"servers":[]})");
  const Ran ran = admin({"--config", path, "check-config"},
                        {{"CREDBROKER_KEYS", keys({{"new", &kNewKey}})},
                         {"GATEWAY_TOKEN_KEY", crypto::base64_encode(key)}});
  BOOST_TEST(ran.status == 0, ran.out << ran.err);
  BOOST_TEST(row(ran.out, "identity_keys", "GATEWAY_TOKEN_KEY").find("1 verification key(s)") !=
             std::string::npos);
  for (const std::string& text : {ran.out, ran.err}) {
    BOOST_TEST(text.find("SENTINEL") == std::string::npos);
    BOOST_TEST(text.find(crypto::base64_encode(key)) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_token_endpoint_down_or_refusing_the_client_fails_its_row) {
  const std::string down = "http://127.0.0.1:" + std::to_string(free_port()) + "/token";
  const std::string config = config_file(
      "mixed", server_json("good", S().provider.token_endpoint()) + "," +
                   server_json("down", down) + "," +
                   server_json("wrongsecret", S().provider.token_endpoint(), "not-the-secret"));
  const Ran ran =
      admin({"--config", config, "check-config"}, {{"CREDBROKER_KEYS", keys({{"new", &kNewKey}})}});
  BOOST_TEST(ran.status == 1);
  BOOST_TEST(row(ran.out, "token_endpoint", "good").find(" ok ") != std::string::npos, ran.out);
  BOOST_TEST(
      row(ran.out, "token_endpoint", "down").find("FAIL    transport:connect") != std::string::npos,
      ran.out);
  BOOST_TEST(row(ran.out, "token_endpoint", "wrongsecret")
                     .find("FAIL    http_status 401 invalid_client") != std::string::npos,
             ran.out);
  no_secrets_in(ran);
}

BOOST_AUTO_TEST_CASE(redis_down_no_keys_or_a_bad_config_fail_their_rows) {
  const std::string config =
      config_file("noredis", server_json("good", S().provider.token_endpoint()),
                  "redis://127.0.0.1:" + std::to_string(free_port()) + "/0");
  const Ran ran = admin({"--config", config, "check-config"}, {});
  BOOST_TEST(ran.status == 1);
  BOOST_TEST(row(ran.out, "redis", "redis.url").find("FAIL    unreachable") != std::string::npos,
             ran.out);
  BOOST_TEST(row(ran.out, "keys", "CREDBROKER_KEYS").find("FAIL    not set") != std::string::npos,
             ran.out);
  BOOST_TEST(row(ran.out, "token_endpoint", "good").find(" ok ") != std::string::npos, ran.out);

  const std::string bad = S().dir.file("bad.json");
  write_file(bad, R"({"public_base_url": 7})");
  const Ran broken = admin({"check-config"}, {{"CREDBROKER_CONFIG", bad}});
  BOOST_TEST(broken.status == 1);
  BOOST_TEST(row(broken.out, "config", bad).find("FAIL") != std::string::npos, broken.out);

  const Ran bad_keys = admin({"--config", config, "check-config"},
                             {{"CREDBROKER_KEYS", "k1:" + crypto::base64_encode("short")}});
  BOOST_TEST(bad_keys.status == 1);
  BOOST_TEST(row(bad_keys.out, "keys", "CREDBROKER_KEYS").find("32 bytes") != std::string::npos,
             bad_keys.out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(store_commands)

BOOST_AUTO_TEST_CASE(rotate_stats_and_purge_user_end_to_end) {
  S().redis.ensure_running();
  S().redis.flushall();
  const std::string config =
      config_file("store", server_json("good", S().provider.token_endpoint()));
  auto redis = store::make_hiredis(S().redis.config());
  crypto::Keyring old_ring({crypto::Key{"old", kOldKey}});
  audit::Log log(audit::stderr_sink(), "admin-cli-test");
  store::CredentialStore store(*redis, old_ring, crypto::system_random(), "credbroker:", log);
  {
    for (const std::string user : {"alice", "bob"}) {
      store::Credential c;
      c.access_token = "at-" + user;
      c.refresh_token = "rt-" + user;
      BOOST_REQUIRE(store.put(user, "good_0123456789abcdef", c));
    }
  }
  const std::string both = keys({{"new", &kNewKey}, {"old", &kOldKey}});

  BOOST_TEST(admin({"--config", config, "rotate"}, {}).status == 4);  // no keys
  const Ran rotated = admin({"--config", config, "rotate"}, {{"CREDBROKER_KEYS", both}});
  BOOST_TEST(rotated.status == 0, rotated.out << rotated.err);
  BOOST_TEST(rotated.out.find("resealed=2") != std::string::npos, rotated.out);
  BOOST_TEST(rotated.out.find("rotate: 2/2 users\n") != std::string::npos, rotated.out);
  no_secrets_in(rotated);

  const std::string new_only = keys({{"new", &kNewKey}});
  const Ran again = admin({"--config", config, "rotate"}, {{"CREDBROKER_KEYS", new_only}});
  BOOST_TEST(again.status == 0, again.out << again.err);
  BOOST_TEST(again.out.find("resealed=0 already_current=2") != std::string::npos, again.out);

  const Ran counted = admin({"--config", config, "stats"}, {{"CREDBROKER_KEYS", new_only}});
  BOOST_TEST(counted.status == 0, counted.err);
  BOOST_TEST(counted.out.find("users 2\nrecords 2\n") != std::string::npos, counted.out);
  BOOST_TEST(counted.out.find("alice") == std::string::npos);
  no_secrets_in(counted);

  const Ran purged =
      admin({"--config", config, "purge-user", "alice"}, {{"CREDBROKER_KEYS", new_only}});
  BOOST_TEST(purged.status == 0, purged.err);
  BOOST_TEST(purged.out.find("purge-user alice: credentials=1") != std::string::npos, purged.out);
  BOOST_TEST(purged.err.find(R"("audit_event":"purged")") != std::string::npos, purged.err);
  BOOST_TEST(S().redis.cli({"EXISTS", store.hash_key("alice")}).integer == 0);
  BOOST_TEST(S().redis.cli({"EXISTS", store.hash_key("bob")}).integer == 1);
  no_secrets_in(purged);

  S().redis.stop();
  BOOST_TEST(admin({"--config", config, "stats"}, {{"CREDBROKER_KEYS", new_only}}).status == 3);
  BOOST_TEST(admin({"--config", config, "rotate"}, {{"CREDBROKER_KEYS", new_only}}).status == 3);
  BOOST_TEST(
      admin({"--config", config, "purge-user", "bob"}, {{"CREDBROKER_KEYS", new_only}}).status ==
      3);
  S().redis.start();
}

BOOST_AUTO_TEST_CASE(migrate_keys_moves_credentials_stored_before_the_hash_tags_once) {
  S().redis.ensure_running();
  S().redis.flushall();
  const std::string config =
      config_file("migrate", server_json("good", S().provider.token_endpoint()));
  auto redis = store::make_hiredis(S().redis.config());
  crypto::Keyring ring({crypto::Key{"old", kOldKey}});
  audit::Log log(audit::stderr_sink(), "admin-cli-test");
  store::CredentialStore store(*redis, ring, crypto::system_random(), "credbroker:", log);
  store::Credential c;
  c.access_token = "at-carol";
  BOOST_REQUIRE(store.put("carol", "good_0123456789abcdef", c));
  // Where an earlier version kept it.
  S().redis.cli({"RENAME", store.hash_key("carol"), "credbroker:cred:{carol}"});
  BOOST_REQUIRE(!store.load("carol", "good_0123456789abcdef")->has_value());

  const Ran moved = admin({"--config", config, "migrate-keys"}, {});
  BOOST_TEST(moved.status == 0, moved.out << moved.err);
  BOOST_TEST(moved.out.find("migrate-keys: 1 users, 1 records moved") != std::string::npos,
             moved.out);
  BOOST_TEST(S().redis.cli({"EXISTS", "credbroker:cred:{carol}"}).integer == 0);
  const auto loaded = store.load("carol", "good_0123456789abcdef");
  BOOST_REQUIRE(loaded.ok());
  BOOST_REQUIRE(loaded->has_value());
  BOOST_TEST((*loaded)->access_token == "at-carol");
  no_secrets_in(moved);
  // Again: nothing left to move.
  const Ran again = admin({"--config", config, "migrate-keys"}, {});
  BOOST_TEST(again.status == 0, again.err);
  BOOST_TEST(again.out.find("migrate-keys: 0 users, 0 records moved") != std::string::npos,
             again.out);

  S().redis.stop();
  BOOST_TEST(admin({"--config", config, "migrate-keys"}, {}).status == 3);
  S().redis.start();
}

BOOST_AUTO_TEST_SUITE_END()
