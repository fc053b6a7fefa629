// The audit stream end to end, behind lighttpd with a real redis-server: one credential's whole
// life (connect, callback with a scripted token endpoint, a resolve that refreshes it, disconnect
// with revocation) read back with XRANGE, event by event, and no secret in the stream or the log.
#define BOOST_TEST_MODULE integration_audit_stream
#include <boost/test/unit_test.hpp>
#include <map>

#include "shared/config/config.h"
#include "shared/http/url.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kResolve = "/api/v1/internal/credentials/resolve";
constexpr std::string_view kStream = "credbroker:audit";

// None of these may appear in the stream or in any log line.
constexpr std::string_view kFirstAccess = "AT-AUDIT-SENTINEL-1f0c2e";
constexpr std::string_view kFirstRefresh = "RT-AUDIT-SENTINEL-8a4d71";
constexpr std::string_view kNewAccess = "AT-AUDIT-SENTINEL-refreshed-5b2e";
constexpr std::string_view kNewRefresh = "RT-AUDIT-SENTINEL-rotated-c93a";
constexpr std::string_view kClientSecret = "CS-AUDIT-SENTINEL-07d1";
constexpr std::string_view kCode = "CODE-AUDIT-SENTINEL-44e0";

constexpr std::string_view kGithubUrl = "https://github.example.test/api/v3";

/** The scripted upstream: the code exchange, the refresh, and revocations (all accepted). */
ScriptedResponse upstream(const RecordedRequest& r) {
  if (r.target == "/revoke") return {.status = 200};
  std::string grant;
  if (const auto form = http::parse_query(r.body)) {
    for (const auto& [k, v] : *form) {
      if (k == "grant_type") grant = v;
    }
  }
  const auto answer = [](std::string_view access, std::string_view refresh) {
    return ScriptedResponse{.status = 200,
                            .headers = {{"Content-Type", "application/json"}},
                            .body = R"({"access_token":")" + std::string(access) +
                                    R"(","refresh_token":")" + std::string(refresh) +
                                    R"(","token_type":"Bearer","expires_in":3600})"};
  };
  if (grant == "authorization_code") return answer(kFirstAccess, kFirstRefresh);
  if (grant == "refresh_token") return answer(kNewAccess, kNewRefresh);
  return {.status = 400, .body = R"({"error":"unsupported_grant_type"})"};
}

std::string servers_json(int as_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  return R"([
    {"name": "github", "url": ")" +
         std::string(kGithubUrl) + R"(",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "revocation_endpoint": ")" +
         as + R"(/revoke", "client_id": "gh-client", "client_secret": )" +
         json_string(kClientSecret) + R"(}}
  ])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(upstream),
        stack(start_front(
            issuer, {.redis_url = redis.url(),
                     .servers_json = servers_json(as.port()),
                     .extra_config = resolve_config_json(issuer) + R"(,"audit":{"redis_stream":")" +
                                     std::string(kStream) + R"(","max_len":1000})"})) {}
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

std::int64_t now() {
  return system_clock().now_seconds();
}

/** The value of `name` in the query of a Location. */
std::string query_value(const Answer& a, std::string_view name) {
  const std::string loc = a.header("location").value_or("");
  const auto q = loc.find('?');
  const auto params = http::parse_query(q == std::string::npos ? "" : loc.substr(q + 1));
  BOOST_TEST_REQUIRE(params.has_value(), "no query in " << loc);
  for (const auto& [k, v] : *params) {
    if (k == name) return v;
  }
  return {};
}

/** One stream entry's fields. */
using Entry = std::map<std::string, std::string>;

std::vector<Entry> read_stream() {
  const auto reply = S().redis.cli({"XRANGE", std::string(kStream), "-", "+"});
  BOOST_TEST_REQUIRE((reply.type == store::Reply::Type::kArray));
  std::vector<Entry> out;
  for (const auto& item : reply.elements) {
    BOOST_TEST_REQUIRE(item.elements.size() == 2u);
    Entry e;
    const auto& fields = item.elements[1].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) e[fields[i].str] = fields[i + 1].str;
    out.push_back(std::move(e));
  }
  return out;
}

/** "<event> <user> <server> <outcome>[ caller=…][ hint=…]" */
std::string summary(Entry e) {
  std::string s = e["event"] + " " + e["user"] + " " + e["server"] + " " + e["outcome"];
  if (e.contains("caller")) s += " caller=" + e["caller"];
  if (e.contains("token_type_hint")) s += " hint=" + e["token_type_hint"];
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_credentials_whole_life_is_in_the_stream_in_order_without_a_secret) {
  S().redis.flushall();
  const std::string user_token = S().issuer.token("alice");

  // Connect, then the upstream sends the browser back with a code.
  const auto connect = S().stack->get(std::string(kList) + "/github/connect", user_token);
  BOOST_TEST_REQUIRE(connect.status == 302);
  const std::string state = query_value(connect, "state");
  const auto callback = S().stack->request(
      "GET",
      std::string(kList) + "/github/callback?code=" + std::string(kCode) +
          "&state=" + http::percent_encode(state),
      {{"Authorization", "Bearer " + user_token}, {"X-Request-Id", "front-callback-1"}});
  BOOST_TEST_REQUIRE(callback.status == 302);
  BOOST_TEST(query_value(callback, "credential_connected") == "1");

  // Near its expiry (as if an hour had passed), so the gateway's resolve refreshes it first.
  store::Credential aged;
  aged.access_token = std::string(kFirstAccess);
  aged.refresh_token = std::string(kFirstRefresh);
  aged.expires_at = now() + 10;
  aged.updated_at = now() - 3590;
  aged.obtained_via = "connect_flow";
  seed_credential(S().redis.url(), S().stack->keys(), "alice",
                  config::server_key("github", kGithubUrl), aged);
  const auto resolved =
      S().stack->request("POST", kResolve,
                         {{"Authorization", "Bearer " + S().issuer.service_token()},
                          {"Content-Type", "application/json"}},
                         R"({"server":"github","subject_token":")" + user_token + R"("})");
  BOOST_TEST_REQUIRE(resolved.status == 200);
  BOOST_TEST(resolved.body.find(kNewAccess) != std::string::npos);

  const auto disconnected = S().stack->del(std::string(kList) + "/github", user_token);
  BOOST_TEST(disconnected.body == R"({"message":"Disconnected credential for \"github\"",)"
                                  R"("revoked":["refresh_token","access_token"]})");

  const auto entries = read_stream();
  std::vector<std::string> got;
  for (const auto& e : entries) got.push_back(summary(e));
  const std::vector<std::string> want = {
      "connect_started alice github ok",
      "connect_completed alice github ok",
      "refresh_done alice github ok",
      "resolve_served alice github ok caller=" + std::string(kGatewaySubject),
      "disconnected alice github ok",
      "revoked alice github accepted hint=refresh_token",
      "revoked alice github accepted hint=access_token"};
  BOOST_TEST(got == want, boost::test_tools::per_element());

  // Every entry is complete: a time, the request it belongs to, the process that wrote it.
  BOOST_TEST_REQUIRE(entries.size() == want.size());
  for (auto e : entries) {
    BOOST_TEST(e["time"].size() == 20u, e["time"]);  // 2026-12-02T01:30:00Z
    BOOST_TEST(!e["request_id"].empty());
    BOOST_TEST(e["instance"].find(':') != std::string::npos);
  }
  BOOST_TEST(entries[1].at("request_id") == "front-callback-1");
  BOOST_TEST(entries[2].at("request_id") == entries[3].at("request_id"));
  BOOST_TEST(entries[4].at("request_id") == entries[6].at("request_id"));
  BOOST_TEST(entries[0].at("request_id") != entries[4].at("request_id"));

  // No secret anywhere: neither the upstream's tokens, nor the code or state, nor the user's JWT.
  std::string everything = S().stack->log();
  for (const auto& e : entries) {
    for (const auto& [k, v] : e) everything += "\n" + k + "=" + v;
  }
  for (const std::string& secret :
       {std::string(kFirstAccess), std::string(kFirstRefresh), std::string(kNewAccess),
        std::string(kNewRefresh), std::string(kClientSecret), std::string(kCode), state,
        user_token}) {
    BOOST_TEST(everything.find(secret) == std::string::npos, secret << " leaked");
  }
  BOOST_TEST(S().stack->log().find(R"("event":"audit_append_failed")") == std::string::npos);
}
