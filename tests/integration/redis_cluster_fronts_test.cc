// Many instances on one Redis Cluster: two fronts, each with several handler processes, share a
// 3-primary Cluster (started here, on loopback). 500 connect -> callback round trips for 50 users
// run interleaved from several threads, each connect on one front and its callback on the other.
// Every credential must land under its own user (the token endpoint answers with a token naming
// the code, and so the user, it was given), none crossed, none lost.
#define BOOST_TEST_MODULE integration_redis_cluster_fronts
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "shared/http/client.h"
#include "shared/http/url.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_deployments.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kAsIssuer = "https://as.cluster.test";
constexpr int kUsers = 50;
constexpr int kRoundTrips = 500;
constexpr int kThreads = 5;

/** access_token "AT-<code>": the stored token says which code, so which user, it came from. */
ScriptedResponse token_for_code(const RecordedRequest& r) {
  std::string code;
  if (const auto form = http::parse_query(r.body)) {
    for (const auto& [k, v] : *form) {
      if (k == "code") code = v;
    }
  }
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"access_token":"AT-)" + code + R"(","refresh_token":"RT-)" + code +
                  R"(","token_type":"Bearer","expires_in":3600})"};
}

std::string servers_json(int as_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  return R"([{"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "client_id": "gh-client", "client_secret": "cs", "issuer": ")" +
         std::string(kAsIssuer) + R"("}}])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(token_for_code),
        one(start_front(issuer, options(""))),
        two(start_front(issuer, options(one->keys()))) {}
  StackOptions options(std::string keys) {
    return {.redis_url = cluster.url(),
            .keys = std::move(keys),
            .servers_json = servers_json(as.port()),
            .extra_config = R"(,"http":{"connect_timeout_ms":2000,"timeout_ms":5000})",
            .procs = 3};
  }
  RedisClusterDeployment cluster;
  TestIssuer issuer;
  HttpServer as;
  std::unique_ptr<Front> one;
  std::unique_ptr<Front> two;
};
CREDBROKER_TEST_SUITE(Suite)

std::string user_name(int u) {
  return "cluster-user-" + std::to_string(u);
}

/** The value of `name` in a Location's query, or "". */
std::string query_param(const std::string& location, std::string_view name) {
  const auto q = location.find('?');
  if (q == std::string::npos) return "";
  const auto params = http::parse_query(location.substr(q + 1));
  if (!params) return "";
  for (const auto& [k, v] : *params) {
    if (k == name) return v;
  }
  return "";
}

std::string location_of(const Result<http::OutboundResponse, http::FetchError>& a) {
  if (!a) return "";
  for (const auto& [k, v] : a->headers) {
    if (k == "location") return v;
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(interleaved_round_trips_on_two_fronts_land_under_their_own_users) {
  std::vector<std::string> tokens(kUsers);
  for (int u = 0; u < kUsers; ++u) tokens[u] = S().issuer.token(user_name(u));
  std::vector<std::string> outcome(kRoundTrips);
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
      for (int i = next.fetch_add(1); i < kRoundTrips; i = next.fetch_add(1)) {
        const int u = i % kUsers;
        Front& connect_front = i % 2 == 0 ? *S().one : *S().two;
        Front& callback_front = i % 2 == 0 ? *S().two : *S().one;
        http::OutboundRequest c;
        c.url = connect_front.url("/api/v1/user/credentials/github/connect");
        c.headers = {{"Authorization", "Bearer " + tokens[u]}};
        const std::string state = query_param(location_of(client->send(c)), "state");
        if (state.empty()) {
          outcome[i] = "connect failed";
          continue;
        }
        const std::string code = "code-" + user_name(u) + "-" + std::to_string(i);
        http::OutboundRequest b;
        b.url = callback_front.url(
            "/api/v1/user/credentials/github/callback?" +
            http::build_query({{"code", code}, {"state", state}, {"iss", std::string(kAsIssuer)}}));
        b.headers = {{"Authorization", "Bearer " + tokens[u]}};
        const std::string location = location_of(client->send(b));
        outcome[i] = query_param(location, "credential_connected") == "1"
                         ? "connected"
                         : "callback: " + query_param(location, "credential_error");
      }
    });
  }
  for (auto& th : threads) th.join();

  std::map<std::string, int> counts;
  for (const auto& o : outcome) ++counts[o];
  for (const auto& [o, n] : counts) BOOST_TEST_MESSAGE(o << ": " << n);
  BOOST_TEST(counts["connected"] == kRoundTrips);  // none lost
  BOOST_TEST(S().as.request_count() == static_cast<std::size_t>(kRoundTrips));

  // Each user's credential came from one of that user's own codes: none crossed.
  for (int u = 0; u < kUsers; ++u) {
    BOOST_TEST_CONTEXT(user_name(u)) {
      const auto c = load_credential(S().cluster.url(), S().one->keys(), user_name(u),
                                     default_server_key("github"));
      BOOST_TEST_REQUIRE(c.has_value());
      BOOST_TEST(c->access_token.starts_with("AT-code-" + user_name(u) + "-"));
    }
  }
  // The keys spread over the primaries (the cluster was really used).
  int primaries_with_keys = 0;
  for (std::size_t n = 0; n < S().cluster.size(); ++n) {
    if (S().cluster.node(n).cli({"DBSIZE"}).integer > 0) ++primaries_with_keys;
  }
  BOOST_TEST(primaries_with_keys == 3);
}
