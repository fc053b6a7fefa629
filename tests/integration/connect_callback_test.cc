// Connect and callback end to end against a scripted token endpoint that speaks real HTTP: every
// redirect label, one-time state, user binding, the pending-flow cap, concurrency, and a token
// endpoint that misbehaves in every way we know. (The round trip against a real OAuth server is
// in oidc_round_trip_test.cc.)
#define BOOST_TEST_MODULE integration_connect_callback
#include <rapidjson/document.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <thread>

#include "shared/crypto/base64.h"
#include "shared/crypto/hash.h"
#include "shared/crypto/pkce.h"
#include "shared/http/url.h"
#include "shared/store/user_keys.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kAccessToken = "AT-SENTINEL-0c4f9e2b";
constexpr std::string_view kRefreshToken = "RT-SENTINEL-61d3a8f0";
constexpr std::string_view kClientSecret = "CS-SENTINEL-9a7b3c1d";
constexpr std::string_view kAsIssuer = "https://as.credbroker.test";
constexpr std::string_view kList = "/api/v1/user/credentials";

ScriptedResponse good_token_answer(const RecordedRequest&) {
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"access_token":")" + std::string(kAccessToken) + R"(","refresh_token":")" +
                  std::string(kRefreshToken) +
                  R"(","token_type":"Bearer","expires_in":3600,"scope":"repo read:org"})"};
}

std::string servers_json(int as_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  return R"([
    {"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize?tenant=acme", "token_endpoint": ")" + as + R"(/token",
       "client_id": "gh-client", "client_secret": ")" +
         std::string(kClientSecret) + R"(",
       "scopes": ["repo", "read:org"], "resource": "https://api.github.example.test",
       "issuer": ")" +
         std::string(kAsIssuer) + R"(",
       "authorization_params": {"access_type": "offline", "prompt": "consent"}}},
    {"name": "Basic Wiki", "url": "https://wiki.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token", "client_id": "wiki client",
       "client_secret": ")" +
         std::string(kClientSecret) + R"(",
       "token_endpoint_auth_method": "client_secret_basic"}},
    {"name": "public", "url": "https://public.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token", "client_id": "public-client",
       "token_endpoint_auth_method": "none"}},
    {"name": "jira", "url": "https://jira.example.test",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         as + R"(/token",
       "client_id": "jira-client", "client_secret": "x"}}
  ])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(good_token_answer),
        stack(start_front(issuer, options())),
        // A second front with its own handler processes, sharing only Redis and the keyring.
        other(start_front(issuer, [this] {
          auto o = options();
          o.keys = stack->keys();
          return o;
        }())) {}
  StackOptions options() {
    return {.redis_url = redis.url(),
            .servers_json = servers_json(as.port()),
            .extra_config = R"(,"http":{"connect_timeout_ms":500,"timeout_ms":1500})",
            .procs = 2};
  }
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  std::unique_ptr<Front> stack;
  std::unique_ptr<Front> other;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
    S().as.set_handler(good_token_answer);
    S().as.clear_requests();
  }
};

using Params = std::map<std::string, std::vector<std::string>>;

/** Splits a URL into the part before '?' and its decoded query parameters. */
std::pair<std::string, Params> split_url(std::string_view url) {
  const auto q = url.find('?');
  Params params;
  if (q != std::string_view::npos) {
    const auto parsed = http::parse_query(url.substr(q + 1));
    BOOST_TEST_REQUIRE(parsed.has_value());
    for (const auto& [k, v] : *parsed) params[k].push_back(v);
  }
  return {std::string(url.substr(0, q)), params};
}

std::string one(const Params& p, const std::string& name) {
  const auto it = p.find(name);
  BOOST_TEST_REQUIRE((it != p.end() && it->second.size() == 1), "one " << name);
  return it->second.front();
}

/** GET connect for `user`; returns the authorize URL it redirects to. */
std::string start(Front& stack, std::string_view user, std::string_view server = "github") {
  const auto a = stack.get(std::string(kList) + "/" + http::percent_encode(server) + "/connect",
                           S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "connect answered " << a.status << " " << a.body);
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  return a.header("location").value_or("");
}

std::string state_of(const std::string& authorize_url) {
  return one(split_url(authorize_url).second, "state");
}

/** GET callback with `query` as `user`; returns the Location (which must be the UI). */
std::string finish(Front& stack, std::string_view user, const std::string& query,
                   std::string_view server = "github") {
  const auto a = stack.get(std::string(kList) + "/" + std::string(server) + "/callback?" + query,
                           S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "callback answered " << a.status << " " << a.body);
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  return a.header("location").value_or("");
}

std::string ui(std::string_view server, std::string_view label) {
  std::string out = "/ui/?credential_server=" + http::percent_encode(server);
  return label.empty() ? out + "&credential_connected=1"
                       : out + "&credential_error=" + std::string(label);
}

std::string code_query(const std::string& state, std::string_view code = "good-code") {
  return http::build_query(
      {{"code", std::string(code)}, {"state", state}, {"iss", std::string(kAsIssuer)}});
}

std::string status_of(std::string_view user, std::string_view server) {
  const auto a = S().stack->get(kList, S().issuer.token(user));
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  for (const auto& e : d["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return e["status"].GetString();
  }
  return "missing";
}

long long stored_credentials() {
  long long n = 0;
  for (const auto& k : S().redis.cli({"KEYS", "credbroker:u:*:cred:*"}).elements) {
    n += S().redis.cli({"HLEN", k.str}).integer;
  }
  return n;
}

/** No secret of the flow anywhere a person or a log reader could see it. */
void expect_no_secrets(const std::string& text) {
  for (auto secret : {kAccessToken, kRefreshToken, kClientSecret}) {
    BOOST_TEST(text.find(secret) == std::string::npos, "secret " << secret << " leaked");
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(connect, Clean)

BOOST_AUTO_TEST_CASE(redirects_to_the_authorize_url_with_pkce_scope_resource_and_extras) {
  const auto location = start(*S().stack, "alice");
  const auto [base, p] = split_url(location);
  BOOST_TEST(base == S().as.url("/authorize"));
  BOOST_TEST(one(p, "tenant") == "acme");  // the endpoint's own query is kept
  BOOST_TEST(one(p, "response_type") == "code");
  BOOST_TEST(one(p, "client_id") == "gh-client");
  BOOST_TEST(one(p, "redirect_uri") == S().stack->url("/api/v1/user/credentials/github/callback"));
  BOOST_TEST(one(p, "code_challenge_method") == "S256");
  BOOST_TEST(one(p, "code_challenge").size() == 43u);
  BOOST_TEST(one(p, "scope") == "repo read:org");
  BOOST_TEST(one(p, "resource") == "https://api.github.example.test");
  BOOST_TEST(one(p, "access_type") == "offline");
  BOOST_TEST(one(p, "prompt") == "consent");
  const auto state = one(p, "state");
  // 256 random bits, then the user's hash tag sealed (the flow's keys carry it; it reveals
  // nothing).
  BOOST_TEST(state.size() > 44u);
  BOOST_TEST(state.find('.') == 43u);
  BOOST_TEST(state.find(store::user_tag("alice")) == std::string::npos);
  BOOST_TEST(location.find(kClientSecret) == std::string::npos);

  // Redis holds the sealed flow under the state's hash, with the configured TTL, and never the
  // state itself.
  const std::string key =
      store::user_key("credbroker:", "alice", "flow:" + crypto::sha256_hex(state));
  const auto ttl = S().redis.cli({"TTL", key}).integer;
  BOOST_TEST((ttl > 590 && ttl <= 600));
  for (const auto& k : S().redis.cli({"KEYS", "*"}).elements) {
    BOOST_TEST(k.str.find(state) == std::string::npos);
    if (k.str == key)
      BOOST_TEST(S().redis.cli({"GET", k.str}).str.find(state) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(redirect_uri_comes_from_configuration_not_the_host_header) {
  const auto a = S().stack->request(
      "GET", "/api/v1/user/credentials/github/connect",
      {{"Authorization", "Bearer " + S().issuer.token("alice")}, {"Host", "evil.example"}});
  BOOST_TEST(a.status == 302);
  const auto p = split_url(a.header("location").value_or("")).second;
  BOOST_TEST(one(p, "redirect_uri") == S().stack->url("/api/v1/user/credentials/github/callback"));
}

BOOST_AUTO_TEST_CASE(refuses_other_modes_unknown_servers_and_anonymous_callers) {
  const auto token = S().issuer.token("alice");
  auto a = S().stack->get("/api/v1/user/credentials/jira/connect", token);
  BOOST_TEST(a.status == 400);
  BOOST_TEST(
      a.body ==
      R"({"error":"Bad Request","message":"Server \"jira\" does not use the OAuth connect flow","status_code":400})");
  a = S().stack->get("/api/v1/user/credentials/nope/connect", token);
  BOOST_TEST(a.status == 404);
  a = S().stack->request("GET", "/api/v1/user/credentials/github/connect");
  BOOST_TEST(a.status == 401);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
}

BOOST_AUTO_TEST_CASE(holds_the_pending_flow_cap_dropping_the_oldest) {
  std::vector<std::string> states;
  for (int i = 0; i < 20; ++i) states.push_back(state_of(start(*S().stack, "capped")));
  BOOST_TEST(S().redis.cli({"ZCARD", store::user_key("credbroker:", "capped", "flows")}).integer ==
             16);
  BOOST_TEST(S().redis.cli({"KEYS", "credbroker:u:*:flow:*"}).elements.size() == 16u);
  BOOST_TEST(finish(*S().stack, "capped", code_query(states[0])) == ui("github", "invalid_state"));
  BOOST_TEST(finish(*S().stack, "capped", code_query(states[19])) == ui("github", ""));
}

BOOST_AUTO_TEST_CASE(redis_down_is_a_503_and_recovers) {
  S().redis.stop();
  const auto a = S().stack->get("/api/v1/user/credentials/github/connect", S().issuer.token("a"));
  BOOST_TEST(a.status == 503);
  BOOST_TEST(
      a.body ==
      R"({"error":"Service Unavailable","message":"Credential store is unavailable","status_code":503})");
  S().redis.start();
  start(*S().stack, "a");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(callback, Clean)

BOOST_AUTO_TEST_CASE(exchanges_the_code_with_the_verifier_and_stores_the_credential) {
  const auto authorize = start(*S().stack, "alice");
  const auto p = split_url(authorize).second;
  BOOST_TEST(finish(*S().stack, "alice", code_query(one(p, "state"))) == ui("github", ""));

  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const auto& r = requests.front();
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.target == "/token");
  BOOST_TEST(r.header("content-type").value_or("") == "application/x-www-form-urlencoded");
  BOOST_TEST(r.header("accept").value_or("") == "application/json");
  Params form;
  const auto parsed = http::parse_query(r.body);
  BOOST_TEST_REQUIRE(parsed.has_value());
  for (const auto& [k, v] : *parsed) form[k].push_back(v);
  BOOST_TEST(one(form, "grant_type") == "authorization_code");
  BOOST_TEST(one(form, "code") == "good-code");
  BOOST_TEST(one(form, "redirect_uri") == one(p, "redirect_uri"));
  BOOST_TEST(one(form, "client_id") == "gh-client");
  BOOST_TEST(one(form, "client_secret") == std::string(kClientSecret));
  BOOST_TEST(crypto::s256_challenge(one(form, "code_verifier")) == one(p, "code_challenge"));
  BOOST_TEST(!r.header("authorization"));

  const auto list = S().stack->get(kList, S().issuer.token("alice"));
  rapidjson::Document d;
  d.Parse(list.body.c_str());
  bool seen = false;
  for (const auto& e : d["credentials"].GetArray()) {
    if (std::string(e["server"].GetString()) != "github") continue;
    seen = true;
    BOOST_TEST(std::string(e["status"].GetString()) == "connected");
    BOOST_TEST(std::string(e["obtained_via"].GetString()) == "connect_flow");
    BOOST_TEST(std::string(e["audience"].GetString()) == "https://api.github.example.test");
    BOOST_TEST(e["scopes"].Size() == 2u);
    BOOST_TEST(e.HasMember("expires_at"));
  }
  BOOST_TEST(seen);
  expect_no_secrets(list.body);
  expect_no_secrets(S().stack->log());
  BOOST_TEST(S().stack->log().find("good-code") == std::string::npos);
  BOOST_TEST(S().stack->log().find(one(form, "code_verifier")) == std::string::npos);
  BOOST_TEST(S().stack->log().find(one(p, "state")) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(client_secret_basic_and_public_clients_authenticate_as_configured) {
  const auto wiki = state_of(start(*S().stack, "alice", "Basic Wiki"));
  BOOST_TEST(finish(*S().stack, "alice", code_query(wiki), "Basic%20Wiki") == ui("Basic Wiki", ""));
  const auto pub = state_of(start(*S().stack, "alice", "public"));
  BOOST_TEST(finish(*S().stack, "alice", code_query(pub), "public") == ui("public", ""));

  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 2u);
  // RFC 6749 §2.3.1: form-encoded id and secret, then base64.
  BOOST_TEST(requests[0].header("authorization").value_or("") ==
             "Basic " + crypto::base64_encode("wiki+client:" + std::string(kClientSecret)));
  BOOST_TEST(requests[0].body.find("client_secret") == std::string::npos);
  BOOST_TEST(requests[1].body.find("client_id=public-client") != std::string::npos);
  BOOST_TEST(requests[1].body.find("client_secret") == std::string::npos);
  BOOST_TEST(!requests[1].header("authorization"));
}

BOOST_AUTO_TEST_CASE(connect_on_one_front_and_callback_on_another_sharing_only_redis) {
  const auto state = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().other, "alice", code_query(state)) == ui("github", ""));
  BOOST_TEST(status_of("alice", "github") == "connected");
}

BOOST_AUTO_TEST_CASE(authorization_server_errors_map_to_the_allowlist_and_consume_the_flow) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"access_denied", "access_denied"},
      {"invalid_scope", "invalid_scope"},
      {"server_error", "server_error"},
      {"temporarily_unavailable", "temporarily_unavailable"},
      {"interaction_required", "interaction_required"},
      {"login_required", "login_required"},
      {"account_selection_required", "account_selection_required"},
      {"consent_required", "consent_required"},
      {"<script>alert(1)</script>", "authorization_denied"},
      {"unsupported_response_type", "authorization_denied"}};
  for (const auto& [error, label] : cases) {
    BOOST_TEST_CONTEXT(error) {
      const auto state = state_of(start(*S().stack, "alice"));
      const auto q = http::build_query(
          {{"error", error}, {"error_description", "SECRET-DESCRIPTION"}, {"state", state}});
      BOOST_TEST(finish(*S().stack, "alice", q) == ui("github", label));
      // consumed: the same state with a code is now refused
      BOOST_TEST(finish(*S().stack, "alice", code_query(state)) == ui("github", "invalid_state"));
    }
  }
  BOOST_TEST(S().as.request_count() == 0u);
  BOOST_TEST(stored_credentials() == 0);
  BOOST_TEST(S().stack->log().find("SECRET-DESCRIPTION") == std::string::npos);
  BOOST_TEST(S().stack->log().find("<script>") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_unknown_repeated_replayed_or_expired_state_is_invalid_state) {
  const auto bad = ui("github", "invalid_state");
  BOOST_TEST(finish(*S().stack, "alice", "code=c") == bad);
  BOOST_TEST(finish(*S().stack, "alice", "code=c&state=") == bad);
  BOOST_TEST(finish(*S().stack, "alice", code_query("never-issued")) == bad);

  const auto s1 = state_of(start(*S().stack, "alice"));
  const auto s2 = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().stack, "alice", "code=c&state=" + s1 + "&state=" + s2) == bad);

  BOOST_TEST(finish(*S().stack, "alice", code_query(s1)) == ui("github", ""));
  BOOST_TEST(finish(*S().stack, "alice", code_query(s1)) == bad);  // replay

  // Expiry is Redis's TTL running out; make it run out now rather than sleeping.
  BOOST_TEST(
      S().redis
          .cli({"PEXPIRE",
                store::user_key("credbroker:", "alice", "flow:" + crypto::sha256_hex(s2)), "1"})
          .integer == 1);
  for (int i = 0;
       i < 100 && S().redis
                          .cli({"EXISTS", store::user_key("credbroker:", "alice",
                                                          "flow:" + crypto::sha256_hex(s2))})
                          .integer == 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  BOOST_TEST(finish(*S().stack, "alice", code_query(s2)) == bad);
  BOOST_TEST(S().as.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(state_issued_for_another_server_is_invalid_and_consumed) {
  const auto state = state_of(start(*S().stack, "alice", "public"));
  BOOST_TEST(finish(*S().stack, "alice", code_query(state), "github") ==
             ui("github", "invalid_state"));
  BOOST_TEST(finish(*S().stack, "alice", code_query(state), "public") ==
             ui("public", "invalid_state"));
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(another_user_finishing_the_flow_stores_nothing_for_anyone) {
  const auto state = state_of(start(*S().stack, "victim"));
  BOOST_TEST(finish(*S().stack, "attacker", code_query(state)) == ui("github", "user_mismatch"));
  BOOST_TEST(finish(*S().stack, "victim", code_query(state)) == ui("github", "invalid_state"));
  BOOST_TEST(S().as.request_count() == 0u);
  BOOST_TEST(stored_credentials() == 0);
  BOOST_TEST(status_of("attacker", "github") == "not_connected");
  BOOST_TEST(status_of("victim", "github") == "not_connected");
}

BOOST_AUTO_TEST_CASE(anonymous_callback_is_a_401_json_and_spends_the_flow) {
  const auto state = state_of(start(*S().stack, "alice"));
  const auto a =
      S().stack->request("GET", "/api/v1/user/credentials/github/callback?" + code_query(state));
  BOOST_TEST(a.status == 401);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  // The leaked URL is worth nothing afterwards, even to the user who started the flow.
  BOOST_TEST(finish(*S().stack, "alice", code_query(state)) == ui("github", "invalid_state"));
}

BOOST_AUTO_TEST_CASE(issuer_must_match_when_present) {
  const auto s1 = state_of(start(*S().stack, "alice"));
  BOOST_TEST(
      finish(*S().stack, "alice",
             http::build_query({{"code", "c"}, {"state", s1}, {"iss", "https://evil.test"}})) ==
      ui("github", "issuer_mismatch"));
  const auto s2 = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().stack, "alice", http::build_query({{"code", "c"}, {"state", s2}})) ==
             ui("github", ""));
  BOOST_TEST(S().as.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(missing_or_repeated_code_is_connect_failed) {
  const auto s1 = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().stack, "alice", "state=" + s1) == ui("github", "connect_failed"));
  const auto s2 = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().stack, "alice", "code=a&code=b&state=" + s2) ==
             ui("github", "connect_failed"));
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(redis_down_at_callback_is_unavailable) {
  const auto state = state_of(start(*S().stack, "alice"));
  S().redis.stop();
  BOOST_TEST(finish(*S().stack, "alice", code_query(state)) == ui("github", "unavailable"));
  S().redis.start();
}

BOOST_AUTO_TEST_CASE(a_misbehaving_token_endpoint_is_connect_failed_and_stores_nothing) {
  HttpServer elsewhere([](const RecordedRequest&) { return ScriptedResponse{.status = 200}; });
  const std::string huge(2 << 20, 'x');
  const std::vector<std::pair<std::string, HttpServer::Handler>> cases = {
      {"500 with a secret in the body",
       [](const RecordedRequest&) {
         return ScriptedResponse{.status = 500,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = R"({"error":"server_error","access_token":")" +
                                         std::string(kAccessToken) + R"("})"};
       }},
      {"400 invalid_grant",
       [](const RecordedRequest&) {
         return ScriptedResponse{.status = 400,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = R"({"error":"invalid_grant","error_description":")" +
                                         std::string(kRefreshToken) + R"("})"};
       }},
      {"302 to elsewhere",
       [&elsewhere](const RecordedRequest&) {
         return ScriptedResponse{.status = 302, .headers = {{"Location", elsewhere.url("/token")}}};
       }},
      {"2 MiB body",
       [&huge](const RecordedRequest&) {
         return ScriptedResponse{.status = 200,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = R"({"access_token":")" + std::string(kAccessToken) +
                                         R"(","pad":")" + huge + R"("})"};
       }},
      {"not JSON",
       [](const RecordedRequest&) {
         return ScriptedResponse{.status = 200,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = "<html>" + std::string(kAccessToken) + "</html>"};
       }},
      {"no access_token",
       [](const RecordedRequest&) {
         return ScriptedResponse{.status = 200,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = R"({"token_type":"Bearer","refresh_token":")" +
                                         std::string(kRefreshToken) + R"("})"};
       }},
      {"connection closed",
       [](const RecordedRequest&) { return ScriptedResponse{.close_without_answer = true}; }},
      // Last: the scripted server answers one connection at a time, so it stays busy a while.
      {"slow past the timeout", [](const RecordedRequest& r) {
         auto a = good_token_answer(r);
         a.delay_ms = 2000;  // past the 1.5 s token timeout, yet free again soon
         return a;
       }}};
  for (const auto& [what, handler] : cases) {
    BOOST_TEST_CONTEXT(what) {
      S().as.set_handler(handler);
      const auto state = state_of(start(*S().stack, "alice"));
      const auto location = finish(*S().stack, "alice", code_query(state));
      BOOST_TEST(location == ui("github", "connect_failed"));
      expect_no_secrets(location);
      BOOST_TEST(stored_credentials() == 0);
    }
  }
  BOOST_TEST(elsewhere.request_count() == 0u);
  const auto log = S().stack->log();
  expect_no_secrets(log);
  BOOST_TEST(log.find("<html>") == std::string::npos);
  BOOST_TEST(log.find(R"("oauth_error":"invalid_grant")") != std::string::npos);
  BOOST_TEST(log.find(R"("http_status":500)") != std::string::npos);
  BOOST_TEST(log.find(R"("cause":"transport:timeout")") != std::string::npos);
  // The handler processes survived all of it.
  S().as.set_handler(good_token_answer);
  const auto state = state_of(start(*S().stack, "alice"));
  BOOST_TEST(finish(*S().stack, "alice", code_query(state)) == ui("github", ""));
}

BOOST_AUTO_TEST_CASE(concurrent_callbacks_with_one_state_exchange_the_code_once) {
  const auto state = state_of(start(*S().stack, "alice"));
  const auto token = S().issuer.token("alice");
  constexpr int kCallers = 8;
  std::vector<std::string> locations(kCallers);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 10000});
      Front& front = (i % 2 == 0) ? *S().stack : *S().other;
      http::OutboundRequest r;
      r.url = front.url("/api/v1/user/credentials/github/callback?" + code_query(state));
      r.headers = {{"Authorization", "Bearer " + token}};
      ready.fetch_add(1);
      while (ready.load() < kCallers) std::this_thread::yield();  // bounded: all start at once
      auto a = client->send(r);
      if (a) {
        for (const auto& [k, v] : a->headers) {
          if (k == "location") locations[i] = v;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  int connected = 0, refused = 0;
  for (const auto& l : locations) {
    if (l == ui("github", "")) ++connected;
    if (l == ui("github", "invalid_state")) ++refused;
  }
  BOOST_TEST(connected == 1);
  BOOST_TEST(refused == kCallers - 1);
  BOOST_TEST(S().as.request_count() == 1u);
  BOOST_TEST(stored_credentials() == 1);
}

BOOST_AUTO_TEST_SUITE_END()
