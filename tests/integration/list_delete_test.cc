// The list and disconnect routes end to end: real redis-server, real lighttpd spawning the real
// handlers, real HTTP on loopback, tokens minted here.
#define BOOST_TEST_MODULE integration_list_delete
#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>

#include "shared/crypto/base64.h"
#include "shared/http/request.h"
#include "shared/store/user_keys.h"
#include "shared/util/clock.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kAccessSentinel = "ACCESS-TOKEN-SENTINEL-5d1e0b";
constexpr std::string_view kRefreshSentinel = "REFRESH-TOKEN-SENTINEL-a77c42";

struct Suite : SuiteInstance<Suite> {
  Suite()
      : stack(start_front(issuer, {.redis_url = redis.url()})),
        disabled(start_front(issuer, {.redis_url = redis.url(), .sealing = false})) {}
  RedisServer redis;
  TestIssuer issuer;
  std::unique_ptr<Front> stack;
  std::unique_ptr<Front> disabled;
};
CREDBROKER_TEST_SUITE(Suite)

/** Each case starts from an empty keyspace and a running Redis. */
struct Clean {
  Clean() {
    S().redis.reset();
  }
};

rapidjson::Document json(const Answer& a) {
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  return d;
}

/** The list entry for `server`, which must exist. */
const rapidjson::Value& entry(const rapidjson::Document& d, std::string_view server) {
  for (const auto& e : d["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return e;
  }
  BOOST_FAIL("no entry for " << server);
  throw std::logic_error("unreachable");
}

std::string str(const rapidjson::Value& v, const char* key) {
  BOOST_TEST_REQUIRE(v.HasMember(key), "missing " << key);
  return v[key].GetString();
}

store::Credential credential(std::int64_t expires_at) {
  store::Credential c;
  c.access_token = std::string(kAccessSentinel);
  c.refresh_token = std::string(kRefreshSentinel);
  c.token_type = "Bearer";
  c.expires_at = expires_at;
  c.scopes = {"repo", "read:org"};
  c.audience = "https://github.example.test";
  c.obtained_via = "connect_flow";
  c.updated_at = 1'790'000'000;
  return c;
}

void seed(std::string_view user, std::string_view server, std::int64_t expires_at) {
  seed_credential(S().redis.url(), S().stack->keys(), user, default_server_key(server),
                  credential(expires_at));
}

std::int64_t now() {
  return system_clock().now_seconds();
}

void expect_error_body(const Answer& a, int status, std::string_view message) {
  BOOST_TEST(a.status == status);
  BOOST_TEST(a.body == "{\"error\":\"" + std::string(http::reason_phrase(status)) +
                           "\",\"message\":" + http::json_quote(message) +
                           ",\"status_code\":" + std::to_string(status) + "}");
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(list, Clean)

BOOST_AUTO_TEST_CASE(without_credentials_every_brokered_server_is_not_connected_sorted_by_name) {
  const auto a = S().stack->get(kList, S().issuer.token("alice"));
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  BOOST_TEST(a.body == R"({"credentials":[)"
                       R"({"server":"Docs Wiki","mode":"oauth_connect","status":"not_connected",)"
                       R"("connect_path":"/api/v1/user/credentials/Docs%20Wiki/connect"},)"
                       R"({"server":"github","mode":"oauth_connect","status":"not_connected",)"
                       R"("connect_path":"/api/v1/user/credentials/github/connect"},)"
                       R"({"server":"jira","mode":"token_exchange","status":"not_connected"}]})");
}

BOOST_AUTO_TEST_CASE(connected_credential_shows_metadata_and_never_a_token) {
  const std::int64_t expires = now() + 3600;
  seed("alice", "github", expires);
  const auto a = S().stack->get(kList, S().issuer.token("alice"));
  BOOST_TEST(a.status == 200);
  const auto d = json(a);
  const auto& gh = entry(d, "github");
  BOOST_TEST(str(gh, "status") == "connected");
  BOOST_TEST(str(gh, "token_type") == "Bearer");
  BOOST_TEST(gh["scopes"].Size() == 2u);
  BOOST_TEST(std::string(gh["scopes"][0].GetString()) == "repo");
  BOOST_TEST(str(gh, "audience") == "https://github.example.test");
  BOOST_TEST(str(gh, "obtained_via") == "connect_flow");
  BOOST_TEST(str(gh, "expires_at") == format_rfc3339(expires));
  BOOST_TEST(str(gh, "updated_at") == "2026-09-21T14:13:20Z");
  BOOST_TEST(!gh.HasMember("connect_path"));
  for (const auto* secret : {&kAccessSentinel, &kRefreshSentinel}) {
    BOOST_TEST(a.body.find(*secret) == std::string::npos);
    for (const auto& [k, v] : a.headers) BOOST_TEST(v.find(*secret) == std::string::npos);
    BOOST_TEST(S().stack->log().find(*secret) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(
    credential_past_its_expiry_without_refresh_token_is_expired_with_a_connect_path) {
  auto c = credential(now() - 10);
  c.refresh_token.clear();
  seed_credential(S().redis.url(), S().stack->keys(), "alice", default_server_key("github"), c);
  const auto d = json(S().stack->get(kList, S().issuer.token("alice")));
  const auto& gh = entry(d, "github");
  BOOST_TEST(str(gh, "status") == "expired");
  BOOST_TEST(str(gh, "connect_path") == "/api/v1/user/credentials/github/connect");
}

BOOST_AUTO_TEST_CASE(credential_past_its_expiry_with_a_refresh_token_is_connected) {
  // It is refreshed on its next use (resolve), so the user has nothing to do.
  seed("alice", "github", now() - 10);
  const auto d = json(S().stack->get(kList, S().issuer.token("alice")));
  const auto& gh = entry(d, "github");
  BOOST_TEST(str(gh, "status") == "connected");
  BOOST_TEST(!gh.HasMember("connect_path"));
}

BOOST_AUTO_TEST_CASE(a_user_never_sees_another_users_credential) {
  seed("bob", "github", now() + 3600);
  const auto d = json(S().stack->get(kList, S().issuer.token("alice")));
  BOOST_TEST(str(entry(d, "github"), "status") == "not_connected");
  const auto b = json(S().stack->get(kList, S().issuer.token("bob")));
  BOOST_TEST(str(entry(b, "github"), "status") == "connected");
}

BOOST_AUTO_TEST_CASE(a_record_copied_into_another_users_hash_does_not_open) {
  seed("bob", "github", now() + 3600);
  const std::string field = default_server_key("github");
  const auto record = S().redis.cli({"HGET", store::credential_key("credbroker:", "bob"), field});
  S().redis.cli({"HSET", store::credential_key("credbroker:", "alice"), field, record.str});
  const auto d = json(S().stack->get(kList, S().issuer.token("alice")));
  BOOST_TEST(str(entry(d, "github"), "status") == "not_connected");
  const auto log = S().stack->log();
  BOOST_TEST(log.find("credential_unreadable") != std::string::npos);
  BOOST_TEST(log.find(kAccessSentinel) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(redis_down_makes_every_entry_unavailable_and_recovers_without_restart) {
  seed("alice", "github", now() + 3600);
  S().redis.stop();
  const auto token = S().issuer.token("alice");
  const auto down = S().stack->get(kList, token);
  BOOST_TEST(down.status == 200);
  const auto d = json(down);
  for (const auto& e : d["credentials"].GetArray()) {
    BOOST_TEST(std::string(e["status"].GetString()) == "unavailable");
    BOOST_TEST(!e.HasMember("connect_path"));
  }
  expect_error_body(S().stack->del("/api/v1/user/credentials/github", token), 503,
                    "Credential store is unavailable");
  BOOST_TEST(S().stack->log().find("store_unavailable") != std::string::npos);

  S().redis.start();
  seed("alice", "github", now() + 3600);  // the restarted server lost its data
  const auto up = json(S().stack->get(kList, token));
  BOOST_TEST(str(entry(up, "github"), "status") == "connected");
  BOOST_TEST(S().stack->del("/api/v1/user/credentials/github", token).status == 200);
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_every_entry_is_unavailable) {
  const auto a = S().disabled->get(kList, S().issuer.token("alice"));
  BOOST_TEST(a.status == 200);
  const auto d = json(a);
  BOOST_TEST(d["credentials"].Size() == 3u);
  for (const auto& e : d["credentials"].GetArray()) {
    BOOST_TEST(std::string(e["status"].GetString()) == "unavailable");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(disconnect, Clean)

BOOST_AUTO_TEST_CASE(delete_removes_the_callers_credential_and_is_idempotent) {
  seed("alice", "github", now() + 3600);
  const auto token = S().issuer.token("alice");
  const auto a = S().stack->del("/api/v1/user/credentials/github", token);
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  BOOST_TEST(str(entry(json(S().stack->get(kList, token)), "github"), "status") == "not_connected");
  BOOST_TEST(S().stack->del("/api/v1/user/credentials/github", token).status == 200);
}

BOOST_AUTO_TEST_CASE(name_is_percent_decoded_trimmed_and_matched_case_insensitively) {
  seed("alice", "Docs Wiki", now() + 3600);
  seed("alice", "github", now() + 3600);
  const auto token = S().issuer.token("alice");
  const auto wiki = S().stack->del("/api/v1/user/credentials/%20docs%20WIKI%20", token);
  BOOST_TEST(wiki.body ==
             R"({"message":"Disconnected credential for \"Docs Wiki\"","revoked":[]})");
  const auto gh = S().stack->del("/api/v1/user/credentials/GitHub", token);
  BOOST_TEST(gh.body == R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  const auto d = json(S().stack->get(kList, token));
  BOOST_TEST(str(entry(d, "Docs Wiki"), "status") == "not_connected");
  BOOST_TEST(str(entry(d, "github"), "status") == "not_connected");
}

BOOST_AUTO_TEST_CASE(delete_touches_only_the_callers_own_record) {
  seed("bob", "github", now() + 3600);
  BOOST_TEST(S().stack->del("/api/v1/user/credentials/github", S().issuer.token("alice")).status ==
             200);
  BOOST_TEST(S().redis.cli({"HLEN", store::credential_key("credbroker:", "bob")}).integer == 1);
}

BOOST_AUTO_TEST_CASE(unknown_or_unbrokered_server_is_404_and_empty_name_is_400) {
  const auto token = S().issuer.token("alice");
  expect_error_body(S().stack->del("/api/v1/user/credentials/nope", token), 404,
                    "Unknown server \"nope\"");
  expect_error_body(S().stack->del("/api/v1/user/credentials/plain", token), 404,
                    "Unknown server \"plain\"");
  expect_error_body(S().stack->del("/api/v1/user/credentials/%20", token), 400,
                    "Server name is required");
  expect_error_body(S().stack->del("/api/v1/user/credentials/", token), 400,
                    "Server name is required");
  // nginx and Apache decode the path before routing and refuse malformed percent-encoding
  // themselves, in the same JSON shape (infra/nginx, infra/apache); lighttpd passes it on.
  const bool front_decodes = S().stack->kind() == "nginx" || S().stack->kind() == "apache-fcgid" ||
                             S().stack->kind() == "apache-proxy-fcgi";
  if (S().stack->kind() == "lambda") {
    // An HTTP API hands the path over decoded (the emulator passes an undecodable one as it came):
    // its '%' is data, encoded again by the adapter, so the route decodes it once into the name.
    expect_error_body(S().stack->del("/api/v1/user/credentials/%zz", token), 404,
                      "Unknown server \"%zz\"");
    return;
  }
  expect_error_body(
      S().stack->del("/api/v1/user/credentials/%zz", token), 400,
      front_decodes ? "Malformed request" : "Server name is not valid percent-encoding");
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_delete_is_503_not_enabled) {
  expect_error_body(S().disabled->del("/api/v1/user/credentials/github", S().issuer.token("alice")),
                    503, "Credential broker is not enabled");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(every_handler, Clean)

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow) {
  const std::string bearer = "Bearer " + S().issuer.token("alice");
  auto a = S().stack->request("POST", kList, {{"Authorization", bearer}}, "{}");
  expect_error_body(a, 405, "Method not allowed");
  BOOST_TEST(a.header("allow").value_or("") == "GET");
  a = S().stack->request("GET", "/api/v1/user/credentials/github", {{"Authorization", bearer}});
  expect_error_body(a, 405, "Method not allowed");
  BOOST_TEST(a.header("allow").value_or("") == "DELETE");
  a = S().stack->request("PUT", "/api/v1/user/credentials/github/connect",
                         {{"Authorization", bearer}});
  BOOST_TEST(a.status == 405);
  BOOST_TEST(a.header("allow").value_or("") == "GET");
}

BOOST_AUTO_TEST_CASE(unknown_api_path_is_a_json_404) {
  const auto token = S().issuer.token("alice");
  expect_error_body(S().stack->get("/api/v1/nothing/here", token), 404, "Not found");
  expect_error_body(S().stack->get("/api/v1/user/credentials/github/elsewhere", token), 404,
                    "Not found");
}

BOOST_AUTO_TEST_CASE(no_or_bad_identity_is_401_with_www_authenticate) {
  auto a = S().stack->request("GET", kList);
  expect_error_body(a, 401, "Authentication required");
  BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer");

  const auto& key = S().issuer.key();
  const auto claims = [] { return S().issuer.claims("alice"); };
  const std::int64_t t = now();
  const auto other = generate_key(identity::Alg::kES256, "test-key-1");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"expired", mint(key, claims().exp(t - 3600))},
      {"no exp", mint(key, claims())},
      {"not yet valid", mint(key, claims().exp(t + 7200).nbf(t + 3600))},
      {"wrong issuer", mint(key, claims().exp(t + 600).iss("https://evil.test"))},
      {"wrong audience", mint(key, claims().exp(t + 600).aud("someone-else"))},
      {"unknown kid", mint(generate_key(identity::Alg::kES256, "nope"), claims().exp(t + 600))},
      {"other key, same kid", mint(other, claims().exp(t + 600))},
      {"alg none", crypto::base64url_encode(R"({"alg":"none","kid":"test-key-1"})") + "." +
                       crypto::base64url_encode(claims().exp(t + 600).json()) + "."},
      {"hs256 with the public key",
       hs256(public_key_pem(key), R"({"alg":"HS256","kid":"test-key-1"})",
             claims().exp(t + 600).json())},
      {"garbage", "not.a.jwt"}};
  for (const auto& [what, token] : bad) {
    BOOST_TEST_CONTEXT(what) {
      const auto r = S().stack->get(kList, token);
      expect_error_body(r, 401, "Authentication required");
      BOOST_TEST(r.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"");
    }
  }
  a = S().stack->request("GET", kList, {{"Authorization", "Basic YWxpY2U6cHc="}});
  BOOST_TEST(a.status == 401);
}

BOOST_AUTO_TEST_CASE(health_needs_no_identity_and_names_a_failing_redis) {
  auto a = S().stack->request("GET", "/api/v1/healthz");
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == R"({"status":"ok"})");
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  BOOST_TEST(S().stack->request("POST", "/api/v1/healthz").status == 405);
  S().redis.stop();
  a = S().stack->request("GET", "/api/v1/healthz");
  BOOST_TEST(a.status == 503);
  BOOST_TEST(a.body == R"({"status":"unavailable","checks":{"config":"ok","redis":"failing"}})");
  S().redis.start();
  BOOST_TEST(S().stack->request("GET", "/api/v1/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(one_log_line_per_request_without_the_token) {
  const auto token = S().issuer.token("log-user");
  S().stack->get(kList, token);
  const auto log = S().stack->log();
  BOOST_TEST(
      log.find(
          R"("event":"request","method":"GET","route":"list","path":"/api/v1/user/credentials","status":200,"user":"log-user")") !=
      std::string::npos);
  BOOST_TEST(log.find("duration_ms") != std::string::npos);
  BOOST_TEST(log.find(token) == std::string::npos);
  BOOST_TEST(log.find(token.substr(token.rfind('.') + 1)) == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
