// The resolve route and the resolver behind it, with the real config, Authenticators, stores and
// resolver over an in-memory Redis and a scripted token endpoint, time pinned: who may call, what
// the body must be, every answer's exact body, the exact refresh / exchange / on-behalf-of
// request, what is stored, and a waiter's behaviour while another instance holds the lock.
#define BOOST_TEST_MODULE routes_resolve
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "shared/http/url.h"
#include "shared/routes/routes.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/route_harness.h"

namespace credbroker::routes {
namespace {

using testing::RouteHarness;
using testing::RouteOptions;
constexpr std::int64_t kNow = RouteHarness::kNow;

RouteOptions with_resolve() {
  RouteOptions o;
  o.resolve = true;
  return o;
}

std::string body_for(std::string_view server, std::string_view subject) {
  return R"({"server":)" + http::json_quote(server) + R"(,"subject_token":)" +
         http::json_quote(subject) + "}";
}

std::string error_body(std::string_view error, std::string_view message, int status) {
  return R"({"error":")" + std::string(error) + R"(","message":)" + http::json_quote(message) +
         R"(,"status_code":)" + std::to_string(status) + "}";
}

void check_json(const http::Response& r, int status, const std::string& body) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json");
  BOOST_TEST(r.header("Cache-Control").value_or("") == "no-store");
}

store::Credential connected(std::int64_t expires_at, std::string refresh = "RT-SENTINEL-old") {
  store::Credential c;
  c.access_token = "AT-SENTINEL-old";
  c.refresh_token = std::move(refresh);
  c.token_type = "bearer";
  c.expires_at = expires_at;
  c.scopes = {"repo"};
  c.obtained_via = "connect_flow";
  c.updated_at = kNow - 3000;
  return c;
}

void store_credential(RouteHarness& h, std::string_view user, std::string_view server,
                      const store::Credential& c) {
  BOOST_TEST_REQUIRE(h.credentials.put(user, h.server(server).key, c).ok());
}

store::Credential stored(RouteHarness& h, std::string_view user, std::string_view server) {
  auto c = h.credentials.load(user, h.server(server).key);
  BOOST_TEST_REQUIRE(c.ok());
  BOOST_TEST_REQUIRE(c->has_value());
  return **c;
}

/** The form of a recorded token request, decoded, as "name=value" lines. */
std::vector<std::string> form_of(const http::OutboundRequest& r) {
  auto parsed = http::parse_query(r.body);
  BOOST_TEST_REQUIRE(parsed.has_value());
  std::vector<std::string> out;
  for (const auto& [k, v] : *parsed) out.push_back(k + "=" + v);
  return out;
}

using Form = std::vector<std::string>;

http::Response resolve(RouteHarness& h, std::string_view server, std::string_view user = "alice") {
  return h.resolve(h.resolve_request(body_for(server, h.token(user))));
}

bool log_has(const RouteHarness& h, std::string_view needle) {
  for (const auto& line : h.sink.lines) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(who_may_call)

BOOST_AUTO_TEST_CASE(without_a_resolve_block_the_route_does_not_exist) {
  RouteHarness h;
  for (const char* method : {"POST", "GET", "DELETE"}) {
    auto r = h.resolve_request(std::string(method) == "POST" ? body_for("github", h.token("alice"))
                                                             : std::string());
    r.method = method;
    check_json(h.resolve(r), 404, error_body("Not Found", "Not found", 404));
  }
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(other_paths_are_404_and_other_methods_405) {
  RouteHarness h(with_resolve());
  auto r = h.resolve_request(body_for("github", h.token("alice")));
  r.path += "/";
  check_json(h.resolve(r), 404, error_body("Not Found", "Not found", 404));
  r = h.resolve_request("");
  r.method = "GET";
  const auto answer = h.resolve(r);
  check_json(answer, 405, error_body("Method Not Allowed", "Method not allowed", 405));
  BOOST_TEST(answer.header("Allow").value_or("") == "POST");
}

BOOST_AUTO_TEST_CASE(no_caller_token_is_401_bearer) {
  RouteHarness h(with_resolve());
  auto r = h.resolve_request(body_for("github", h.token("alice")));
  r.headers.erase(r.headers.begin());  // Authorization
  const auto answer = h.resolve(r);
  check_json(answer, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(answer.header("WWW-Authenticate").value_or("") == "Bearer");
}

BOOST_AUTO_TEST_CASE(a_caller_token_that_does_not_verify_is_401_invalid_token) {
  RouteHarness h(with_resolve());
  std::string token = h.service_token("gateway");
  token.back() = token.back() == 'A' ? 'B' : 'A';
  auto r = h.resolve_request(body_for("github", h.token("alice")));
  r.headers.front().second = "Bearer " + token;
  const auto answer = h.resolve(r);
  check_json(answer, 401, error_body("Unauthorized", "Authentication required", 401));
  BOOST_TEST(answer.header("WWW-Authenticate").value_or("") == "Bearer error=\"invalid_token\"");
}

BOOST_AUTO_TEST_CASE(an_end_user_token_as_caller_is_refused) {
  RouteHarness h(with_resolve());
  auto r = h.resolve_request(body_for("github", h.token("alice")));
  r.headers.front().second = "Bearer " + h.token("alice");
  const auto answer = h.resolve(r);
  // Signed by a key the resolve block does not trust: not a caller at all.
  BOOST_TEST(answer.status == 401);
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_valid_service_token_whose_subject_is_not_allowed_is_403) {
  RouteHarness h(with_resolve());
  const auto answer =
      h.resolve(h.resolve_request(body_for("github", h.token("alice")), "intruder"));
  check_json(answer, 403,
             error_body("Forbidden", "Caller is not allowed to resolve credentials", 403));
  BOOST_TEST(log_has(h, R"("reason":"caller_not_allowed")"));
  BOOST_TEST(log_has(h, R"("caller":"intruder")"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(the_body)

BOOST_AUTO_TEST_CASE(only_application_json_is_read) {
  RouteHarness h(with_resolve());
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", ""}) {
    auto r = h.resolve_request(body_for("github", h.token("alice")));
    r.headers.back().second = type;
    check_json(h.resolve(r), 415,
               error_body("Unsupported Media Type", "Content-Type must be application/json", 415));
  }
  auto r = h.resolve_request(body_for("github", h.token("alice")));
  r.headers.back().second = "Application/JSON; charset=utf-8";
  BOOST_TEST(h.resolve(r).status == 409, "parameters and case do not matter");
}

BOOST_AUTO_TEST_CASE(a_body_over_32_kib_is_413) {
  RouteHarness h(with_resolve());
  const std::string big = body_for("github", std::string(32 * 1024, 'x'));
  check_json(h.resolve(h.resolve_request(big)), 413,
             error_body("Payload Too Large", "Request body too large", 413));
}

BOOST_AUTO_TEST_CASE(anything_but_exactly_server_and_subject_token_is_400) {
  RouteHarness h(with_resolve());
  const std::string t = h.token("alice");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"server":"github")", "not a JSON object"},
      {R"({"server":"github","subject_token":")" + t + R"("} x)", "not a JSON object"},
      {R"({"server":"github","server":"jira","subject_token":")" + t + R"("})",
       "a member occurs twice"},
      {R"({"server":"github","subject_token":")" + t + R"(","user":"bob"})", "unknown member"},
      {R"({"server":1,"subject_token":")" + t + R"("})", "\"server\" must be a string"},
      {R"({"server":"github","subject_token":null})", "\"subject_token\" must be a string"},
      {R"({"subject_token":")" + t + R"("})", "\"server\" is required"},
      {R"({"server":"github"})", "\"subject_token\" is required"},
  };
  for (const auto& [body, why] : cases) {
    check_json(h.resolve(h.resolve_request(body)), 400,
               error_body("Bad Request", "Invalid request body: " + why, 400));
  }
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_subject_token_that_does_not_verify_is_403_invalid_subject_token) {
  RouteHarness h(with_resolve());
  const std::string expired_or_foreign[] = {h.service_token("alice"), "not-a-jwt",
                                            h.token("alice") + "x"};
  for (const auto& subject : expired_or_foreign) {
    check_json(h.resolve(h.resolve_request(body_for("github", subject))), 403,
               error_body("invalid_subject_token", "Subject token refused", 403));
  }
}

BOOST_AUTO_TEST_CASE(unknown_and_unbrokered_servers_are_404) {
  RouteHarness h(with_resolve());
  check_json(resolve(h, "gitlab"), 404, error_body("Not Found", "Unknown server \"gitlab\"", 404));
  check_json(resolve(h, "plain"), 404, error_body("Not Found", "Unknown server \"plain\"", 404));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stored_credentials)

BOOST_AUTO_TEST_CASE(nothing_stored_is_409_reconnect_required_with_the_connect_path) {
  RouteHarness h(with_resolve());
  check_json(
      resolve(h, "Basic Wiki"), 409,
      R"({"error":"reconnect_required","message":"Reconnect required for \"Basic Wiki\"",)"
      R"("status_code":409,"connect_path":"/api/v1/user/credentials/Basic%20Wiki/connect"})");
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_fresh_credential_is_handed_out_as_stored_with_its_header) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow + 3600));
  check_json(resolve(h, "  GitHub "), 200,
             R"({"server":"github","token_type":"Bearer","access_token":"AT-SENTINEL-old",)"
             R"("expires_at":"2027-01-15T09:00:00Z",)"
             R"("header":{"name":"Authorization","value":"Bearer AT-SENTINEL-old"}})");
  BOOST_TEST(h.http.requests.empty());
  BOOST_TEST(!log_has(h, "SENTINEL"));
}

BOOST_AUTO_TEST_CASE(the_header_follows_the_servers_header_and_format) {
  RouteOptions o = with_resolve();
  o.servers = R"([{"name": "api", "url": "https://api.test", "auth_broker": {
      "authorization_endpoint": "https://as.test/authorize", "token_endpoint": "https://as.test/t",
      "client_id": "c", "client_secret": "s", "header": "X-Api-Key",
      "header_format": "token={token};v=1"}}])";
  RouteHarness h(o);
  store_credential(h, "alice", "api", connected(0));
  check_json(resolve(h, "api"), 200,
             R"({"server":"api","token_type":"Bearer","access_token":"AT-SENTINEL-old",)"
             R"("header":{"name":"X-Api-Key","value":"token=AT-SENTINEL-old;v=1"}})");
}

BOOST_AUTO_TEST_CASE(each_user_gets_only_their_own_credential) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow + 3600));
  auto bobs = connected(kNow + 3600);
  bobs.access_token = "AT-SENTINEL-bob";
  store_credential(h, "bob", "github", bobs);
  BOOST_TEST(resolve(h, "github", "bob").body.find("AT-SENTINEL-bob") != std::string::npos);
  BOOST_TEST(resolve(h, "github", "alice").body.find("AT-SENTINEL-old") != std::string::npos);
  BOOST_TEST(resolve(h, "github", "carol").status == 409);
}

BOOST_AUTO_TEST_CASE(a_store_without_key_or_redis_is_503) {
  RouteOptions o = with_resolve();
  o.sealing_key = false;
  RouteHarness off(o);
  check_json(resolve(off, "github"), 503,
             error_body("Service Unavailable", "Credential broker is not enabled", 503));
  RouteHarness h(with_resolve());
  h.redis.down = true;
  check_json(resolve(h, "github"), 503,
             error_body("Service Unavailable", "Credential store is unavailable", 503));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(refresh)

BOOST_AUTO_TEST_CASE(a_credential_near_expiry_is_refreshed_first_and_a_rotated_token_kept) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow + 30));
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-new","refresh_token":"RT-SENTINEL-new",)"
                R"("token_type":"bearer","expires_in":3600})");
  check_json(resolve(h, "github"), 200,
             R"({"server":"github","token_type":"Bearer","access_token":"AT-SENTINEL-new",)"
             R"("expires_at":"2027-01-15T09:00:00Z",)"
             R"("header":{"name":"Authorization","value":"Bearer AT-SENTINEL-new"}})");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  const auto& r = h.http.requests.front();
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.url == "https://as.test/token");
  const Form want = {"grant_type=refresh_token", "refresh_token=RT-SENTINEL-old",
                     "client_id=gh-client", "client_secret=CS-SENTINEL-github"};
  BOOST_TEST(form_of(r) == want, boost::test_tools::per_element());
  const auto c = stored(h, "alice", "github");
  BOOST_TEST(c.access_token == "AT-SENTINEL-new");
  BOOST_TEST(c.refresh_token == "RT-SENTINEL-new");
  BOOST_TEST(c.expires_at == kNow + 3600);
  BOOST_TEST(c.updated_at == kNow);
  BOOST_TEST(c.obtained_via == "connect_flow");
  // The lock is gone, and no token reached a log line.
  BOOST_TEST(!h.redis.strings.contains(h.refresh_lock.lock_key("alice", h.server("github").key)));
  BOOST_TEST(!log_has(h, "SENTINEL"));
  BOOST_TEST(log_has(h, R"("event":"credential_refreshed")"));
}

BOOST_AUTO_TEST_CASE(an_answer_without_refresh_token_keeps_the_old_one_and_basic_auth_is_used) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "Basic Wiki", connected(kNow - 10));
  h.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-new"})");
  const auto answer = resolve(h, "Basic Wiki");
  BOOST_TEST(answer.status == 200);
  BOOST_TEST(answer.body.find(R"("expires_at")") == std::string::npos, "no expires_in: none");
  const auto& r = h.http.requests.at(0);
  BOOST_TEST(form_of(r) == (Form{"grant_type=refresh_token", "refresh_token=RT-SENTINEL-old"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.headers.back().first == "Authorization");
  BOOST_TEST(r.headers.back().second.rfind("Basic ", 0) == 0);
  const auto c = stored(h, "alice", "Basic Wiki");
  BOOST_TEST(c.refresh_token == "RT-SENTINEL-old");
  BOOST_TEST(c.expires_at == 0);
}

BOOST_AUTO_TEST_CASE(the_window_is_half_the_lifetime_of_a_short_lived_token) {
  RouteHarness h(with_resolve());
  auto c = connected(kNow + 21);
  c.updated_at = kNow - 19;  // a 40-second token: renewed in its last 20 seconds only
  store_credential(h, "alice", "github", c);
  BOOST_TEST(resolve(h, "github").status == 200);
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(expired_without_refresh_token_is_409_and_still_valid_is_handed_out) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow + 30, ""));
  BOOST_TEST(resolve(h, "github").status == 200, "valid for 30 s: nothing to refresh it with");
  store_credential(h, "alice", "github", connected(kNow, ""));
  BOOST_TEST(resolve(h, "github").status == 409);
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(invalid_grant_marks_the_record_for_reconnect) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  h.http.answer(400, "application/json", R"({"error":"invalid_grant","error_description":"x"})");
  const std::string reconnect =
      R"({"error":"reconnect_required","message":"Reconnect required for \"github\"",)"
      R"("status_code":409,"connect_path":"/api/v1/user/credentials/github/connect"})";
  check_json(resolve(h, "github"), 409, reconnect);
  const auto c = stored(h, "alice", "github");
  BOOST_TEST(c.reconnect_required);
  BOOST_TEST(c.access_token.empty());
  BOOST_TEST(c.refresh_token.empty());
  BOOST_TEST(log_has(h, R"("event":"credential_reconnect_required")"));
  // Later calls answer from the record, without asking the upstream again.
  check_json(resolve(h, "github"), 409, reconnect);
  BOOST_TEST(h.http.requests.size() == 1u);
  const auto list = h.list(h.request("GET", "/api/v1/user/credentials"));
  BOOST_TEST(list.body.find(R"({"server":"github","mode":"oauth_connect","status":"expired",)") !=
                 std::string::npos,
             list.body);
}

BOOST_AUTO_TEST_CASE(an_upstream_down_slow_or_garbled_is_502_and_the_record_kept) {
  RouteHarness h(with_resolve());
  const std::string fixed =
      R"({"error":"Bad Gateway","message":"Upstream token endpoint failed","status_code":502})";
  store_credential(h, "alice", "github", connected(kNow - 10));
  const std::string before = h.redis.hashes.begin()->second.begin()->second;
  h.http.fail(http::FetchError::kTimeout);
  check_json(resolve(h, "github"), 502, fixed);
  h.http.fail(http::FetchError::kConnect);
  check_json(resolve(h, "github"), 502, fixed);
  h.http.answer(200, "text/html", "<html>SENTINEL</html>");
  check_json(resolve(h, "github"), 502, fixed);
  h.http.answer(500, "application/json", R"({"error":"server_error"})");
  check_json(resolve(h, "github"), 502, fixed);
  h.http.answer(401, "application/json", R"({"error":"invalid_client"})");
  check_json(resolve(h, "github"), 502,
             R"({"error":"Bad Gateway","message":"Upstream token endpoint failed",)"
             R"("upstream_error":"invalid_client","status_code":502})");
  BOOST_TEST(h.redis.hashes.begin()->second.begin()->second == before, "nothing written");
  BOOST_TEST(!log_has(h, "SENTINEL"));
}

BOOST_AUTO_TEST_CASE(a_renewal_overtaken_by_a_newer_write_never_overwrites_it) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  auto newer = connected(kNow + 3600, "RT-SENTINEL-newer");
  newer.access_token = "AT-SENTINEL-newer";
  // While our request is at the upstream, our lock expires and another instance writes.
  h.http.on_send = [&] { store_credential(h, "alice", "github", newer); };
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-stale","refresh_token":"RT-SENTINEL-stale"})");
  const auto answer = resolve(h, "github");
  BOOST_TEST(answer.status == 200);
  BOOST_TEST(answer.body.find("AT-SENTINEL-newer") != std::string::npos, answer.body);
  const auto c = stored(h, "alice", "github");
  BOOST_TEST(c.access_token == "AT-SENTINEL-newer");
  BOOST_TEST(c.refresh_token == "RT-SENTINEL-newer");
  BOOST_TEST(log_has(h, R"("event":"credential_renewal_superseded")"));
}

BOOST_AUTO_TEST_CASE(a_refusal_overtaken_by_a_newer_write_answers_with_the_newer_record) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  auto newer = connected(kNow + 3600, "RT-SENTINEL-newer");
  newer.access_token = "AT-SENTINEL-newer";
  // Our refresh token was already spent by another instance, which wrote its result meanwhile.
  h.http.on_send = [&] { store_credential(h, "alice", "github", newer); };
  h.http.answer(400, "application/json", R"({"error":"invalid_grant"})");
  const auto answer = resolve(h, "github");
  BOOST_TEST(answer.status == 200, answer.body);
  BOOST_TEST(answer.body.find("AT-SENTINEL-newer") != std::string::npos);
  const auto c = stored(h, "alice", "github");
  BOOST_TEST(!c.reconnect_required);
  BOOST_TEST(c.refresh_token == "RT-SENTINEL-newer");
}

BOOST_AUTO_TEST_CASE(the_lock_outlives_everything_its_owner_does_while_holding_it) {
  RouteHarness h(with_resolve());
  const auto o = broker::resolver_options(h.config);
  const auto& c = h.config;
  // A re-read, a token request and a write, each Redis step possibly with a reconnect.
  BOOST_TEST(o.lock_ttl_ms >
             c.http.timeout_ms + 2 * (c.redis.connect_timeout_ms + c.redis.command_timeout_ms));
  BOOST_TEST(o.max_wait_ms > o.lock_ttl_ms, "a waiter outwaits a lock whose owner died");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(another_instance_holds_the_lock)

void hold_lock(RouteHarness& h, std::string_view user, std::string_view server) {
  h.redis.strings[h.refresh_lock.lock_key(user, h.server(server).key)] = "someone-else";
}

BOOST_AUTO_TEST_CASE(a_waiter_answers_with_the_record_the_owner_wrote_without_calling_upstream) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  hold_lock(h, "alice", "github");
  auto renewed = connected(kNow + 3600, "RT-SENTINEL-new");
  renewed.access_token = "AT-SENTINEL-new";
  h.on_sleep = [&] {
    if (h.sleeps == 3) {
      store_credential(h, "alice", "github", renewed);
      h.redis.strings.clear();  // the owner releases its lock
    }
  };
  const auto answer = resolve(h, "github");
  BOOST_TEST(answer.status == 200);
  BOOST_TEST(answer.body.find("AT-SENTINEL-new") != std::string::npos, answer.body);
  BOOST_TEST(h.http.requests.empty());
  BOOST_TEST(h.sleeps == 3u);
}

BOOST_AUTO_TEST_CASE(a_waiter_answers_409_when_the_owner_was_refused) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  hold_lock(h, "alice", "github");
  auto refused = connected(kNow - 10, "");
  refused.access_token.clear();
  refused.reconnect_required = true;
  h.on_sleep = [&] { store_credential(h, "alice", "github", refused); };
  BOOST_TEST(resolve(h, "github").status == 409);
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_lock_released_without_a_new_record_means_the_owner_failed_502) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  hold_lock(h, "alice", "github");
  h.on_sleep = [&] { h.redis.strings.clear(); };
  BOOST_TEST(resolve(h, "github").status == 502);
  BOOST_TEST(h.http.requests.empty(), "waiters never call the upstream themselves");
  BOOST_TEST(h.sleeps == 1u);
}

BOOST_AUTO_TEST_CASE(a_lock_never_released_ends_in_a_bounded_503_with_retry_after) {
  RouteHarness h(with_resolve());
  store_credential(h, "alice", "github", connected(kNow - 10));
  hold_lock(h, "alice", "github");
  const auto answer = resolve(h, "github");
  check_json(answer, 503, error_body("Service Unavailable", "Credential renewal in progress", 503));
  BOOST_TEST(answer.header("Retry-After").value_or("") == "1");
  const auto options = broker::resolver_options(h.config);
  BOOST_TEST(h.sleeps == static_cast<std::size_t>(options.max_wait_ms / options.poll_interval_ms));
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(token_exchange_and_on_behalf_of)

RouteOptions with_obo() {
  RouteOptions o = with_resolve();
  o.servers = R"([{"name": "graph", "url": "https://graph.test", "auth_broker": {
      "mode": "entra_obo", "token_endpoint": "https://login.test/tenant/oauth2/v2.0/token",
      "client_id": "obo-client", "client_secret": "CS-SENTINEL-obo",
      "scopes": ["https://graph.test/.default", "offline_access"]}},
    {"name": "sts", "url": "https://sts.test", "auth_broker": {
      "mode": "token_exchange", "token_endpoint": "https://sts.test/token",
      "client_id": "sts-client", "client_secret": "CS-SENTINEL-sts",
      "token_endpoint_auth_method": "client_secret_basic",
      "resource": "https://api.sts.test", "audience": "urn:sts:api", "scopes": ["read"]}}])";
  return o;
}

BOOST_AUTO_TEST_CASE(an_exchange_sends_rfc_8693_and_is_cached_until_the_window) {
  RouteHarness h(with_obo());
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-sts","issued_token_type":)"
                R"("urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer",)"
                R"("expires_in":600})");
  const std::string subject = h.token("alice");
  const auto first = h.resolve(h.resolve_request(body_for("sts", subject)));
  check_json(first, 200,
             R"({"server":"sts","token_type":"Bearer","access_token":"AT-SENTINEL-sts",)"
             R"("expires_at":"2027-01-15T08:10:00Z",)"
             R"("header":{"name":"Authorization","value":"Bearer AT-SENTINEL-sts"}})");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  const Form want = {"grant_type=urn:ietf:params:oauth:grant-type:token-exchange",
                     std::string("subject_token") + "=" + subject,
                     "subject_token_type=urn:ietf:params:oauth:token-type:access_token",
                     "requested_token_type=urn:ietf:params:oauth:token-type:access_token",
                     "resource=https://api.sts.test",
                     "audience=urn:sts:api",
                     "scope=read"};
  BOOST_TEST(form_of(h.http.requests[0]) == want, boost::test_tools::per_element());
  BOOST_TEST(h.http.requests[0].headers.back().second.rfind("Basic ", 0) == 0);
  const auto c = stored(h, "alice", "sts");
  BOOST_TEST(c.obtained_via == "token_exchange");
  BOOST_TEST(c.refresh_token.empty());
  BOOST_TEST(c.audience == "urn:sts:api");
  // Cached: the second call asks nobody.
  BOOST_TEST(h.resolve(h.resolve_request(body_for("sts", subject))).status == 200);
  BOOST_TEST(h.http.requests.size() == 1u);
  // Within the window it is exchanged again.
  h.clock.advance(600 - 30);
  BOOST_TEST(h.resolve(h.resolve_request(body_for("sts", h.token("alice")))).status == 200);
  BOOST_TEST(h.http.requests.size() == 2u);
  const auto list = h.list(h.request("GET", "/api/v1/user/credentials"));
  BOOST_TEST(list.body.find(R"({"server":"sts","mode":"token_exchange","status":"connected",)") !=
                 std::string::npos,
             list.body);
  BOOST_TEST(!log_has(h, "SENTINEL"));
  BOOST_TEST(!log_has(h, subject));
}

BOOST_AUTO_TEST_CASE(on_behalf_of_sends_the_jwt_bearer_grant) {
  RouteHarness h(with_obo());
  h.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-obo","expires_in":3600})");
  const std::string subject = h.token("alice");
  BOOST_TEST(h.resolve(h.resolve_request(body_for("graph", subject))).status == 200);
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  BOOST_TEST(h.http.requests[0].url == "https://login.test/tenant/oauth2/v2.0/token");
  const Form want = {"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer",
                     std::string("assertion") + "=" + subject,
                     "requested_token_use=on_behalf_of",
                     "scope=https://graph.test/.default offline_access",
                     "client_id=obo-client",
                     "client_secret=CS-SENTINEL-obo"};
  BOOST_TEST(form_of(h.http.requests[0]) == want, boost::test_tools::per_element());
  BOOST_TEST(stored(h, "alice", "graph").obtained_via == "entra_obo");
}

BOOST_AUTO_TEST_CASE(an_exchanged_credential_never_outlives_the_subject_token) {
  RouteHarness h(with_obo());
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-obo","expires_in":86400})");
  BOOST_TEST(h.resolve(h.resolve_request(body_for("graph", h.token("alice")))).status == 200);
  BOOST_TEST(stored(h, "alice", "graph").expires_at == kNow + 3600, "the subject token's exp");
  h.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-obo2"})");
  RouteHarness g(with_obo());
  g.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-obo2"})");
  BOOST_TEST(g.resolve(g.resolve_request(body_for("graph", g.token("alice")))).status == 200);
  BOOST_TEST(stored(g, "alice", "graph").expires_at == kNow + 3600, "no expires_in: the subject's");
}

BOOST_AUTO_TEST_CASE(an_exchange_refused_is_502_with_its_label_and_stores_nothing) {
  RouteHarness h(with_obo());
  h.http.answer(400, "application/json",
                R"({"error":"invalid_grant","error_description":"AADSTS50013 SENTINEL"})");
  check_json(h.resolve(h.resolve_request(body_for("graph", h.token("alice")))), 502,
             R"({"error":"Bad Gateway","message":"Upstream token endpoint failed",)"
             R"("upstream_error":"invalid_grant","status_code":502})");
  BOOST_TEST(h.redis.hashes.empty());
  BOOST_TEST(!log_has(h, "SENTINEL"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::routes
