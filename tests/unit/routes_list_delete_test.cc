// The list, delete and health routes and the common answers (404, 405 with Allow, 401), with the
// real config, Authenticator and stores over an in-memory Redis: exact bodies, the number of Redis
// commands, and what a disabled or unreachable store turns into.
#define BOOST_TEST_MODULE routes_list_delete
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "shared/routes/routes.h"
#include "shared/runtime/lambda_event.h"
#include "shared/runtime/runtime.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "tests/support/route_harness.h"

namespace credbroker::routes {
namespace {

using testing::RouteHarness;
using testing::RouteOptions;
using Argv = std::vector<std::string>;

constexpr char kList[] = "/api/v1/user/credentials";

std::string error_body(std::string_view error, std::string_view message, int status) {
  return R"({"error":")" + std::string(error) + R"(","message":)" + http::json_quote(message) +
         R"(,"status_code":)" + std::to_string(status) + "}";
}

store::Credential full_credential() {
  store::Credential c;
  c.access_token = "AT-SENTINEL-list";
  c.refresh_token = "RT-SENTINEL-list";
  c.token_type = "Bearer";
  c.expires_at = RouteHarness::kNow + 3600;
  c.scopes = {"repo", "read:org"};
  c.audience = "https://api.github.test";
  c.obtained_via = "connect_flow";
  c.updated_at = RouteHarness::kNow - 1000;
  return c;
}

void store_credential(RouteHarness& h, std::string_view user, std::string_view server,
                      const store::Credential& c) {
  BOOST_TEST_REQUIRE(h.credentials.put(user, h.server(server).key, c).ok());
  h.redis.log.clear();
}

void check_json(const http::Response& r, int status, const std::string& body) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json");
  BOOST_TEST(r.header("Cache-Control").value_or("") == "no-store");
}

constexpr char kAllNotConnected[] =
    R"({"credentials":[)"
    R"({"server":"Basic Wiki","mode":"oauth_connect","status":"not_connected",)"
    R"("connect_path":"/api/v1/user/credentials/Basic%20Wiki/connect"},)"
    R"({"server":"github","mode":"oauth_connect","status":"not_connected",)"
    R"("connect_path":"/api/v1/user/credentials/github/connect"},)"
    R"({"server":"jira","mode":"token_exchange","status":"not_connected"}]})";

constexpr char kAllUnavailable[] =
    R"({"credentials":[)"
    R"({"server":"Basic Wiki","mode":"oauth_connect","status":"unavailable"},)"
    R"({"server":"github","mode":"oauth_connect","status":"unavailable"},)"
    R"({"server":"jira","mode":"token_exchange","status":"unavailable"}]})";

}  // namespace

BOOST_AUTO_TEST_SUITE(list_route)

BOOST_AUTO_TEST_CASE(nothing_stored_lists_every_brokered_server_as_not_connected) {
  RouteHarness h;
  check_json(h.list(h.request("GET", kList)), 200, kAllNotConnected);
}

BOOST_AUTO_TEST_CASE(the_list_is_exactly_one_read_of_the_callers_records_and_generations) {
  RouteHarness h;
  store_credential(h, "alice", "github", full_credential());
  BOOST_TEST(h.list(h.request("GET", kList)).status == 200);
  const auto ran = h.redis.ran();
  BOOST_TEST_REQUIRE(ran.size() == 1u);
  BOOST_TEST(
      ran[0] == (Argv{"EVALSHA", store::script_sha(store::scripts::kLoadCredentials), "2",
                      h.credentials.hash_key("alice"), h.credentials.generation_key("alice")}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_connected_credential_shows_its_metadata_and_never_a_token) {
  RouteHarness h;
  store_credential(h, "alice", "github", full_credential());
  const auto r = h.list(h.request("GET", kList));
  check_json(r, 200,
             R"({"credentials":[)"
             R"({"server":"Basic Wiki","mode":"oauth_connect","status":"not_connected",)"
             R"("connect_path":"/api/v1/user/credentials/Basic%20Wiki/connect"},)"
             R"({"server":"github","mode":"oauth_connect","status":"connected",)"
             R"("token_type":"Bearer","scopes":["repo","read:org"],)"
             R"("audience":"https://api.github.test","obtained_via":"connect_flow",)"
             R"("expires_at":"2027-01-15T09:00:00Z","updated_at":"2027-01-15T07:43:20Z"},)"
             R"({"server":"jira","mode":"token_exchange","status":"not_connected"}]})");
  BOOST_TEST(r.body.find("SENTINEL") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_optional_fields_are_omitted) {
  RouteHarness h;
  store::Credential bare;
  bare.access_token = "AT-SENTINEL-bare";
  bare.token_type.clear();
  store_credential(h, "alice", "jira", bare);
  const auto r = h.list(h.request("GET", kList));
  BOOST_TEST(r.body.find(R"({"server":"jira","mode":"token_exchange","status":"connected"})") !=
                 std::string::npos,
             r.body);
}

BOOST_AUTO_TEST_CASE(
    a_credential_expiring_now_without_refresh_token_is_expired_and_offers_connect) {
  RouteHarness h;
  auto c = full_credential();
  c.expires_at = RouteHarness::kNow;
  c.refresh_token.clear();
  store_credential(h, "alice", "github", c);
  store_credential(h, "alice", "jira", full_credential());
  auto exchanged = full_credential();
  exchanged.expires_at = RouteHarness::kNow;
  store_credential(h, "alice", "jira", exchanged);
  const auto r = h.list(h.request("GET", kList));
  BOOST_TEST(r.body.find(R"({"server":"github","mode":"oauth_connect","status":"expired",)") !=
                 std::string::npos,
             r.body);
  BOOST_TEST(
      r.body.find(R"("expires_at":"2027-01-15T08:00:00Z","updated_at":"2027-01-15T07:43:20Z",)"
                  R"("connect_path":"/api/v1/user/credentials/github/connect"})") !=
          std::string::npos,
      r.body);
  // An exchanged credential past its expiry is expired (a refresh token never renews it), and
  // token_exchange servers have no connect flow to offer.
  BOOST_TEST(r.body.find(R"({"server":"jira","mode":"token_exchange","status":"expired",)") !=
                 std::string::npos,
             r.body);
  BOOST_TEST(r.body.find("jira/connect") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_expired_credential_with_a_refresh_token_is_connected) {
  RouteHarness h;
  auto c = full_credential();
  c.expires_at = RouteHarness::kNow - 3600;
  BOOST_TEST_REQUIRE(!c.refresh_token.empty());
  store_credential(h, "alice", "github", c);
  const auto r = h.list(h.request("GET", kList));
  BOOST_TEST(r.body.find(R"({"server":"github","mode":"oauth_connect","status":"connected",)") !=
                 std::string::npos,
             r.body);
  BOOST_TEST(r.body.find("github/connect") == std::string::npos, "it is refreshed on use");
}

BOOST_AUTO_TEST_CASE(a_credential_whose_refresh_was_refused_is_expired_and_offers_connect) {
  RouteHarness h;
  auto c = full_credential();
  c.access_token.clear();
  c.refresh_token.clear();
  c.reconnect_required = true;
  store_credential(h, "alice", "github", c);
  const auto r = h.list(h.request("GET", kList));
  BOOST_TEST(r.body.find(R"({"server":"github","mode":"oauth_connect","status":"expired",)") !=
                 std::string::npos,
             r.body);
  BOOST_TEST(r.body.find(R"("connect_path":"/api/v1/user/credentials/github/connect"})") !=
                 std::string::npos,
             r.body);
}

BOOST_AUTO_TEST_CASE(one_second_before_expiry_is_still_connected) {
  RouteHarness h;
  auto c = full_credential();
  c.expires_at = RouteHarness::kNow + 1;
  store_credential(h, "alice", "github", c);
  BOOST_TEST(h.list(h.request("GET", kList)).body.find(R"("status":"connected")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(another_users_credentials_are_not_listed) {
  RouteHarness h;
  store_credential(h, "bob", "github", full_credential());
  check_json(h.list(h.request("GET", kList, "alice")), 200, kAllNotConnected);
}

BOOST_AUTO_TEST_CASE(an_unreadable_record_lists_as_not_connected_and_is_logged) {
  RouteHarness h;
  h.redis.hashes[h.credentials.hash_key("alice")][h.server("github").key] = "not a sealed record";
  check_json(h.list(h.request("GET", kList)), 200, kAllNotConnected);
  BOOST_TEST(h.sink.events("credential_unreadable").size() == 1u);
}

BOOST_AUTO_TEST_CASE(redis_unreachable_lists_every_server_as_unavailable) {
  RouteHarness h;
  h.redis.down = true;
  check_json(h.list(h.request("GET", kList)), 200, kAllUnavailable);
  BOOST_TEST(h.redis.log.size() == 1u);
  BOOST_TEST(h.sink.events("redis_unavailable").size() == 1u);
  BOOST_TEST(h.sink.events("request").at(0).find(R"("reason":"store_unavailable")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_every_server_is_unavailable_and_redis_untouched) {
  RouteHarness h(RouteOptions{.sealing_key = false});
  check_json(h.list(h.request("GET", kList)), 200, kAllUnavailable);
  BOOST_TEST(h.redis.log.empty());
  BOOST_TEST(h.sink.events("request").at(0).find(R"("reason":"store_disabled")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(servers_are_sorted_by_name_ignoring_case) {
  const std::string broker =
      R"({"mode": "token_exchange", "token_endpoint": "https://t.test/token", "client_id": "c",
          "client_secret": "s"})";
  RouteHarness h(RouteOptions{
      .servers = R"([{"name": "Zed", "url": "https://z.test", "auth_broker": )" + broker + R"(},
      {"name": "beta", "url": "https://b.test", "auth_broker": )" +
                 broker + R"(},
      {"name": "Alpha", "url": "https://a.test", "auth_broker": )" +
                 broker + "}]"});
  check_json(h.list(h.request("GET", kList)), 200,
             R"({"credentials":[)"
             R"({"server":"Alpha","mode":"token_exchange","status":"not_connected"},)"
             R"({"server":"beta","mode":"token_exchange","status":"not_connected"},)"
             R"({"server":"Zed","mode":"token_exchange","status":"not_connected"}]})");
}

BOOST_AUTO_TEST_CASE(connect_path_percent_encodes_the_name) {
  RouteHarness h(RouteOptions{.servers = R"([{"name": "Ünï & Co+1", "url": "https://u.test",
        "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "https://u.test/a",
                        "token_endpoint": "https://u.test/t", "client_id": "c",
                        "client_secret": "s"}}])"});
  check_json(
      h.list(h.request("GET", kList)), 200,
      R"({"credentials":[{"server":"Ünï & Co+1","mode":"oauth_connect",)"
      R"("status":"not_connected",)"
      R"("connect_path":"/api/v1/user/credentials/%C3%9Cn%C3%AF%20%26%20Co%2B1/connect"}]})");
}

BOOST_AUTO_TEST_CASE(no_brokered_servers_is_an_empty_list) {
  RouteHarness h(RouteOptions{.servers = R"([{"name": "plain", "url": "https://plain.test"}])"});
  check_json(h.list(h.request("GET", kList)), 200, R"({"credentials":[]})");
}

BOOST_AUTO_TEST_CASE(a_trailing_slash_is_the_same_list) {
  RouteHarness h;
  check_json(h.list(h.request("GET", "/api/v1/user/credentials/")), 200, kAllNotConnected);
}

BOOST_AUTO_TEST_CASE(the_query_string_is_ignored) {
  RouteHarness h;
  check_json(h.list(h.request("GET", "/api/v1/user/credentials?status=connected")), 200,
             kAllNotConnected);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(delete_route)

BOOST_AUTO_TEST_CASE(delete_removes_only_the_callers_record_and_says_so) {
  RouteHarness h;
  store_credential(h, "alice", "github", full_credential());
  store_credential(h, "bob", "github", full_credential());
  const auto r = h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github"));
  check_json(r, 200, R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  const auto ran = h.redis.ran();
  BOOST_TEST_REQUIRE(ran.size() == 2u);
  const std::string key = h.server("github").key;
  BOOST_TEST(
      ran[0] == (Argv{"EVALSHA", store::script_sha(store::scripts::kLoadCredential), "2",
                      h.credentials.hash_key("alice"), h.credentials.generation_key("alice"), key}),
      boost::test_tools::per_element());
  BOOST_TEST(
      ran[1] == (Argv{"EVALSHA", store::script_sha(store::scripts::kRemoveCredential), "2",
                      h.credentials.hash_key("alice"), h.credentials.generation_key("alice"), key}),
      boost::test_tools::per_element());
  BOOST_TEST(!h.redis.hashes.contains(h.credentials.hash_key("alice")));
  BOOST_TEST(h.redis.hashes.at(h.credentials.hash_key("bob")).size() == 1u);
  // The generation moved, for alice's github only.
  BOOST_TEST(h.redis.hashes.at(h.credentials.generation_key("alice")).at(key) == "1");
  BOOST_TEST(!h.redis.hashes.contains(h.credentials.generation_key("bob")));
  BOOST_TEST(h.sink.events("credential_disconnected").size() == 1u);
}

BOOST_AUTO_TEST_CASE(deleting_nothing_is_still_200) {
  RouteHarness h;
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/jira")), 200,
             R"({"message":"Disconnected credential for \"jira\"","revoked":[]})");
}

BOOST_AUTO_TEST_CASE(the_name_is_decoded_trimmed_and_matched_ignoring_case) {
  RouteHarness h;
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/%20GitHub%09")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/basic%20wiki")), 200,
             R"({"message":"Disconnected credential for \"Basic Wiki\"","revoked":[]})");
  const auto ran = h.redis.ran();
  BOOST_TEST_REQUIRE(ran.size() == 4u);
  BOOST_TEST(ran[3].at(1) == store::script_sha(store::scripts::kRemoveCredential));
  BOOST_TEST(ran[3].at(5) == h.server("Basic Wiki").key);
}

BOOST_AUTO_TEST_CASE(an_empty_name_is_400) {
  RouteHarness h;
  for (const char* path : {"/api/v1/user/credentials/", "/api/v1/user/credentials/%20%20"}) {
    check_json(h.disconnect(h.request("DELETE", path)), 400,
               error_body("Bad Request", "Server name is required", 400));
  }
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(bad_percent_encoding_is_400) {
  RouteHarness h;
  for (const char* path : {"/api/v1/user/credentials/git%zzhub", "/api/v1/user/credentials/%4",
                           "/api/v1/user/credentials/a%00b"}) {
    check_json(h.disconnect(h.request("DELETE", path)), 400,
               error_body("Bad Request", "Server name is not valid percent-encoding", 400));
  }
}

BOOST_AUTO_TEST_CASE(unknown_or_unbrokered_servers_are_404_naming_them) {
  RouteHarness h;
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/nope")), 404,
             error_body("Not Found", "Unknown server \"nope\"", 404));
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/plain")), 404,
             error_body("Not Found", "Unknown server \"plain\"", 404));
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(an_unprintable_or_huge_unknown_name_is_not_repeated) {
  RouteHarness h;
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/a%0D%0Ab")), 404,
             error_body("Not Found", "Unknown server", 404));
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/" + std::string(129, 'x'))),
             404, error_body("Not Found", "Unknown server", 404));
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_delete_is_503_not_enabled) {
  RouteHarness h(RouteOptions{.sealing_key = false});
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 503,
             error_body("Service Unavailable", "Credential broker is not enabled", 503));
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(redis_unreachable_delete_is_503_unavailable) {
  RouteHarness h;
  h.redis.down = true;
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 503,
             error_body("Service Unavailable", "Credential store is unavailable", 503));
  BOOST_TEST(h.sink.events("credential_disconnected").empty());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// github revokes at its revocation endpoint (client_secret_post), "Basic Wiki" too
// (client_secret_basic); jira has none.
constexpr char kRevokingServers[] = R"([
  {"name": "jira", "url": "https://jira.test",
   "auth_broker": {"mode": "token_exchange", "token_endpoint": "https://jira.test/token",
                   "client_id": "jira-client", "client_secret": "CS-SENTINEL-jira"}},
  {"name": "github", "url": "https://github.test/api",
   "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "https://as.test/authorize",
                   "token_endpoint": "https://as.test/token",
                   "revocation_endpoint": "https://as.test/revoke", "client_id": "gh-client",
                   "client_secret": "CS-SENTINEL-github"}},
  {"name": "Basic Wiki", "url": "https://wiki.test",
   "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "https://wiki.test/authorize",
                   "token_endpoint": "https://wiki.test/token",
                   "revocation_endpoint": "https://wiki.test/revoke", "client_id": "wiki",
                   "client_secret": "CS-SENTINEL-wiki",
                   "token_endpoint_auth_method": "client_secret_basic"}}
])";

RouteOptions revoking() {
  return RouteOptions{.servers = kRevokingServers};
}

/** The form a revocation of `token` with `hint` sends for github (client_secret_post). */
std::string github_revocation(std::string_view token, std::string_view hint) {
  return "token=" + std::string(token) + "&token_type_hint=" + std::string(hint) +
         "&client_id=gh-client&client_secret=CS-SENTINEL-github";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(delete_revokes)

BOOST_AUTO_TEST_CASE(delete_revokes_the_refresh_token_then_the_access_token_after_deleting) {
  RouteHarness h(revoking());
  store_credential(h, "alice", "github", full_credential());
  h.http.answer(200, "", "");
  // The record is already gone when the upstream is asked.
  h.http.on_send = [&h] { BOOST_TEST(!h.redis.hashes.contains(h.credentials.hash_key("alice"))); };
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"",)"
             R"("revoked":["refresh_token","access_token"]})");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 2u);
  for (const auto& r : h.http.requests) {
    BOOST_TEST(r.method == "POST");
    BOOST_TEST(r.url == "https://as.test/revoke");
    BOOST_TEST((r.headers == std::vector<std::pair<std::string, std::string>>{
                                 {"Content-Type", "application/x-www-form-urlencoded"},
                                 {"Accept", "application/json"}}));
  }
  BOOST_TEST(h.http.requests[0].body == github_revocation("RT-SENTINEL-list", "refresh_token"));
  BOOST_TEST(h.http.requests[1].body == github_revocation("AT-SENTINEL-list", "access_token"));
  const auto audit = h.sink.events("audit");
  BOOST_TEST_REQUIRE(audit.size() == 3u);
  BOOST_TEST(audit[1].find(R"("outcome":"accepted","token_type_hint":"refresh_token")") !=
             std::string::npos);
  BOOST_TEST(audit[2].find(R"("outcome":"accepted","token_type_hint":"access_token")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(revocation_uses_the_servers_client_authentication) {
  RouteHarness h(revoking());
  store_credential(h, "alice", "Basic Wiki", full_credential());
  h.http.answer(200, "", "");
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/basic%20wiki")), 200,
             R"({"message":"Disconnected credential for \"Basic Wiki\"",)"
             R"("revoked":["refresh_token","access_token"]})");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 2u);
  BOOST_TEST(h.http.requests[0].url == "https://wiki.test/revoke");
  BOOST_TEST(h.http.requests[0].body == "token=RT-SENTINEL-list&token_type_hint=refresh_token");
  BOOST_TEST(h.http.requests[0].headers.back().first == "Authorization");
  // base64("wiki:CS-SENTINEL-wiki")
  BOOST_TEST(h.http.requests[0].headers.back().second == "Basic d2lraTpDUy1TRU5USU5FTC13aWtp");
}

BOOST_AUTO_TEST_CASE(only_what_the_upstream_accepted_is_listed_and_the_record_is_gone_anyway) {
  RouteHarness h(revoking());
  store_credential(h, "alice", "github", full_credential());
  h.http.answer(400, "application/json", R"({"error":"unsupported_token_type"})");
  h.http.on_send = [&h] {
    if (h.http.requests.size() == 2) h.http.answer(200, "", "");
  };
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":["access_token"]})");
  BOOST_TEST(h.http.requests.size() == 2u);
  BOOST_TEST(!h.redis.hashes.contains(h.credentials.hash_key("alice")));
  const auto failed = h.sink.events("credential_revocation_failed");
  BOOST_TEST_REQUIRE(failed.size() == 1u);
  BOOST_TEST(failed[0].find(R"("oauth_error":"unsupported_token_type")") != std::string::npos);
  BOOST_TEST(failed[0].find("SENTINEL") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_does_not_answer_is_asked_once_and_nothing_is_listed) {
  RouteHarness h(revoking());
  store_credential(h, "alice", "github", full_credential());
  h.http.fail(http::FetchError::kTimeout);
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  BOOST_TEST(h.http.requests.size() == 1u);
  BOOST_TEST(!h.redis.hashes.contains(h.credentials.hash_key("alice")));
}

BOOST_AUTO_TEST_CASE(only_the_tokens_the_record_holds_are_revoked) {
  RouteHarness h(revoking());
  auto access_only = full_credential();
  access_only.refresh_token.clear();
  store_credential(h, "alice", "github", access_only);
  h.http.answer(200, "", "");
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":["access_token"]})");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  BOOST_TEST(h.http.requests[0].body == github_revocation("AT-SENTINEL-list", "access_token"));

  // A record the upstream already refused holds no tokens: nothing to revoke.
  auto refused = full_credential();
  refused.access_token.clear();
  refused.refresh_token.clear();
  refused.reconnect_required = true;
  store_credential(h, "alice", "github", refused);
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  BOOST_TEST(h.http.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(nothing_stored_or_no_revocation_endpoint_sends_nothing) {
  RouteHarness h(revoking());
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 200,
             R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  auto exchanged = full_credential();
  exchanged.obtained_via = "token_exchange";
  store_credential(h, "alice", "jira", exchanged);
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/jira")), 200,
             R"({"message":"Disconnected credential for \"jira\"","revoked":[]})");
  BOOST_TEST(h.http.requests.empty());
  BOOST_TEST(!h.redis.hashes.contains(h.credentials.hash_key("alice")));
}

BOOST_AUTO_TEST_CASE(a_record_that_could_not_be_deleted_is_503_and_never_revoked) {
  RouteHarness h(revoking());
  store_credential(h, "alice", "github", full_credential());
  h.http.answer(200, "", "");
  h.redis.failing = {"HDEL"};
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 503,
             error_body("Service Unavailable", "Credential store is unavailable", 503));
  h.redis.failing = {"HGET"};
  check_json(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")), 503,
             error_body("Service Unavailable", "Credential store is unavailable", 503));
  BOOST_TEST(h.http.requests.empty());
  BOOST_TEST(h.redis.hashes.contains(h.credentials.hash_key("alice")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(health_route)

BOOST_AUTO_TEST_CASE(redis_answering_ping_is_200_without_authentication) {
  RouteHarness h;
  for (const char* method : {"GET", "HEAD"}) {
    h.redis.log.clear();
    check_json(h.health(h.request(method, "/api/v1/healthz", "")), 200, R"({"status":"ok"})");
    BOOST_TEST((h.redis.log == std::vector<Argv>{{"PING"}}));
  }
}

BOOST_AUTO_TEST_CASE(redis_down_is_503_naming_redis) {
  RouteHarness h;
  h.redis.down = true;
  check_json(h.health(h.request("GET", "/api/v1/healthz", "")), 503,
             R"({"status":"unavailable","checks":{"config":"ok","redis":"failing"}})");
  BOOST_TEST(h.sink.events("request").at(0).find(R"("reason":"redis_unreachable")") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(health_does_not_need_a_sealing_key) {
  RouteHarness h(RouteOptions{.sealing_key = false});
  BOOST_TEST(h.health(h.request("GET", "/api/v1/healthz", "")).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(common_answers)

BOOST_AUTO_TEST_CASE(wrong_methods_are_405_with_allow_before_authentication) {
  RouteHarness h;
  struct Case {
    routes::RouteFn route;
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {routes::list, "POST", "/api/v1/user/credentials", "GET"},
      {routes::list, "DELETE", "/api/v1/user/credentials", "GET"},
      {routes::disconnect, "GET", "/api/v1/user/credentials/github", "DELETE"},
      {routes::connect, "POST", "/api/v1/user/credentials/github/connect", "GET"},
      {routes::callback, "POST", "/api/v1/user/credentials/github/callback", "GET"},
      {routes::health, "POST", "/api/v1/healthz", "GET, HEAD"},
  };
  for (const auto& c : cases) {
    const auto r = h.call(c.route, "test", h.request(c.method, c.path, ""));
    check_json(r, 405, error_body("Method Not Allowed", "Method not allowed", 405));
    BOOST_TEST(r.header("Allow").value_or("") == c.allow, c.method << " " << c.path);
  }
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(paths_a_route_does_not_serve_are_404) {
  RouteHarness h;
  struct Case {
    routes::RouteFn route;
    const char* path;
  };
  const Case cases[] = {
      {routes::list, "/api/v1/other"},
      {routes::list, "/api/v1/user/credentials/github"},
      {routes::list, "/api/v1/user/credentialsX"},
      {routes::disconnect, "/api/v1/user/credentials"},
      {routes::disconnect, "/api/v1/user/credentials/github/extra"},
      {routes::connect, "/api/v1/user/credentials/github"},
      {routes::connect, "/api/v1/user/credentials/github/connect/"},
      {routes::connect, "/api/v1/user/credentials/github/callback"},
      {routes::callback, "/api/v1/user/credentials/github/connect"},
      {routes::callback, "/api/v1/user/credentials/a/b/callback"},
      {routes::health, "/api/v1/healthz/"},
  };
  for (const auto& c : cases) {
    check_json(h.call(c.route, "test", h.request("GET", c.path, "")), 404,
               error_body("Not Found", "Not found", 404));
  }
}

BOOST_AUTO_TEST_CASE(no_token_is_401_with_a_bare_bearer_challenge) {
  RouteHarness h;
  const auto r = h.list(h.request("GET", kList, ""));
  check_json(r, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(r.header("WWW-Authenticate").value_or("") == "Bearer");
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(a_bad_token_is_401_invalid_token) {
  RouteHarness h;
  auto request = h.request("GET", kList, "");
  std::string token = h.token("alice");
  token.back() = token.back() == 'A' ? 'B' : 'A';
  request.add_header("Authorization", "Bearer " + token);
  const auto r = h.list(request);
  check_json(r, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(r.header("WWW-Authenticate").value_or("") == "Bearer error=\"invalid_token\"");
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_401) {
  RouteHarness h;
  const auto request = h.request("GET", kList);
  h.clock.advance(3600 + 61);  // past exp and the 60 s leeway
  BOOST_TEST(h.list(request).status == 401);
  BOOST_TEST(
      h.sink.events("request").at(0).find(R"("reason":"token_expired")") != std::string::npos,
      h.sink.events("request").at(0));
}

BOOST_AUTO_TEST_CASE(every_answer_forbids_sniffing_caching_and_any_active_content) {
  RouteHarness h;
  const std::vector<std::pair<std::string, http::Response>> answers = {
      {"200 list", h.list(h.request("GET", kList))},
      {"401 no token", h.list(h.request("GET", kList, ""))},
      {"404 unknown server", h.disconnect(h.request("DELETE", std::string(kList) + "/nope"))},
      {"405 wrong method", h.list(h.request("POST", kList))},
      {"302 connect", h.connect(h.request("GET", std::string(kList) + "/github/connect"))},
      {"200 health", h.health(h.request("GET", "/api/v1/healthz", ""))}};
  for (const auto& [what, r] : answers) {
    BOOST_TEST_CONTEXT(what) {
      BOOST_TEST(r.header("X-Content-Type-Options").value_or("") == "nosniff");
      BOOST_TEST(r.header("Content-Security-Policy").value_or("") == "default-src 'none'");
      BOOST_TEST(r.header("Cache-Control").value_or("") == "no-store");
    }
  }
  BOOST_TEST(answers[4].second.status == 302);
}

BOOST_AUTO_TEST_CASE(a_repeated_identity_header_in_any_delivered_form_is_a_labelled_401) {
  RouteHarness h;
  const std::string alice = "Bearer " + h.token("alice");
  const std::string bob = "Bearer " + h.token("bob");
  std::vector<std::pair<std::string, http::Request>> forms;
  // FastCGI/CGI: nginx 1.22 passes each copy as its own param; lighttpd and Apache join them.
  forms.emplace_back("two params", runtime::request_from_params({{"REQUEST_METHOD", "GET"},
                                                                 {"REQUEST_URI", kList},
                                                                 {"HTTP_AUTHORIZATION", alice},
                                                                 {"HTTP_AUTHORIZATION", bob}}));
  forms.emplace_back("one joined param",
                     runtime::request_from_params({{"REQUEST_METHOD", "GET"},
                                                   {"REQUEST_URI", kList},
                                                   {"HTTP_AUTHORIZATION", alice + ", " + bob}}));
  // Lambda payload 1.0 with multiValueHeaders, and payload 2.0's comma-joined "headers".
  const auto v1 = runtime::parse_event(
      R"({"httpMethod":"GET","path":"/api/v1/user/credentials","multiValueHeaders":)"
      R"({"Authorization":[")" +
      alice + R"(",")" + bob + R"("]}})");
  BOOST_TEST_REQUIRE(v1.ok());
  forms.emplace_back("multiValueHeaders", v1->request);
  const auto v2 = runtime::parse_event(
      R"({"version":"2.0","rawPath":"/api/v1/user/credentials","headers":{"authorization":")" +
      alice + "," + bob + R"("},"requestContext":{"http":{"method":"GET"}}})");
  BOOST_TEST_REQUIRE(v2.ok());
  forms.emplace_back("payload 2.0 joined", v2->request);
  for (const auto& [what, request] : forms) {
    BOOST_TEST_CONTEXT(what) {
      h.sink.lines.clear();
      const auto r = h.list(request);
      check_json(r, 401, error_body("Unauthorized", "Authentication required", 401));
      BOOST_TEST(r.header("WWW-Authenticate").value_or("") == "Bearer error=\"invalid_request\"");
      BOOST_TEST(h.sink.events("request").at(0).find(R"("reason":"duplicate_identity_header")") !=
                 std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_request_leaves_one_log_line_without_its_query) {
  RouteHarness h;
  h.list(h.request("GET", "/api/v1/user/credentials?secret=QUERY-SENTINEL"));
  const auto lines = h.sink.events("request");
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  for (const char* part :
       {R"("method":"GET")", R"("route":"list")", R"("path":"/api/v1/user/credentials")",
        R"("status":200)", R"("user":"alice")"}) {
    BOOST_TEST(lines[0].find(part) != std::string::npos, part << " in " << lines[0]);
  }
  BOOST_TEST(lines[0].find("QUERY-SENTINEL") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(request_bodies)

BOOST_AUTO_TEST_CASE(a_body_on_get_or_delete_is_400_before_any_route_work) {
  RouteHarness h;
  for (const char* method : {"GET", "DELETE"}) {
    auto r =
        h.request(method, std::string(kList) + (std::string(method) == "GET" ? "" : "/github"));
    r.add_header("Content-Length", "1000");
    const auto answer = method == std::string("GET") ? h.list(r) : h.disconnect(r);
    check_json(answer, 400, error_body("Bad Request", "Request body not allowed", 400));
  }
  auto chunked = h.request("DELETE", std::string(kList) + "/github");
  chunked.add_header("Transfer-Encoding", "chunked");
  BOOST_TEST(h.disconnect(chunked).status == 400);
  BOOST_TEST(h.redis.log.empty(), "nothing done for such a request");
  BOOST_TEST(h.sink.lines.back().find(R"("reason":"body_not_allowed")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_content_length_on_get_is_fine) {
  RouteHarness h;
  auto r = h.request("GET", kList);
  r.add_header("Content-Length", "0");
  BOOST_TEST(h.list(r).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::routes
