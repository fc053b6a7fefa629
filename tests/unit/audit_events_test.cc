// Audit events: their names, the log line and the exact XADD each becomes, append failures that
// never reach the request, request ids; then the events the routes and the resolver record over a
// credential's life, read back from the (fake) stream.
#define BOOST_TEST_MODULE audit_events
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <vector>

#include "shared/audit/events.h"
#include "shared/crypto/base64.h"
#include "shared/http/url.h"
#include "tests/support/fakes/fakes.h"
#include "tests/support/route_harness.h"

namespace credbroker::audit {
namespace {

using Argv = std::vector<std::string>;
using testing::RouteHarness;

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

struct Recorder {
  explicit Recorder(std::string stream = "credbroker:audit") {
    config.redis_stream = std::move(stream);
    config.max_len = 5000;
  }
  testing::CapturingSink sink;
  Log log{sink, "test"};
  FixedClock clock{kNow};
  testing::FakeRandom random;
  testing::FakeRedis redis;
  config::Audit config;
  Events events{log, clock, random, "host-a:42", config, redis};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(recorder)

BOOST_AUTO_TEST_CASE(every_kind_has_its_own_name) {
  const std::vector<std::pair<EventKind, std::string_view>> names = {
      {EventKind::kConnectStarted, "connect_started"},
      {EventKind::kConnectCompleted, "connect_completed"},
      {EventKind::kConnectFailed, "connect_failed"},
      {EventKind::kCallbackRefused, "callback_refused"},
      {EventKind::kRefreshDone, "refresh_done"},
      {EventKind::kRefreshFailed, "refresh_failed"},
      {EventKind::kReconnectRequired, "reconnect_required"},
      {EventKind::kExchangeDone, "exchange_done"},
      {EventKind::kExchangeFailed, "exchange_failed"},
      {EventKind::kResolveServed, "resolve_served"},
      {EventKind::kAuthorizeServed, "authorize_served"},
      {EventKind::kDisconnected, "disconnected"},
      {EventKind::kRevoked, "revoked"},
      {EventKind::kPurged, "purged"}};
  for (const auto& [kind, name] : names) BOOST_TEST(event_name(kind) == name);
}

BOOST_AUTO_TEST_CASE(an_event_is_one_log_line_and_one_xadd_with_maxlen) {
  Recorder r;
  r.events.start_request("req-7");
  r.events.record({.kind = EventKind::kRevoked,
                   .user = "alice",
                   .server = "github",
                   .outcome = "accepted",
                   .token_type_hint = "refresh_token"});
  BOOST_TEST_REQUIRE(r.sink.lines.size() == 1u);
  const std::string& line = r.sink.lines[0];
  BOOST_TEST(line.ends_with(
      R"("level":"info","component":"test","event":"audit","audit_event":"revoked",)"
      R"("request_id":"req-7","instance":"host-a:42","user":"alice","server":"github",)"
      R"("caller":"","outcome":"accepted","token_type_hint":"refresh_token"})"));
  BOOST_TEST_REQUIRE(r.redis.log.size() == 1u);
  BOOST_TEST(r.redis.log[0] == (Argv{"XADD",
                                     "credbroker:audit",
                                     "MAXLEN",
                                     "~",
                                     "5000",
                                     "*",
                                     "time",
                                     "2027-01-15T08:00:00Z",
                                     "request_id",
                                     "req-7",
                                     "instance",
                                     "host-a:42",
                                     "event",
                                     "revoked",
                                     "user",
                                     "alice",
                                     "server",
                                     "github",
                                     "outcome",
                                     "accepted",
                                     "token_type_hint",
                                     "refresh_token"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.events.append_failures() == 0);
}

BOOST_AUTO_TEST_CASE(a_caller_is_added_when_there_is_one) {
  Recorder r;
  r.events.start_request("req-8");
  r.events.record({.kind = EventKind::kResolveServed,
                   .user = "alice",
                   .server = "github",
                   .outcome = "ok",
                   .caller = "gateway"});
  BOOST_TEST_REQUIRE(r.redis.log.size() == 1u);
  const Argv tail(r.redis.log[0].end() - 4, r.redis.log[0].end());
  BOOST_TEST(tail == (Argv{"outcome", "ok", "caller", "gateway"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_a_stream_events_go_to_the_log_only) {
  Recorder r("");
  r.events.record(
      {.kind = EventKind::kDisconnected, .user = "alice", .server = "github", .outcome = "ok"});
  BOOST_TEST(r.sink.events("audit").size() == 1u);
  BOOST_TEST(r.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_append_is_counted_and_logged_and_nothing_else_happens) {
  Recorder r;
  r.redis.down = true;
  r.events.start_request("req-9");
  r.events.record(
      {.kind = EventKind::kDisconnected, .user = "alice", .server = "github", .outcome = "ok"});
  r.redis.down = false;
  r.redis.strings["credbroker:audit"] = "not a stream";
  r.events.record(
      {.kind = EventKind::kDisconnected, .user = "alice", .server = "github", .outcome = "ok"});
  BOOST_TEST(r.events.append_failures() == 2);
  const auto failed = r.sink.events("audit_append_failed");
  BOOST_TEST_REQUIRE(failed.size() == 2u);
  BOOST_TEST(failed[0].find(R"("cause":"unreachable")") != std::string::npos);
  BOOST_TEST(failed[0].find(R"("request_id":"req-9")") != std::string::npos);
  BOOST_TEST(failed[1].find(R"("cause":"rejected")") != std::string::npos);
  BOOST_TEST(failed[1].find(R"("failures":2)") != std::string::npos);
  BOOST_TEST(r.sink.events("audit").size() == 2u, "the log still has both events");
}

BOOST_AUTO_TEST_CASE(a_safe_x_request_id_is_kept_anything_else_replaced_by_a_random_one) {
  testing::FakeRandom random;
  BOOST_TEST(request_id("3f2a-9C_b.1", random) == "3f2a-9C_b.1");
  BOOST_TEST(request_id(std::string(64, 'a'), random) == std::string(64, 'a'));
  BOOST_TEST(random.calls == 0u);
  const std::vector<std::optional<std::string_view>> unsafe = {
      std::nullopt, "", "a b", "a\r\nX-Evil: 1", "id=1", "\xc3\xa9t\xc3\xa9"};
  const std::string too_long(65, 'a');
  std::set<std::string> seen;
  for (std::size_t i = 0; i <= unsafe.size(); ++i) {
    const auto header = i < unsafe.size() ? unsafe[i] : std::optional<std::string_view>(too_long);
    const std::string id = request_id(header, random);
    BOOST_TEST(id == crypto::base64url_encode(std::string(16, static_cast<char>(i + 1))));
    seen.insert(id);
  }
  BOOST_TEST(seen.size() == unsafe.size() + 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

namespace {

// github revokes; the harness's resolve block admits "gateway".
constexpr char kServers[] = R"([
  {"name": "github", "url": "https://github.test/api",
   "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "https://as.test/authorize",
                   "token_endpoint": "https://as.test/token",
                   "revocation_endpoint": "https://as.test/revoke", "client_id": "gh-client",
                   "client_secret": "CS-SENTINEL-github"}},
  {"name": "jira", "url": "https://jira.test",
   "auth_broker": {"mode": "token_exchange", "token_endpoint": "https://jira.test/token",
                   "client_id": "jira-client", "client_secret": "CS-SENTINEL-jira"}}
])";

testing::RouteOptions streamed() {
  return {.servers = kServers,
          .extra_config = R"("audit": {"redis_stream": "credbroker:audit", "max_len": 1000},)",
          .resolve = true};
}

/** "<event> <user> <server> <outcome>[ caller=<c>][ hint=<h>]" of every entry in the stream. */
std::vector<std::string> stream_of(const RouteHarness& h) {
  std::vector<std::string> out;
  const auto it = h.redis.streams.find("credbroker:audit");
  if (it == h.redis.streams.end()) return out;
  for (const auto& entry : it->second) {
    std::map<std::string, std::string> f(entry.fields.begin(), entry.fields.end());
    std::string line = f["event"] + " " + f["user"] + " " + f["server"] + " " + f["outcome"];
    if (f.contains("caller")) line += " caller=" + f["caller"];
    if (f.contains("token_type_hint")) line += " hint=" + f["token_type_hint"];
    out.push_back(line);
  }
  return out;
}

/** The request ids of the stream's entries, in order. */
std::vector<std::string> request_ids_of(const RouteHarness& h) {
  std::vector<std::string> out;
  for (const auto& entry : h.redis.streams.at("credbroker:audit")) {
    for (const auto& [k, v] : entry.fields) {
      if (k == "request_id") out.push_back(v);
    }
  }
  return out;
}

std::string connect_target() {
  return "/api/v1/user/credentials/github/connect";
}

/** The state in a connect answer's Location. */
std::string state_of(const http::Response& r) {
  const std::string loc(r.header("Location").value_or(""));
  const auto params = http::parse_query(loc.substr(loc.find('?') + 1));
  BOOST_TEST_REQUIRE(params.has_value());
  for (const auto& [k, v] : *params) {
    if (k == "state") return v;
  }
  return {};
}

http::Response resolve(RouteHarness& h, std::string_view server, std::string_view user) {
  return h.resolve(h.resolve_request(R"({"server":")" + std::string(server) +
                                     R"(","subject_token":")" + h.token(user) + R"("})"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(routes_record)

BOOST_AUTO_TEST_CASE(a_credentials_life_is_recorded_in_order_without_a_secret) {
  RouteHarness h(streamed());
  // Connect, and bob finishing alice's flow: refused.
  auto started = h.connect(h.request("GET", connect_target(), "alice"));
  BOOST_TEST_REQUIRE(started.status == 302);
  h.callback(h.request("GET",
                       "/api/v1/user/credentials/github/callback?code=c1&state=" +
                           http::percent_encode(state_of(started)),
                       "bob"));
  // Connect again; the upstream says no, then yes.
  started = h.connect(h.request("GET", connect_target(), "alice"));
  h.callback(
      h.request("GET", "/api/v1/user/credentials/github/callback?error=access_denied&state=" +
                           http::percent_encode(state_of(started))));
  started = h.connect(h.request("GET", connect_target(), "alice"));
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-1","refresh_token":"RT-SENTINEL-1",)"
                R"("expires_in":3600})");
  auto done = h.request("GET", "/api/v1/user/credentials/github/callback?code=c2&state=" +
                                   http::percent_encode(state_of(started)));
  done.add_header("X-Request-Id", "front-req-1");
  h.callback(done);
  // Near expiry: the resolve refreshes first.
  h.clock.advance(3590);
  h.http.answer(200, "application/json",
                R"({"access_token":"AT-SENTINEL-2","refresh_token":"RT-SENTINEL-2",)"
                R"("expires_in":3600})");
  BOOST_TEST(resolve(h, "github", "alice").status == 200);
  // Disconnect: the refresh token is accepted, the endpoint then fails.
  h.http.answer(200, "", "");
  h.http.on_send = [&h] {
    if (h.http.requests.size() == 4) h.http.answer(503, "text/html", "down");
  };
  BOOST_TEST(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")).status == 200);

  const std::vector<std::string> want = {"connect_started alice github ok",
                                         "callback_refused bob github user_mismatch",
                                         "connect_started alice github ok",
                                         "connect_failed alice github access_denied",
                                         "connect_started alice github ok",
                                         "connect_completed alice github ok",
                                         "refresh_done alice github ok",
                                         "resolve_served alice github ok caller=gateway",
                                         "disconnected alice github ok",
                                         "revoked alice github accepted hint=refresh_token",
                                         "revoked alice github http_status hint=access_token"};
  BOOST_TEST(stream_of(h) == want, boost::test_tools::per_element());

  // One id per request: the front's when it is safe, else a fresh one.
  const auto ids = request_ids_of(h);
  BOOST_TEST(ids.at(5) == "front-req-1");
  BOOST_TEST(ids.at(6) == ids.at(7), "refresh and use in one request");
  BOOST_TEST(ids.at(8) == ids.at(9));
  BOOST_TEST(ids.at(0) != ids.at(2));
  BOOST_TEST(h.sink.events("request").back().find(R"("request_id":")" + ids.at(8) + "\"") !=
             std::string::npos);
  for (const auto& entry : h.redis.streams.at("credbroker:audit")) {
    for (const auto& [k, v] : entry.fields) BOOST_TEST(v.find("SENTINEL") == std::string::npos);
  }
  for (const auto& line : h.sink.lines) BOOST_TEST(line.find("SENTINEL") == std::string::npos);
  BOOST_TEST(h.events.append_failures() == 0);
}

BOOST_AUTO_TEST_CASE(a_refused_refresh_and_a_failed_exchange_are_recorded_with_their_causes) {
  RouteHarness h(streamed());
  store::Credential near;
  near.access_token = "AT-SENTINEL-old";
  near.refresh_token = "RT-SENTINEL-old";
  near.expires_at = RouteHarness::kNow + 10;
  near.updated_at = RouteHarness::kNow - 3600;
  near.obtained_via = "connect_flow";
  BOOST_TEST_REQUIRE(h.credentials.put("alice", h.server("github").key, near).ok());
  h.http.answer(400, "application/json", R"({"error":"invalid_grant"})");
  BOOST_TEST(resolve(h, "github", "alice").status == 409);
  h.http.fail(http::FetchError::kTimeout);
  BOOST_TEST(resolve(h, "jira", "alice").status == 502);
  const std::vector<std::string> want = {
      "refresh_failed alice github invalid_grant", "reconnect_required alice github invalid_grant",
      "resolve_served alice github reconnect_required caller=gateway",
      "exchange_failed alice jira transport:timeout",
      "resolve_served alice jira upstream_failed caller=gateway"};
  BOOST_TEST(stream_of(h) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_stream_that_cannot_be_written_never_fails_the_request) {
  RouteHarness h(streamed());
  h.redis.failing = {"XADD"};
  BOOST_TEST(h.connect(h.request("GET", connect_target(), "alice")).status == 302);
  BOOST_TEST(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")).status == 200);
  BOOST_TEST(h.events.append_failures() == 2);
  BOOST_TEST(h.sink.events("audit_append_failed").size() == 2u);
  BOOST_TEST(h.sink.events("audit").size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::audit
