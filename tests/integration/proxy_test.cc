// Front-server injection, end to end behind each front: a client's request to
// /upstream/<server>/... goes through the front's authorizer step (credbroker-authorize) and is
// proxied to a recording upstream on loopback. What the upstream receives is the proof: the
// signed-in user's own credential in the server's configured header, never the user's identity
// token, never a credential header the client made up; refusals come back as the authorizer's
// JSON; 200 concurrent requests of 20 users across two handler processes each carry their own
// user's credential.
#define BOOST_TEST_MODULE integration_proxy
#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <mutex>
#include <thread>

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

constexpr std::string_view kIdentityHeader = "X-Credbroker-Identity";

/** Each user's stored access token: a sentinel naming the user, never expected in a log. */
std::string access_token_of(std::string_view user, std::string_view server) {
  return "AT-" + std::string(server) + "-" + std::string(user) + "-SENTINEL";
}

constexpr std::string_view kRefreshed = "AT-REFRESHED-SENTINEL";
constexpr std::string_view kExchanged = "AT-EXCHANGED-SENTINEL";
constexpr std::string_view kTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";

/** The one value of form field `name` in a recorded token request, or "". */
std::string form_field(const RecordedRequest& r, std::string_view name) {
  const auto form = http::parse_query(r.body);
  if (!form) return {};
  for (const auto& [k, v] : *form) {
    if (k == name) return v;
  }
  return {};
}

/** The scripted token endpoint: a refresh and a token exchange succeed, a little slowly, so that
 *  concurrent renewals overlap. */
ScriptedResponse token_answer(const RecordedRequest& r) {
  const std::string grant = form_field(r, "grant_type");
  const std::string token = grant == "refresh_token"  ? std::string(kRefreshed)
                            : grant == kTokenExchange ? std::string(kExchanged)
                                                      : std::string();
  if (token.empty()) {
    return {.status = 400,
            .headers = {{"Content-Type", "application/json"}},
            .body = R"({"error":"unsupported_grant_type"})"};
  }
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"access_token":")" + token + R"(","token_type":"Bearer","expires_in":3600})",
          .delay_ms = 300};
}

/** Four brokered servers proxied to the recording upstream (under /gh, /gl, /jira and /acme; the
 *  last one's name has a "/"), one not;
 *  their token endpoint is `as`. */
std::string servers_json(const HttpServer& upstream, const HttpServer& as) {
  const std::string token_endpoint = as.url("/token");
  return R"([
    {"name": "github", "url": ")" +
         upstream.url("/gh") + R"(",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "http://127.0.0.1:9/a",
                     "token_endpoint": ")" +
         token_endpoint + R"(", "client_id": "gh",
                     "client_secret": "CS-SENTINEL-proxy-gh"}},
    {"name": "gitlab", "url": ")" +
         upstream.url("/gl/") + R"(",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "http://127.0.0.1:9/a",
                     "token_endpoint": ")" +
         token_endpoint + R"(", "client_id": "gl",
                     "client_secret": "CS-SENTINEL-proxy-gl", "header": "PRIVATE-TOKEN",
                     "header_format": "token={token}"}},
    {"name": "jira", "url": ")" +
         upstream.url("/jira") + R"(",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         token_endpoint + R"(", "client_id": "jira",
                     "client_secret": "CS-SENTINEL-proxy-jira"}},
    {"name": "acme/github", "url": ")" +
         upstream.url("/acme") + R"(",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": "http://127.0.0.1:9/a",
                     "token_endpoint": ")" +
         token_endpoint + R"(", "client_id": "acme",
                     "client_secret": "CS-SENTINEL-proxy-acme"}},
    {"name": "plain", "url": ")" +
         upstream.url("/plain") + R"("}
  ])";
}

std::string server_url(const HttpServer& upstream, std::string_view name) {
  if (name == "acme/github") return upstream.url("/acme");
  return upstream.url(name == "github" ? "/gh" : "/gl/");
}

StackOptions options(const RedisServer& redis, const HttpServer& upstream, const HttpServer& as,
                     std::string identity_header) {
  StackOptions o;
  o.redis_url = redis.url();
  o.identity_header = std::move(identity_header);
  o.servers_json = servers_json(upstream, as);
  o.extra_config = R"(, "authorize": {"path_prefix": "/upstream/"})";
  o.proxy_headers = {"Authorization", "PRIVATE-TOKEN"};
  o.proxy_origins = {"127.0.0.1:" + std::to_string(upstream.port())};
  o.procs = 2;
  return o;
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : upstream([](const RecordedRequest& r) {
          return ScriptedResponse{.status = 200,
                                  .headers = {{"Content-Type", "text/plain"}},
                                  .body = "upstream saw " + r.method + " " + r.target};
        }),
        as(token_answer),
        front(start_front(issuer, options(redis, upstream, as, "Authorization"))) {}

  void connect(std::string_view user, std::string_view server, std::int64_t expires_in = 3600) {
    store::Credential c;
    c.access_token = access_token_of(user, server);
    c.refresh_token = "RT-" + std::string(user) + "-SENTINEL";
    c.expires_at = system_clock().now_seconds() + expires_in;
    c.obtained_via = "connect_flow";
    c.updated_at = system_clock().now_seconds();
    seed_credential(redis.url(), front->keys(), user,
                    config::server_key(server, server_url(upstream, server)), c);
  }

  RedisServer redis;
  TestIssuer issuer;
  HttpServer upstream;
  HttpServer as;
  std::unique_ptr<Front> front;
};
CREDBROKER_TEST_SUITE(Suite)

struct Fresh {
  Fresh() {
    S().upstream.clear_requests();
    S().as.clear_requests();
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers bearer(std::string_view token) {
  return {{"Authorization", "Bearer " + std::string(token)}};
}

/** No log line of the front or the handlers holds a credential or an identity token. */
void check_logs_clean(const Front& front, const std::vector<std::string>& secrets) {
  const std::string log = front.log();
  for (const auto& s : secrets) {
    BOOST_TEST(log.find(s) == std::string::npos, "a log line holds a secret");
  }
  BOOST_TEST(log.find("-SENTINEL") == std::string::npos, "a log line holds a sentinel");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(through_the_front, Fresh)

BOOST_AUTO_TEST_CASE(a_users_request_reaches_the_upstream_with_their_credential_only) {
  S().connect("alice", "github");
  const std::string token = S().issuer.token("alice");
  Headers headers = bearer(token);
  headers.emplace_back("Content-Type", "application/json");
  const auto r = S().front->request("POST", "/upstream/github/repos/a%20b/issues?state=open",
                                    headers, R"({"title":"t"})");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "upstream saw POST /gh/repos/a%20b/issues?state=open");
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].header("authorization").value_or("") == "Bearer AT-github-alice-SENTINEL");
  BOOST_TEST(seen[0].body == R"({"title":"t"})");
  for (const auto& [name, value] : seen[0].headers) {
    BOOST_TEST(value.find(token) == std::string::npos, "the identity token reached the upstream");
  }
  check_logs_clean(*S().front, {token});
}

BOOST_AUTO_TEST_CASE(a_server_name_with_a_slash_is_one_escaped_segment) {
  S().connect("alice", "acme/github");
  S().connect("alice", "github");
  const auto r = S().front->get("/upstream/acme%2Fgithub/repos/x", S().issuer.token("alice"));
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(r.body == "upstream saw GET /acme/repos/x");
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].header("authorization").value_or("") ==
             "Bearer AT-acme/github-alice-SENTINEL");
  // Unescaped, "acme" is the server: unknown, a JSON 404, nothing proxied.
  const auto unescaped = S().front->get("/upstream/acme/github/repos/x", S().issuer.token("alice"));
  BOOST_TEST(unescaped.status == 404, unescaped.body);
  BOOST_TEST(S().upstream.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(each_user_gets_their_own_credential) {
  S().connect("alice", "github");
  S().connect("bob", "github");
  BOOST_TEST(S().front->get("/upstream/github/x", S().issuer.token("bob")).status == 200);
  BOOST_TEST(S().front->get("/upstream/github/x", S().issuer.token("alice")).status == 200);
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(seen[0].header("authorization").value_or("") == "Bearer AT-github-bob-SENTINEL");
  BOOST_TEST(seen[1].header("authorization").value_or("") == "Bearer AT-github-alice-SENTINEL");
}

BOOST_AUTO_TEST_CASE(a_custom_header_carries_the_custom_format_and_no_authorization_goes_along) {
  S().connect("alice", "gitlab");
  const std::string token = S().issuer.token("alice");
  const auto r = S().front->get("/upstream/gitlab/api/v4/user", token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "upstream saw GET /gl/api/v4/user");
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].header("private-token").value_or("") == "token=AT-gitlab-alice-SENTINEL");
  BOOST_TEST(!seen[0].header("authorization").has_value());
}

BOOST_AUTO_TEST_CASE(a_spoofed_credential_header_from_the_client_never_reaches_the_upstream) {
  S().connect("alice", "github");
  S().connect("alice", "gitlab");
  Headers headers = bearer(S().issuer.token("alice"));
  headers.emplace_back("PRIVATE-TOKEN", "token=SPOOFED-BY-CLIENT");
  BOOST_TEST(S().front->request("GET", "/upstream/github/x", headers).status == 200);
  headers = bearer(S().issuer.token("alice"));
  headers.emplace_back("Private-Token", "token=SPOOFED-BY-CLIENT");
  BOOST_TEST(S().front->request("GET", "/upstream/gitlab/x", headers).status == 200);
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(!seen[0].header("private-token").has_value());
  BOOST_TEST(seen[1].header("private-token").value_or("") == "token=AT-gitlab-alice-SENTINEL");
  for (const auto& r : seen) {
    for (const auto& [name, value] : r.headers) {
      BOOST_TEST(value.find("SPOOFED") == std::string::npos, name << " was passed on");
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unconnected_user_gets_403_with_the_connect_path) {
  const auto r = S().front->get("/upstream/github/x", S().issuer.token("carol"));
  BOOST_TEST(r.status == 403);
  BOOST_TEST(r.body ==
             R"({"error":"connect_required","message":"Connect \"github\" first",)"
             R"("status_code":403,"connect_path":"/api/v1/user/credentials/github/connect"})");
  BOOST_TEST(r.header("content-type").value_or("").find("application/json") == 0u);
  BOOST_TEST(S().upstream.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(no_identity_or_a_bad_one_is_401_and_reaches_nothing) {
  const std::string body =
      R"({"error":"Unauthorized","message":"Authentication required","status_code":401})";
  auto r = S().front->request("GET", "/upstream/github/x");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("www-authenticate").value_or("") == "Bearer");
  r = S().front->get("/upstream/github/x", S().issuer.token("alice", -3600));
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.body == body);
  BOOST_TEST(r.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"");
  BOOST_TEST(std::count_if(r.headers.begin(), r.headers.end(),
                           [](const auto& h) { return h.first == "www-authenticate"; }) == 1);
  BOOST_TEST(S().upstream.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(an_unknown_or_unbrokered_server_is_404_and_reaches_nothing) {
  const std::string token = S().issuer.token("alice");
  auto r = S().front->get("/upstream/nope/x", token);
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.body ==
             R"({"error":"Not Found","message":"Unknown server \"nope\"","status_code":404})");
  r = S().front->get("/upstream/plain/x", token);
  BOOST_TEST(r.status == 404);
  BOOST_TEST(S().upstream.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_token_exchange_sends_the_users_identity_token_as_its_subject) {
  const std::string token = S().issuer.token("frank");
  const auto r = S().front->get("/upstream/jira/rest/api/2/myself", token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "upstream saw GET /jira/rest/api/2/myself");
  const auto grants = S().as.requests();
  BOOST_TEST_REQUIRE(grants.size() == 1u);
  BOOST_TEST(form_field(grants[0], "grant_type") == kTokenExchange);
  BOOST_TEST((form_field(grants[0], "subject_token") == token), "not the user's identity token");
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].header("authorization").value_or("") == "Bearer " + std::string(kExchanged));
  check_logs_clean(*S().front, {token});
}

BOOST_AUTO_TEST_CASE(concurrent_requests_with_an_expired_credential_refresh_it_once) {
  constexpr int kRequests = 8;
  S().connect("erin", "github", -10);
  const std::string token = S().issuer.token("erin");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      auto client = http::make_curl_client(
          {.connect_timeout_ms = 2000, .total_timeout_ms = 20000, .max_body_bytes = 1 << 16});
      http::OutboundRequest r;
      r.url = S().front->url("/upstream/github/n/" + std::to_string(i));
      r.headers = bearer(token);
      const auto answer = client->send(r);
      if (answer && answer->status == 200) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(ok.load() == kRequests);
  BOOST_TEST(S().as.request_count() == 1u);
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == static_cast<std::size_t>(kRequests));
  for (const auto& r : seen) {
    BOOST_TEST(r.header("authorization").value_or("") == "Bearer " + std::string(kRefreshed));
  }
}

BOOST_AUTO_TEST_CASE(two_hundred_concurrent_requests_of_twenty_users_each_carry_their_own) {
  constexpr int kUsers = 20;
  constexpr int kPerUser = 10;
  std::vector<std::string> tokens;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "user" + std::to_string(u);
    S().connect(user, "github");
    tokens.push_back(S().issuer.token(user));
  }
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int u = 0; u < kUsers; ++u) {
    threads.emplace_back([&, u] {
      auto client = http::make_curl_client(
          {.connect_timeout_ms = 2000, .total_timeout_ms = 30000, .max_body_bytes = 1 << 16});
      for (int i = 0; i < kPerUser; ++i) {
        http::OutboundRequest r;
        r.url = S().front->url("/upstream/github/who/user" + std::to_string(u) + "/" +
                               std::to_string(i));
        r.headers = bearer(tokens[static_cast<std::size_t>(u)]);
        auto answer = client->send(r);
        if (answer && answer->status == 200) {
          ++ok;
        } else {
          std::lock_guard lock(mu);
          failures.push_back("user" + std::to_string(u) + " #" + std::to_string(i) + ": " +
                             (answer ? std::to_string(answer->status) : "transport failure"));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(ok.load() == kUsers * kPerUser);
  for (const auto& f : failures) BOOST_TEST_MESSAGE(f);
  BOOST_TEST(took < std::chrono::seconds(50));
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == static_cast<std::size_t>(kUsers * kPerUser));
  int matched = 0;
  for (const auto& r : seen) {
    const std::string prefix = "/gh/who/";
    BOOST_TEST_REQUIRE(r.target.rfind(prefix, 0) == 0u);
    const std::string user =
        r.target.substr(prefix.size(), r.target.find('/', prefix.size()) - prefix.size());
    if (r.header("authorization").value_or("") == "Bearer " + access_token_of(user, "github")) {
      ++matched;
    }
  }
  BOOST_TEST(matched == kUsers * kPerUser);
  check_logs_clean(*S().front, tokens);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(another_identity_header, Fresh)

BOOST_AUTO_TEST_CASE(the_identity_header_is_removed_before_the_upstream) {
  auto front = start_front(S().issuer,
                           options(S().redis, S().upstream, S().as, std::string(kIdentityHeader)));
  store::Credential c;
  c.access_token = access_token_of("dora", "gitlab");
  c.expires_at = system_clock().now_seconds() + 3600;
  c.obtained_via = "connect_flow";
  c.updated_at = system_clock().now_seconds();
  seed_credential(S().redis.url(), front->keys(), "dora",
                  config::server_key("gitlab", server_url(S().upstream, "gitlab")), c);
  const std::string token = S().issuer.token("dora");
  const auto r = front->request(
      "GET", "/upstream/gitlab/x",
      {{std::string(kIdentityHeader), token}, {"Authorization", "Bearer SPOOFED-BY-CLIENT"}});
  BOOST_TEST(r.status == 200);
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].header("private-token").value_or("") == "token=AT-gitlab-dora-SENTINEL");
  BOOST_TEST(!seen[0].header(kIdentityHeader).has_value());
  BOOST_TEST(!seen[0].header("authorization").has_value());
  check_logs_clean(*front, {token});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(why_lighttpd_needs_mod_magnet, Fresh)

// lighttpd's FastCGI authorizer mode turns the authorizer's "Variable-<NAME>" answer headers into
// request environment variables, which FastCGI, CGI and SCGI backends see; mod_proxy sends
// headers only. So with mod_fastcgi (authorizer) and mod_proxy alone, the credential never
// reaches the upstream: this runs exactly that minimal lighttpd and shows it. (The shipped
// config adds mod_magnet's proxy.lua to set the header from those variables.)
BOOST_AUTO_TEST_CASE(authorizer_variables_alone_never_reach_mod_proxy) {
  if (S().front->kind() != "lighttpd") {
    BOOST_TEST_MESSAGE("lighttpd only: the other fronts read the variables themselves");
    return;
  }
  S().connect("erin", "github");
  TempDir dir("credbroker-lighttpd-bare");
  const int port = free_port();
  write_file(dir.file("bare.conf"),
             "server.modules = (\"mod_fastcgi\", \"mod_proxy\")\n"
             "server.bind = \"127.0.0.1\"\nserver.port = " +
                 std::to_string(port) + "\nserver.document-root = \"" + dir.path() +
                 "\"\n"
                 "$HTTP[\"url\"] =~ \"^/upstream/\" {\n"
                 "  fastcgi.server = (\"/\" => ((\"bin-path\" => \"" +
                 std::string(CREDBROKER_BIN_DIR) + "/credbroker-authorize\", \"socket\" => \"" +
                 dir.file("authorize.sock") +
                 "\", \"check-local\" => \"disable\", \"mode\" => \"authorizer\")))\n"
                 "  proxy.server = (\"\" => ((\"host\" => \"127.0.0.1\", \"port\" => " +
                 std::to_string(S().upstream.port()) + ")))\n}\n");
  ProcessOptions p;
  p.argv = {"lighttpd", "-D", "-f", dir.file("bare.conf")};
  p.env = {{"CREDBROKER_CONFIG", S().front->config_path()}, {"CREDBROKER_KEYS", S().front->keys()}};
  p.stdout_path = dir.file("out");
  p.stderr_path = dir.file("err");
  ChildProcess lighttpd(std::move(p));
  BOOST_TEST_REQUIRE(wait_for_port(port, std::chrono::seconds(15)), read_file(dir.file("err")));
  auto client = http::make_curl_client({.total_timeout_ms = 20000});
  const std::string identity = S().issuer.token("erin");
  http::OutboundRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/upstream/github/x";
  r.headers = bearer(identity);
  const auto answer = client->send(r);
  BOOST_TEST_REQUIRE(answer.ok());
  // The authorizer allowed it (a refusal would have been answered by lighttpd itself)...
  BOOST_TEST(answer->status == 200);
  const auto seen = S().upstream.requests();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  // ...and yet nothing of its answer came along: no credential in any header.
  for (const auto& [name, value] : seen[0].headers) {
    BOOST_TEST(value.find("AT-github-erin-SENTINEL") == std::string::npos, name);
    BOOST_TEST(name.find("credbroker") == std::string::npos, name);
  }
  BOOST_TEST(seen[0].header("authorization").value_or("") == "Bearer " + identity,
             "mod_proxy passed the client's own header on, not a credential");
}

BOOST_AUTO_TEST_SUITE_END()
