// The front authorizer route, with the real config, Authenticator, stores and resolver over an
// in-memory Redis and a scripted token endpoint, time pinned: which paths it answers, who may go
// through, every refusal's exact body, the variables a front injects from, the upstream URL it
// names (from config only), and that no token reaches a log line.
#define BOOST_TEST_MODULE routes_authorize
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "shared/http/url.h"
#include "shared/routes/routes.h"
#include "tests/support/route_harness.h"

namespace credbroker::routes {
namespace {

using testing::RouteHarness;
using testing::RouteOptions;
constexpr std::int64_t kNow = RouteHarness::kNow;

RouteOptions with_authorize(std::string_view prefix = "/upstream/") {
  RouteOptions o;
  o.extra_config = R"("authorize": {"path_prefix": ")" + std::string(prefix) + R"("},)";
  return o;
}

std::string error_body(std::string_view error, std::string_view message, int status) {
  return R"({"error":")" + std::string(error) + R"(","message":)" + http::json_quote(message) +
         R"(,"status_code":)" + std::to_string(status) + "}";
}

/** A refusal: exact status and body, JSON, no-store, the body again in X-Credbroker-Error, and
 *  no authorizer variable. */
void check_refused(const http::Response& r, int status, const std::string& body) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json");
  BOOST_TEST(r.header("Cache-Control").value_or("") == "no-store");
  BOOST_TEST(r.header("X-Credbroker-Error").value_or("") == body);
  for (const auto& [name, value] : r.headers) {
    BOOST_TEST(name.rfind("Variable-", 0) != 0u, name);
  }
}

store::Credential connected(std::string access_token, std::int64_t expires_at = kNow + 3600) {
  store::Credential c;
  c.access_token = std::move(access_token);
  c.refresh_token = "RT-SENTINEL-alice";
  c.token_type = "Bearer";
  c.expires_at = expires_at;
  c.obtained_via = "connect_flow";
  c.updated_at = kNow - 60;
  return c;
}

void store_credential(RouteHarness& h, std::string_view user, std::string_view server,
                      const store::Credential& c) {
  BOOST_TEST_REQUIRE(h.credentials.put(user, h.server(server).key, c).ok());
}

bool log_has(const RouteHarness& h, std::string_view needle) {
  for (const auto& line : h.sink.lines) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(which_paths)

BOOST_AUTO_TEST_CASE(without_an_authorize_block_the_route_does_not_exist) {
  RouteHarness h;
  check_refused(h.authorize(h.request("GET", "/upstream/github/repos")), 404,
                error_body("Not Found", "Not found", 404));
}

BOOST_AUTO_TEST_CASE(a_path_outside_the_prefix_is_404) {
  RouteHarness h(with_authorize());
  for (const char* path : {"/upstream", "/api/v1/user/credentials", "/upstreamgithub/x"}) {
    check_refused(h.authorize(h.request("GET", path)), 404,
                  error_body("Not Found", "Not found", 404));
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_or_unbrokered_server_is_404_and_an_empty_one_400) {
  RouteHarness h(with_authorize());
  check_refused(h.authorize(h.request("GET", "/upstream/nope/x")), 404,
                error_body("Not Found", "Unknown server \"nope\"", 404));
  check_refused(h.authorize(h.request("GET", "/upstream/plain/x")), 404,
                error_body("Not Found", "Unknown server \"plain\"", 404));
  check_refused(h.authorize(h.request("GET", "/upstream//x")), 400,
                error_body("Bad Request", "Server name is required", 400));
}

BOOST_AUTO_TEST_CASE(dot_segments_below_the_server_are_refused_encoded_or_not) {
  RouteHarness h(with_authorize());
  store_credential(h, "alice", "github", connected("AT-SENTINEL-alice"));
  for (const char* path :
       {"/upstream/github/../x", "/upstream/github/a/..", "/upstream/github/%2e%2E/x",
        "/upstream/github/.%2e", "/upstream/github/./x", "/upstream/github/a b",
        "/upstream/github/%zz"}) {
    check_refused(h.authorize(h.request("GET", path)), 400,
                  error_body("Bad Request", "Invalid upstream path", 400));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(who_goes_through)

BOOST_AUTO_TEST_CASE(no_identity_is_401_bearer_and_resolves_nothing) {
  RouteHarness h(with_authorize());
  const auto r = h.authorize(h.request("GET", "/upstream/github/x", ""));
  check_refused(r, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(r.header("WWW-Authenticate").value_or("") == "Bearer");
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(a_bad_identity_token_is_401_invalid_token) {
  RouteHarness h(with_authorize());
  auto request = h.request("GET", "/upstream/github/x", "");
  request.add_header("Authorization", "Bearer not.a.jwt");
  const auto r = h.authorize(request);
  check_refused(r, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(r.header("WWW-Authenticate").value_or("") == "Bearer error=\"invalid_token\"");
}

BOOST_AUTO_TEST_CASE(a_connected_user_gets_the_header_value_and_the_upstream_url) {
  RouteHarness h(with_authorize());
  store_credential(h, "alice", "github", connected("AT-SENTINEL-alice"));
  const auto r =
      h.authorize(h.request("POST", "/upstream/github/repos/a%20b/issues?state=open&x=1"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"server":"github","header":"Authorization"})");
  BOOST_TEST(r.header("Variable-CREDBROKER_USER").value_or("") == "alice");
  BOOST_TEST(r.header("Variable-CREDBROKER_SERVER").value_or("") == "github");
  BOOST_TEST(r.header("Variable-CREDBROKER_HEADER").value_or("") == "authorization");
  BOOST_TEST(r.header("Variable-CREDBROKER_VALUE").value_or("") == "Bearer AT-SENTINEL-alice");
  BOOST_TEST(r.header("Variable-CREDBROKER_UPSTREAM").value_or("") ==
             "https://github.test/api/repos/a%20b/issues");
  BOOST_TEST(!r.header("X-Credbroker-Error").has_value());
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(the_server_itself_proxies_to_its_url_as_configured) {
  RouteHarness h(with_authorize("/p/up/"));
  store_credential(h, "alice", "Basic Wiki", connected("AT-SENTINEL-wiki"));
  const auto r = h.authorize(h.request("GET", "/p/up/basic%20wiki"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Variable-CREDBROKER_SERVER").value_or("") == "Basic Wiki");
  BOOST_TEST(r.header("Variable-CREDBROKER_UPSTREAM").value_or("") == "https://wiki.test");
}

BOOST_AUTO_TEST_CASE(a_custom_header_and_format_are_answered_as_configured) {
  RouteOptions o = with_authorize();
  o.servers = R"([{"name": "gitlab", "url": "https://gitlab.test/", "auth_broker": {
      "mode": "oauth_connect", "authorization_endpoint": "https://gitlab.test/oauth/authorize",
      "token_endpoint": "https://gitlab.test/oauth/token", "client_id": "gl",
      "client_secret": "CS-SENTINEL-gl", "header": "PRIVATE-TOKEN",
      "header_format": "token={token}"}}])";
  RouteHarness h(o);
  store_credential(h, "alice", "gitlab", connected("AT-SENTINEL-gl"));
  const auto r = h.authorize(h.request("GET", "/upstream/gitlab/api/v4/user"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"server":"gitlab","header":"PRIVATE-TOKEN"})");
  BOOST_TEST(r.header("Variable-CREDBROKER_HEADER").value_or("") == "private-token");
  BOOST_TEST(r.header("Variable-CREDBROKER_VALUE").value_or("") == "token=AT-SENTINEL-gl");
  BOOST_TEST(r.header("Variable-CREDBROKER_UPSTREAM").value_or("") ==
             "https://gitlab.test/api/v4/user");
}

BOOST_AUTO_TEST_CASE(an_unconnected_user_is_403_with_the_connect_path) {
  RouteHarness h(with_authorize());
  check_refused(h.authorize(h.request("GET", "/upstream/github/x")), 403,
                R"({"error":"connect_required","message":"Connect \"github\" first",)"
                R"("status_code":403,"connect_path":"/api/v1/user/credentials/github/connect"})");
}

BOOST_AUTO_TEST_CASE(an_expired_credential_is_refreshed_once_and_injected) {
  RouteHarness h(with_authorize());
  store_credential(h, "alice", "github", connected("AT-SENTINEL-old", kNow - 10));
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-new","token_type":"Bearer","expires_in":3600})");
  const auto r = h.authorize(h.request("GET", "/upstream/github/x"));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Variable-CREDBROKER_VALUE").value_or("") == "Bearer AT-SENTINEL-new");
  BOOST_TEST(h.http.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_token_exchange_sends_the_users_identity_token_as_subject) {
  RouteHarness h(with_authorize());
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-jira","token_type":"Bearer","expires_in":600})");
  const auto request = h.request("GET", "/upstream/jira/rest/api/2/myself");
  const auto r = h.authorize(request);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("Variable-CREDBROKER_VALUE").value_or("") == "Bearer AT-SENTINEL-jira");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  const std::string subject = std::string(request.header("authorization")->substr(7));
  auto form = http::parse_query(h.http.requests[0].body);
  BOOST_TEST_REQUIRE(form.has_value());
  bool sent = false;
  for (const auto& [k, v] : *form) sent = sent || (k == "subject_token" && v == subject);
  BOOST_TEST(sent);
}

BOOST_AUTO_TEST_CASE(a_failing_token_endpoint_is_502_with_its_label) {
  RouteHarness h(with_authorize());
  h.http.answer(400, "application/json", R"({"error":"invalid_request"})");
  check_refused(h.authorize(h.request("GET", "/upstream/jira/x")), 502,
                R"({"error":"Bad Gateway","message":"Upstream token endpoint failed",)"
                R"("upstream_error":"invalid_request","status_code":502})");
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_it_is_503) {
  RouteOptions o = with_authorize();
  o.sealing_key = false;
  RouteHarness h(o);
  check_refused(h.authorize(h.request("GET", "/upstream/github/x")), 503,
                error_body("Service Unavailable", "Credential broker is not enabled", 503));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(what_is_logged)

BOOST_AUTO_TEST_CASE(one_line_per_decision_names_user_server_and_outcome_never_a_token) {
  RouteHarness h(with_authorize());
  store_credential(h, "alice", "github", connected("AT-SENTINEL-alice"));
  const auto request = h.request("GET", "/upstream/github/x");
  BOOST_TEST(h.authorize(request).status == 200);
  BOOST_TEST(h.authorize(h.request("GET", "/upstream/github/x", "bob")).status == 403);
  BOOST_TEST(log_has(h, R"("user":"alice","server":"github","outcome":"authorized","status":200)"));
  BOOST_TEST(
      log_has(h, R"("user":"bob","server":"github","outcome":"connect_required","status":403)"));
  const std::string identity = std::string(request.header("authorization")->substr(7));
  BOOST_TEST(!log_has(h, "AT-SENTINEL"));
  BOOST_TEST(!log_has(h, "RT-SENTINEL"));
  BOOST_TEST(!log_has(h, identity.substr(0, 40)));
}

BOOST_AUTO_TEST_CASE(each_use_is_an_audit_event_with_its_outcome) {
  RouteHarness h(with_authorize());
  store_credential(h, "alice", "github", connected("AT-SENTINEL-alice"));
  BOOST_TEST(h.authorize(h.request("GET", "/upstream/github/x")).status == 200);
  BOOST_TEST(h.authorize(h.request("GET", "/upstream/github/x", "bob")).status == 403);
  BOOST_TEST(h.authorize(h.request("GET", "/upstream/github/x", "")).status == 401);
  const auto events = h.sink.events("audit");
  BOOST_TEST_REQUIRE(events.size() == 2u, "no event before the user is known");
  BOOST_TEST(events[0].find(R"("audit_event":"authorize_served")") != std::string::npos, events[0]);
  BOOST_TEST(events[0].find(R"("user":"alice")") != std::string::npos);
  BOOST_TEST(events[0].find(R"("outcome":"ok")") != std::string::npos);
  BOOST_TEST(events[1].find(R"("user":"bob")") != std::string::npos);
  BOOST_TEST(events[1].find(R"("outcome":"connect_required")") != std::string::npos, events[1]);
  BOOST_TEST(!log_has(h, "AT-SENTINEL"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::routes
