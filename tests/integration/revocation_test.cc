// Disconnect revokes upstream (RFC 7009) end to end behind each front: a scripted revocation
// endpoint that speaks real HTTP checks the form (token, token_type_hint, client authentication);
// the local record is deleted whatever it answers; a hung endpoint costs one outbound timeout.
#define BOOST_TEST_MODULE integration_revocation
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "shared/config/config.h"
#include "shared/crypto/base64.h"
#include "shared/http/request.h"
#include "shared/http/url.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kAccess = "AT-REVOKE-SENTINEL-6c1f93";
constexpr std::string_view kRefresh = "RT-REVOKE-SENTINEL-2e8a47";
constexpr std::string_view kClientSecret = "CS-SENTINEL-revoke-9b3d10";

// Short, so that the hung endpoint's case stays cheap; far below the scripted 10 s delay.
constexpr std::string_view kHttpConfig = R"(,"http":{"connect_timeout_ms":500,"timeout_ms":1000})";

std::string servers_json(int as_port, int hung_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  const std::string hung = "http://127.0.0.1:" + std::to_string(hung_port);
  const std::string secret = json_string(kClientSecret);
  return R"([
    {"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "revocation_endpoint": ")" +
         as + R"(/revoke?tenant=t1", "client_id": "gh-client", "client_secret": )" + secret +
         R"(}},
    {"name": "Basic Wiki", "url": "https://wiki.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "revocation_endpoint": ")" +
         as + R"(/revoke", "client_id": "wiki client", "client_secret": )" + secret +
         R"(, "token_endpoint_auth_method": "client_secret_basic"}},
    {"name": "hung", "url": "https://hung.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "revocation_endpoint": ")" +
         hung + R"(/revoke", "client_id": "hung-client", "client_secret": )" + secret + R"(}},
    {"name": "jira", "url": "https://jira.example.test",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         as + R"(/token", "client_id": "jira-client", "client_secret": )" + secret + R"(}}
  ])";
}

const std::map<std::string, std::string> kServerUrls = {
    {"github", "https://github.example.test/api/v3"},
    {"Basic Wiki", "https://wiki.example.test"},
    {"hung", "https://hung.example.test"},
    {"jira", "https://jira.example.test"}};

ScriptedResponse accept_all(const RecordedRequest&) {
  return {.status = 200};
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(accept_all),
        hung([](const RecordedRequest&) {
          return ScriptedResponse{.status = 200, .delay_ms = HttpServer::kMaxDelayMs};
        }),
        stack(start_front(issuer, {.redis_url = redis.url(),
                                   .servers_json = servers_json(as.port(), hung.port()),
                                   .extra_config = std::string(kHttpConfig)})) {}
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  HttpServer hung;
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
    S().as.set_handler(accept_all);
    S().as.clear_requests();
  }
};

store::Credential credential() {
  store::Credential c;
  c.access_token = std::string(kAccess);
  c.refresh_token = std::string(kRefresh);
  c.token_type = "Bearer";
  c.expires_at = 4'000'000'000;
  c.obtained_via = "connect_flow";
  c.updated_at = 1'790'000'000;
  return c;
}

void seed(std::string_view user, std::string_view server, const store::Credential& c) {
  seed_credential(S().redis.url(), S().stack->keys(), user,
                  config::server_key(server, kServerUrls.at(std::string(server))), c);
}

bool stored(std::string_view user, std::string_view server) {
  return load_credential(S().redis.url(), S().stack->keys(), user,
                         config::server_key(server, kServerUrls.at(std::string(server))))
      .has_value();
}

Answer disconnect(std::string_view path_name, std::string_view user) {
  return S().stack->del(std::string(kList) + "/" + std::string(path_name), S().issuer.token(user));
}

std::string body(std::string_view name, std::string_view revoked) {
  return "{\"message\":" +
         http::json_quote("Disconnected credential for \"" + std::string(name) + "\"") +
         ",\"revoked\":[" + std::string(revoked) + "]}";
}

using Form = std::vector<std::pair<std::string, std::string>>;

Form form_of(const RecordedRequest& r) {
  const auto parsed = http::parse_query(r.body);
  BOOST_TEST_REQUIRE(parsed.has_value(), "not a form: " << r.body);
  return *parsed;
}

std::string hint_of(const RecordedRequest& r) {
  for (const auto& [k, v] : form_of(r)) {
    if (k == "token_type_hint") return v;
  }
  return {};
}

void expect_no_secret_in_the_log() {
  const std::string log = S().stack->log();
  for (auto secret : {kAccess, kRefresh, kClientSecret}) {
    BOOST_TEST(log.find(secret) == std::string::npos, secret << " in the log");
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(revocation, Clean)

BOOST_AUTO_TEST_CASE(disconnect_revokes_the_refresh_token_then_the_access_token) {
  seed("alice", "github", credential());
  const auto a = disconnect("github", "alice");
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == body("github", R"("refresh_token","access_token")"));
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(!stored("alice", "github"));

  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 2u);
  const Form want_refresh = {{"token", std::string(kRefresh)},
                             {"token_type_hint", "refresh_token"},
                             {"client_id", "gh-client"},
                             {"client_secret", std::string(kClientSecret)}};
  const Form want_access = {{"token", std::string(kAccess)},
                            {"token_type_hint", "access_token"},
                            {"client_id", "gh-client"},
                            {"client_secret", std::string(kClientSecret)}};
  for (const auto& r : requests) {
    BOOST_TEST(r.method == "POST");
    BOOST_TEST(r.target == "/revoke?tenant=t1");
    BOOST_TEST(r.header("content-type").value_or("") == "application/x-www-form-urlencoded");
    BOOST_TEST(!r.header("authorization").has_value());
  }
  BOOST_TEST((form_of(requests[0]) == want_refresh));
  BOOST_TEST((form_of(requests[1]) == want_access));
  expect_no_secret_in_the_log();
}

BOOST_AUTO_TEST_CASE(revocation_authenticates_the_client_as_the_token_requests_do) {
  seed("alice", "Basic Wiki", credential());
  BOOST_TEST(disconnect("basic%20wiki", "alice").body ==
             body("Basic Wiki", R"("refresh_token","access_token")"));
  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 2u);
  // RFC 6749 §2.3.1: id and secret form-encoded, then joined.
  const std::string basic =
      "Basic " + crypto::base64_encode("wiki+client:" + http::form_encode(kClientSecret));
  for (const auto& r : requests) {
    BOOST_TEST(r.target == "/revoke");
    BOOST_TEST(r.header("authorization").value_or("") == basic);
    BOOST_TEST(form_of(r).size() == 2u, "token and token_type_hint only");
  }
  BOOST_TEST(hint_of(requests[0]) == "refresh_token");
  BOOST_TEST(hint_of(requests[1]) == "access_token");
}

BOOST_AUTO_TEST_CASE(what_the_upstream_refuses_is_not_listed_and_the_record_is_deleted_anyway) {
  seed("alice", "github", credential());
  S().as.set_handler([](const RecordedRequest& r) {
    if (hint_of(r) == "refresh_token") {
      return ScriptedResponse{.status = 400,
                              .headers = {{"Content-Type", "application/json"}},
                              .body = R"({"error":"unsupported_token_type"})"};
    }
    return ScriptedResponse{.status = 200};
  });
  BOOST_TEST(disconnect("github", "alice").body == body("github", R"("access_token")"));
  BOOST_TEST(!stored("alice", "github"));

  seed("alice", "github", credential());
  S().as.set_handler([](const RecordedRequest&) { return ScriptedResponse{.status = 503}; });
  BOOST_TEST(disconnect("github", "alice").body == body("github", ""));
  BOOST_TEST(!stored("alice", "github"));
}

BOOST_AUTO_TEST_CASE(a_hung_revocation_endpoint_delays_the_answer_by_one_outbound_timeout_only) {
  seed("alice", "hung", credential());
  const auto started = std::chrono::steady_clock::now();
  const auto a = disconnect("hung", "alice");
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == body("hung", ""));
  BOOST_TEST(!stored("alice", "hung"));
  // Generous: http.timeout_ms is 1 s; the endpoint would answer only after 10 s.
  BOOST_TEST((took < std::chrono::milliseconds(HttpServer::kMaxDelayMs / 2)));
  BOOST_TEST(S().hung.request_count() == 1u, "the access token is not tried after a timeout");
}

BOOST_AUTO_TEST_CASE(without_a_revocation_endpoint_or_a_record_nothing_is_sent) {
  seed("alice", "jira", credential());
  BOOST_TEST(disconnect("jira", "alice").body == body("jira", ""));
  BOOST_TEST(!stored("alice", "jira"));
  BOOST_TEST(disconnect("github", "alice").body == body("github", ""));
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
