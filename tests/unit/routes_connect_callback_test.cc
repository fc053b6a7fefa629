// The connect and callback routes without servers: pinned randomness and time, the real stores
// over an in-memory Redis, a fake token endpoint. Exact Location headers, the exact token request,
// every callback label with nothing stored on each failure path, and a sweep proving no secret
// reaches a response, a redirect or a log line.
#define BOOST_TEST_MODULE routes_connect_callback
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/crypto/hash.h"
#include "shared/crypto/seal.h"
#include "shared/http/url.h"
#include "shared/routes/routes.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"
#include "tests/support/fakes/fakes.h"
#include "tests/support/route_harness.h"

namespace credbroker::routes {
namespace {

using testing::RouteHarness;
using testing::RouteOptions;
using Argv = std::vector<std::string>;

constexpr char kGithubCallbackUri[] =
    "https%3A%2F%2Fbroker.test%2Fapi%2Fv1%2Fuser%2Fcredentials%2Fgithub%2Fcallback";
constexpr char kSuccess[] = "/ui/?credential_server=github&credential_connected=1";
constexpr char kTokenAnswer[] =
    R"({"access_token":"AT-SENTINEL-1","refresh_token":"RT-SENTINEL-1","token_type":"Bearer",)"
    R"("expires_in":3600,"scope":"repo"})";

// RFC 7636 Appendix B: verifier octets and the challenge of their base64url.
constexpr unsigned char kAppendixBOctets[] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                              125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                              191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
constexpr char kAppendixBChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

std::string appendix_b_octets() {
  return std::string(reinterpret_cast<const char*>(kAppendixBOctets), sizeof kAppendixBOctets);
}

std::string ui_error(std::string_view server, std::string_view label) {
  return "/ui/?credential_server=" + http::percent_encode(server) +
         "&credential_error=" + std::string(label);
}

std::string location(const http::Response& r) {
  return std::string(r.header("Location").value_or(""));
}

/** The value of `name` in the query of a Location. */
std::string query_value(const http::Response& r, std::string_view name) {
  const std::string loc = location(r);
  const auto q = loc.find('?');
  const auto params = http::parse_query(q == std::string::npos ? "" : loc.substr(q + 1));
  BOOST_TEST_REQUIRE(params.has_value());
  for (const auto& [k, v] : *params) {
    if (k == name) return v;
  }
  return {};
}

std::string connect_path(std::string_view server) {
  return "/api/v1/user/credentials/" + http::percent_encode(server) + "/connect";
}
std::string callback_target(std::string_view server, std::string_view query) {
  return "/api/v1/user/credentials/" + http::percent_encode(server) + "/callback?" +
         std::string(query);
}

struct Flow {
  std::string state;
  std::string verifier;
  std::string location;  // of the connect redirect
};

const std::string kNonce(12, '\x07');

/** The state connect makes of these random bytes, its tag's seal drawing `nonce`: the random part
 *  in base64url, '.', the user's tag sealed for it (FlowStore::new_state). */
std::string state_from(RouteHarness& h, const std::string& random_bytes,
                       std::string_view user = "alice", const std::string& nonce = kNonce) {
  const std::string random_part = crypto::base64url_encode(random_bytes);
  testing::FakeRandom fixed;
  fixed.script(nonce);
  return random_part + "." +
         crypto::base64url_encode(crypto::seal(
             h.keyring, fixed, {.user = random_part, .server_key = "", .kind = "flow_state"},
             store::user_tag(user)));
}

/** Pins the random draws of one connect: the state's bytes, its tag's nonce, the verifier's. */
void script_connect(RouteHarness& h, const std::string& state_bytes,
                    const std::string& verifier_bytes) {
  h.random.script(state_bytes);
  h.random.script(kNonce);
  h.random.script(verifier_bytes);
}

/** Runs the connect route with pinned state and verifier bytes; the Redis log is cleared after. */
Flow start_flow(RouteHarness& h, std::string_view user = "alice",
                std::string_view server = "github") {
  const auto n = static_cast<char>(h.random.calls);
  const std::string state_bytes(32, static_cast<char>(0x10 + n));
  const std::string verifier_bytes(32, static_cast<char>(0x80 + n));
  script_connect(h, state_bytes, verifier_bytes);
  const auto r = h.connect(h.request("GET", connect_path(server), user));
  BOOST_TEST_REQUIRE(r.status == 302);
  Flow f{state_from(h, state_bytes, user), crypto::base64url_encode(verifier_bytes), location(r)};
  BOOST_TEST_REQUIRE(query_value(r, "state") == f.state);
  h.redis.log.clear();
  return f;
}

http::Response callback(RouteHarness& h, std::string_view query, std::string_view user = "alice",
                        std::string_view server = "github") {
  return h.callback(h.request("GET", callback_target(server, query), user));
}

std::string code_and_state(std::string_view code, const Flow& f) {
  return "code=" + std::string(code) + "&state=" + f.state;
}

void check_redirect(const http::Response& r, const std::string& want) {
  BOOST_TEST(r.status == 302);
  BOOST_TEST(location(r) == want);
  BOOST_TEST(r.header("Cache-Control").value_or("") == "no-store");
  BOOST_TEST(r.body.empty());
}

/** How many credential writes (CredentialStore::put's script) reached Redis. */
std::size_t credential_writes(const RouteHarness& h) {
  const auto ran = h.redis.ran();
  return static_cast<std::size_t>(std::count_if(ran.begin(), ran.end(), [](auto& a) {
    return a.size() > 1 && a[0] == "EVALSHA" &&
           a[1] == store::script_sha(store::scripts::kPutCredential);
  }));
}

/** No credential write reached Redis. */
void check_nothing_stored(const RouteHarness& h) {
  BOOST_TEST(credential_writes(h) == 0u);
  BOOST_TEST(h.redis.count("HSET") == 0u);
  BOOST_TEST(h.redis.hashes.empty());
}

/** The request log line's reason. */
std::string last_reason(const RouteHarness& h) {
  const auto lines = h.sink.events("request");
  BOOST_TEST_REQUIRE(!lines.empty());
  const std::string& line = lines.back();
  const auto at = line.find(R"("reason":")");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  const auto start = at + 10;
  return line.substr(start, line.find('"', start) - start);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connect_route)

BOOST_AUTO_TEST_CASE(redirects_to_the_authorize_endpoint_with_pkce_and_every_parameter) {
  RouteHarness h;
  script_connect(h, std::string(32, '\x01'), appendix_b_octets());
  const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/github/connect"));
  check_redirect(
      r, std::string("https://as.test/authorize?response_type=code&client_id=gh-client") +
             "&redirect_uri=" + kGithubCallbackUri + "&state=" +
             state_from(h, std::string(32, '\x01')) + "&code_challenge=" + kAppendixBChallenge +
             "&code_challenge_method=S256&scope=repo%20read%3Aorg" +
             "&resource=https%3A%2F%2Fapi.github.test&prompt=consent&access_type=offline");
  BOOST_TEST(h.random.sizes == (std::vector<std::size_t>{32, 12, 32, 12}),
             boost::test_tools::per_element());  // state, its tag's nonce, verifier, flow's nonce
  BOOST_TEST(h.sink.events("connect_started").size() == 1u);
}

BOOST_AUTO_TEST_CASE(stores_the_flow_under_the_hash_of_the_state_for_the_configured_ttl) {
  RouteHarness h;
  script_connect(h, std::string(32, '\x01'), appendix_b_octets());
  h.connect(h.request("GET", "/api/v1/user/credentials/github/connect"));
  const std::string state = state_from(h, std::string(32, '\x01'));
  const std::string tag = store::user_tag("alice");
  const std::string key = "credbroker:u:{" + tag + "}:flow:" + crypto::sha256_hex(state);
  // After the connect was counted (a script): one script by its SHA-1, loaded on NOSCRIPT.
  const auto ran = h.redis.ran();
  BOOST_TEST_REQUIRE(ran.size() == 2u);
  const Argv& put = ran[1];
  BOOST_TEST_REQUIRE(put.size() == 10u);
  BOOST_TEST(put[0] == "EVALSHA");
  BOOST_TEST(put[1] == store::script_sha(store::scripts::kPutFlow));
  BOOST_TEST((Argv(put.begin() + 2, put.begin() + 5) ==
              Argv{"2", key, "credbroker:u:{" + tag + "}:flows"}));
  BOOST_TEST((Argv(put.begin() + 6, put.end()) ==
              Argv{"600", "16", crypto::sha256_hex(state), "credbroker:u:{" + tag + "}:flow:"}));
  BOOST_TEST(std::count(h.redis.log.begin(), h.redis.log.end(),
                        Argv{"SCRIPT", "LOAD", std::string(store::scripts::kPutFlow)}) == 1,
             "loaded on the first NOSCRIPT");
  BOOST_TEST(h.redis.ttl(key).value_or(-1) == 600);
  h.redis.log.clear();
  h.connect(h.request("GET", "/api/v1/user/credentials/github/connect"));
  BOOST_TEST(h.redis.count("SCRIPT") == 0u, "loaded once per server");
  BOOST_TEST(h.redis.count("EVALSHA") == 2u, "the rate count and the flow, one call each");

  const auto flow = h.flows.take(state);
  BOOST_TEST_REQUIRE(flow.ok());
  BOOST_TEST_REQUIRE(flow.value().has_value());
  BOOST_TEST(flow.value()->user == "alice");
  BOOST_TEST(flow.value()->server_key == h.server("github").key);
  BOOST_TEST(flow.value()->verifier == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  BOOST_TEST(flow.value()->redirect_uri ==
             "https://broker.test/api/v1/user/credentials/github/callback");
  BOOST_TEST(flow.value()->issuer == "https://as.test");
  BOOST_TEST(flow.value()->created_at == RouteHarness::kNow);
}

BOOST_AUTO_TEST_CASE(flow_ttl_and_cap_come_from_the_config) {
  RouteHarness h(
      RouteOptions{.extra_config = R"("flow_ttl_seconds": 120, "max_pending_flows_per_user": 2,)"});
  std::vector<Flow> flows;
  for (int i = 0; i < 3; ++i) {
    flows.push_back(start_flow(h));
    h.clock.advance(1);
  }
  BOOST_TEST(h.redis.ttl(h.flows.flow_key(flows[2].state)).value_or(-1) == 120);
  BOOST_TEST(h.redis.zsets.at(h.flows.index_key("alice")).size() == 2u);
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", flows[0])), ui_error("github", "invalid_state"));
  check_redirect(callback(h, code_and_state("c", flows[2])), kSuccess);
}

BOOST_AUTO_TEST_CASE(a_configured_name_with_a_space_and_a_query_in_the_endpoint) {
  RouteHarness h;
  script_connect(h, std::string(32, '\x01'), appendix_b_octets());
  const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/basic%20WIKI/connect"));
  check_redirect(r,
                 std::string("https://wiki.test/oauth/authorize?tenant=acme&response_type=code") +
                     "&client_id=wiki%20client&redirect_uri=https%3A%2F%2Fbroker.test%2Fapi%2Fv1" +
                     "%2Fuser%2Fcredentials%2FBasic%2520Wiki%2Fcallback" +
                     "&state=" + state_from(h, std::string(32, '\x01')) +
                     "&code_challenge=" + kAppendixBChallenge + "&code_challenge_method=S256");
}

BOOST_AUTO_TEST_CASE(an_endpoint_query_is_kept_with_exactly_one_separator) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://a.test/authorize", "https://a.test/authorize?response_type=code&"},
      {"https://a.test/authorize?a=b", "https://a.test/authorize?a=b&response_type=code&"},
      {"https://a.test/authorize?", "https://a.test/authorize?response_type=code&"},
      {"https://a.test/authorize?a=b&", "https://a.test/authorize?a=b&response_type=code&"},
  };
  for (const auto& [endpoint, prefix] : cases) {
    RouteHarness h(RouteOptions{.servers = std::string(R"([{"name": "a", "url": "https://a.test",
        "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")") +
                                           endpoint + R"(",
                        "token_endpoint": "https://a.test/token", "client_id": "c",
                        "token_endpoint_auth_method": "none"}}])"});
    const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/a/connect"));
    BOOST_TEST(r.status == 302);
    BOOST_TEST(location(r).rfind(prefix, 0) == 0u, endpoint << " gave " << location(r));
  }
}

BOOST_AUTO_TEST_CASE(modes_other_than_oauth_connect_are_400) {
  RouteHarness h;
  const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/jira/connect"));
  BOOST_TEST(r.status == 400);
  BOOST_TEST(
      r.body ==
      R"({"error":"Bad Request","message":"Server \"jira\" does not use the OAuth connect flow","status_code":400})");
  BOOST_TEST(h.redis.log.empty());
  BOOST_TEST(h.random.calls == 0u);
}

BOOST_AUTO_TEST_CASE(unknown_servers_are_404_and_unauthenticated_callers_401_drawing_nothing) {
  RouteHarness h;
  BOOST_TEST(h.connect(h.request("GET", "/api/v1/user/credentials/nope/connect")).status == 404);
  BOOST_TEST(h.connect(h.request("GET", "/api/v1/user/credentials/plain/connect")).status == 404);
  BOOST_TEST(h.connect(h.request("GET", "/api/v1/user/credentials/github/connect", "")).status ==
             401);
  BOOST_TEST(h.redis.log.empty());
  BOOST_TEST(h.random.calls == 0u);
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_connect_is_503_not_enabled) {
  RouteHarness h(RouteOptions{.sealing_key = false});
  const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/github/connect"));
  BOOST_TEST(r.status == 503);
  BOOST_TEST(
      r.body ==
      R"({"error":"Service Unavailable","message":"Credential broker is not enabled","status_code":503})");
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(redis_unreachable_connect_is_503_without_a_redirect) {
  RouteHarness h;
  h.redis.down = true;
  const auto r = h.connect(h.request("GET", "/api/v1/user/credentials/github/connect"));
  BOOST_TEST(r.status == 503);
  BOOST_TEST(
      r.body ==
      R"({"error":"Service Unavailable","message":"Credential store is unavailable","status_code":503})");
  BOOST_TEST(!r.header("Location").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(callback_success)

BOOST_AUTO_TEST_CASE(exchanges_the_code_with_exactly_this_request) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("CODE-SENTINEL-1", f)), kSuccess);
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  const auto& sent = h.http.requests[0];
  BOOST_TEST(sent.method == "POST");
  BOOST_TEST(sent.url == "https://as.test/token");
  BOOST_TEST((sent.headers == std::vector<std::pair<std::string, std::string>>{
                                  {"Content-Type", "application/x-www-form-urlencoded"},
                                  {"Accept", "application/json"}}));
  BOOST_TEST(sent.body == "grant_type=authorization_code&code=CODE-SENTINEL-1&redirect_uri=" +
                              std::string(kGithubCallbackUri) + "&code_verifier=" + f.verifier +
                              "&client_id=gh-client&client_secret=CS-SENTINEL-github");
  BOOST_TEST(h.sink.events("credential_connected").size() == 1u);
}

BOOST_AUTO_TEST_CASE(stores_the_credential_sealed_with_every_field) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.clock.advance(30);  // the callback comes later than the connect
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f)), kSuccess);

  BOOST_TEST(credential_writes(h) == 1u);
  const auto stored = h.credentials.load("alice", h.server("github").key);
  BOOST_TEST_REQUIRE(stored.ok());
  BOOST_TEST_REQUIRE(stored.value().has_value());
  const store::Credential& c = *stored.value();
  BOOST_TEST(c.type == "oauth2");
  BOOST_TEST(c.access_token == "AT-SENTINEL-1");
  BOOST_TEST(c.refresh_token == "RT-SENTINEL-1");
  BOOST_TEST(c.token_type == "Bearer");
  BOOST_TEST(c.expires_at == RouteHarness::kNow + 30 + 3600);
  BOOST_TEST(c.scopes == (std::vector<std::string>{"repo"}), boost::test_tools::per_element());
  BOOST_TEST(c.audience == "https://api.github.test");
  BOOST_TEST(c.obtained_via == "connect_flow");
  BOOST_TEST(c.updated_at == RouteHarness::kNow + 30);
  for (const auto& [field, record] : h.redis.hashes.at(h.credentials.hash_key("alice"))) {
    BOOST_TEST(record.find("SENTINEL") == std::string::npos, "stored sealed, not in plaintext");
  }
}

BOOST_AUTO_TEST_CASE(a_minimal_token_response_takes_the_configured_defaults) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-2"})");
  check_redirect(callback(h, code_and_state("c", f)), kSuccess);
  const auto stored = h.credentials.load("alice", h.server("github").key);
  BOOST_TEST_REQUIRE(stored.ok());
  BOOST_TEST_REQUIRE(stored.value().has_value());
  const store::Credential& c = *stored.value();
  BOOST_TEST(c.token_type == "Bearer");
  BOOST_TEST(c.refresh_token.empty());
  BOOST_TEST(c.expires_at == 0, "no expiry known");
  BOOST_TEST(c.scopes == (std::vector<std::string>{"repo", "read:org"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.audience == "https://api.github.test");
}

BOOST_AUTO_TEST_CASE(expires_in_zero_means_no_expiry_not_already_expired) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", R"({"access_token":"AT-SENTINEL-3","expires_in":0})");
  check_redirect(callback(h, code_and_state("c", f)), kSuccess);
  BOOST_TEST(h.credentials.load("alice", h.server("github").key).value()->expires_at == 0);
  const auto list = h.list(h.request("GET", "/api/v1/user/credentials"));
  BOOST_TEST(list.body.find(R"({"server":"github","mode":"oauth_connect","status":"connected",)") !=
                 std::string::npos,
             list.body);
}

BOOST_AUTO_TEST_CASE(the_token_type_is_kept_as_the_server_sent_it) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", R"({"access_token":"a","token_type":"DPoP"})");
  check_redirect(callback(h, code_and_state("c", f)), kSuccess);
  BOOST_TEST(h.credentials.load("alice", h.server("github").key).value()->token_type == "DPoP");
}

BOOST_AUTO_TEST_CASE(client_secret_basic_and_a_server_without_resource) {
  RouteHarness h;
  const Flow f = start_flow(h, "alice", "Basic Wiki");
  h.http.answer(200, "application/json", R"({"access_token":"a"})");
  check_redirect(callback(h, code_and_state("c", f), "alice", "Basic Wiki"),
                 "/ui/?credential_server=Basic%20Wiki&credential_connected=1");
  BOOST_TEST_REQUIRE(h.http.requests.size() == 1u);
  const auto& sent = h.http.requests[0];
  BOOST_TEST(sent.url == "https://wiki.test/oauth/token");
  BOOST_TEST(sent.headers.at(2).first == "Authorization");
  BOOST_TEST(sent.headers.at(2).second ==
             "Basic " + crypto::base64_encode("wiki+client:CS-SENTINEL-wiki"));
  BOOST_TEST(sent.body.find("client_") == std::string::npos);
  const auto c = h.credentials.load("alice", h.server("Basic Wiki").key).value();
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->audience.empty());
  BOOST_TEST(c->scopes.empty());
}

BOOST_AUTO_TEST_CASE(the_ui_redirect_keeps_its_own_query) {
  RouteHarness h(RouteOptions{.extra_config = R"("ui_redirect": "/app/?tab=creds",)"});
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f)),
                 "/app/?tab=creds&credential_server=github&credential_connected=1");
  check_redirect(callback(h, code_and_state("c", f)),
                 "/app/?tab=creds&credential_server=github&credential_error=invalid_state");
}

BOOST_AUTO_TEST_CASE(the_same_state_twice_is_invalid_the_second_time) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f)), kSuccess);
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "invalid_state"));
  BOOST_TEST(h.http.requests.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(callback_failures)

BOOST_AUTO_TEST_CASE(a_bad_or_missing_state_is_invalid_state) {
  const char* queries[] = {"code=c",
                           "code=c&state=",
                           "code=c&state=STATE&state=STATE",
                           "code=c&state=unknown",
                           "code=c&state=STATE&bad=%zz",
                           ""};
  for (const char* query : queries) {
    RouteHarness h;
    const Flow f = start_flow(h);
    h.http.answer(200, "application/json", kTokenAnswer);
    std::string q = query;
    if (const auto at = q.find("STATE"); at != std::string::npos) q.replace(at, 5, f.state);
    if (const auto at = q.find("STATE"); at != std::string::npos) q.replace(at, 5, f.state);
    check_redirect(callback(h, q), ui_error("github", "invalid_state"));
    BOOST_TEST(last_reason(h) == "invalid_state", query);
    BOOST_TEST(h.http.requests.empty(), query);
    check_nothing_stored(h);
  }
}

BOOST_AUTO_TEST_CASE(a_state_issued_for_another_server_is_invalid_and_spent) {
  RouteHarness h;
  const Flow f = start_flow(h, "alice", "github");
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f), "alice", "Basic Wiki"),
                 ui_error("Basic Wiki", "invalid_state"));
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "invalid_state"));
  BOOST_TEST(h.http.requests.empty());
  check_nothing_stored(h);
}

BOOST_AUTO_TEST_CASE(a_callback_for_a_token_exchange_server_is_invalid_state) {
  RouteHarness h;
  const Flow f = start_flow(h);
  check_redirect(callback(h, code_and_state("c", f), "alice", "jira"),
                 ui_error("jira", "invalid_state"));
  BOOST_TEST(h.redis.log.empty());
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(another_users_callback_is_user_mismatch_and_spends_the_flow) {
  RouteHarness h;
  const Flow f = start_flow(h, "alice");
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f), "mallory"),
                 ui_error("github", "user_mismatch"));
  const auto warned = h.sink.events("callback_user_mismatch");
  BOOST_TEST_REQUIRE(warned.size() == 1u);
  BOOST_TEST(warned[0].find(R"("user":"mallory")") != std::string::npos, warned[0]);
  BOOST_TEST(warned[0].find(R"("flow_user":"alice")") != std::string::npos, warned[0]);
  check_redirect(callback(h, code_and_state("c", f), "alice"), ui_error("github", "invalid_state"));
  BOOST_TEST(h.http.requests.empty());
  check_nothing_stored(h);
}

BOOST_AUTO_TEST_CASE(an_unauthenticated_callback_is_401_and_spends_the_flow) {
  RouteHarness h;
  const Flow f = start_flow(h);
  const auto r = callback(h, code_and_state("c", f), "");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(!h.redis.strings.contains(h.flows.flow_key(f.state)), "the flow is spent");
  BOOST_TEST(h.http.requests.empty(), "no code exchange for an anonymous caller");
  // A leaked callback URL cannot be redeemed later, even by the user who started the flow.
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "invalid_state"));
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_server_is_a_404_not_a_redirect) {
  RouteHarness h;
  const Flow f = start_flow(h);
  const auto r = callback(h, code_and_state("c", f), "alice", "nope");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(!r.header("Location").has_value());
  BOOST_TEST(h.redis.log.empty());
}

BOOST_AUTO_TEST_CASE(authorization_errors_pass_known_codes_and_fold_the_rest) {
  const std::pair<const char*, const char*> cases[] = {
      {"access_denied", "access_denied"},
      {"invalid_scope", "invalid_scope"},
      {"server_error", "server_error"},
      {"temporarily_unavailable", "temporarily_unavailable"},
      {"interaction_required", "interaction_required"},
      {"login_required", "login_required"},
      {"account_selection_required", "account_selection_required"},
      {"consent_required", "consent_required"},
      {"unauthorized_client", "authorization_denied"},
      {"Access_Denied", "authorization_denied"},
      {"%3Cscript%3E", "authorization_denied"},
      {"", "authorization_denied"},
  };
  for (const auto& [error, label] : cases) {
    RouteHarness h;
    const Flow f = start_flow(h);
    h.http.answer(200, "application/json", kTokenAnswer);
    check_redirect(callback(h, code_and_state("c", f) + "&error=" + error +
                                   "&error_description=CODE-SENTINEL-described"),
                   ui_error("github", label));
    BOOST_TEST(h.http.requests.empty(), error);
    check_nothing_stored(h);
    check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "invalid_state"));
  }
}

BOOST_AUTO_TEST_CASE(a_present_iss_must_be_the_configured_issuer) {
  const std::pair<const char*, const char*> cases[] = {
      {"&iss=https%3A%2F%2Fevil.test", "issuer_mismatch"},
      {"&iss=https%3A%2F%2Fas.test%2F", "issuer_mismatch"},
      {"&iss=", "issuer_mismatch"},
      {"&iss=https%3A%2F%2Fas.test&iss=https%3A%2F%2Fas.test", "issuer_mismatch"},
  };
  for (const auto& [iss, label] : cases) {
    RouteHarness h;
    const Flow f = start_flow(h);
    h.http.answer(200, "application/json", kTokenAnswer);
    check_redirect(callback(h, code_and_state("c", f) + iss), ui_error("github", label));
    BOOST_TEST(h.http.requests.empty(), iss);
    check_nothing_stored(h);
  }
}

BOOST_AUTO_TEST_CASE(the_configured_issuer_or_no_iss_at_all_is_accepted) {
  for (const char* iss : {"&iss=https%3A%2F%2Fas.test", ""}) {
    RouteHarness h;
    const Flow f = start_flow(h);
    h.http.answer(200, "application/json", kTokenAnswer);
    check_redirect(callback(h, code_and_state("c", f) + iss), kSuccess);
  }
}

BOOST_AUTO_TEST_CASE(iss_is_ignored_for_a_server_without_a_configured_issuer) {
  RouteHarness h;
  const Flow f = start_flow(h, "alice", "Basic Wiki");
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(
      callback(h, code_and_state("c", f) + "&iss=https%3A%2F%2Fanyone.test", "alice", "Basic Wiki"),
      "/ui/?credential_server=Basic%20Wiki&credential_connected=1");
}

BOOST_AUTO_TEST_CASE(a_missing_empty_or_repeated_code_is_connect_failed) {
  for (const char* codes : {"", "&code=", "&code=a&code=b", "&code=a&code=a"}) {
    RouteHarness h;
    const Flow f = start_flow(h);
    h.http.answer(200, "application/json", kTokenAnswer);
    check_redirect(callback(h, "state=" + f.state + codes), ui_error("github", "connect_failed"));
    BOOST_TEST(h.http.requests.empty(), codes);
    check_nothing_stored(h);
  }
}

BOOST_AUTO_TEST_CASE(every_token_endpoint_failure_is_connect_failed_with_its_cause_logged) {
  struct Case {
    int status;  // 0: transport failure
    const char* content_type;
    const char* body;
    const char* cause;
    const char* oauth_error;
  };
  const Case cases[] = {
      {400, "application/json", R"({"error":"invalid_grant","error_description":"x"})",
       "http_status", "invalid_grant"},
      {401, "application/x-www-form-urlencoded", "error=invalid_client", "http_status",
       "invalid_client"},
      {500, "text/html", "<h1>oops</h1>", "http_status", ""},
      {302, "", "", "http_status", ""},
      {200, "application/json", R"({"token_type":"Bearer"})", "no_access_token", ""},
      {200, "text/html", "<html>login</html>", "bad_body", ""},
      {0, "", "", "transport:timeout", ""},
  };
  for (const auto& c : cases) {
    RouteHarness h;
    const Flow f = start_flow(h);
    if (c.status == 0) {
      h.http.fail(http::FetchError::kTimeout);
    } else {
      h.http.answer(c.status, c.content_type, c.body);
    }
    check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "connect_failed"));
    BOOST_TEST(h.http.requests.size() == 1u);
    check_nothing_stored(h);
    const auto lines = h.sink.events("token_exchange_failed");
    BOOST_TEST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0].find(R"("cause":")" + std::string(c.cause) + "\"") != std::string::npos,
               lines[0]);
    BOOST_TEST(lines[0].find(R"("oauth_error":")" + std::string(c.oauth_error) + "\"") !=
                   std::string::npos,
               lines[0]);
    BOOST_TEST(lines[0].find(R"("http_status":)" + std::to_string(c.status)) != std::string::npos,
               lines[0]);
  }
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_the_callback_is_unavailable_and_redis_untouched) {
  RouteHarness h(RouteOptions{.sealing_key = false});
  check_redirect(callback(h, "code=c&state=s"), ui_error("github", "unavailable"));
  BOOST_TEST(h.redis.log.empty());
  BOOST_TEST(h.http.requests.empty());
}

BOOST_AUTO_TEST_CASE(redis_unreachable_is_unavailable) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.redis.down = true;
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "unavailable"));
  BOOST_TEST(h.http.requests.empty());
  BOOST_TEST(h.redis.hashes.empty());
}

BOOST_AUTO_TEST_CASE(a_failing_credential_write_is_unavailable) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.redis.failing.insert("HSET");
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "unavailable"));
  BOOST_TEST(h.http.requests.size() == 1u);
  BOOST_TEST(h.redis.hashes.empty());
  BOOST_TEST(h.sink.events("credential_connected").empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rate_limits)

constexpr char kTooManyConnects[] =
    R"({"error":"Too Many Requests","message":"Too many connect attempts","status_code":429})";

BOOST_AUTO_TEST_CASE(the_21st_connect_in_a_minute_is_429_with_retry_after_and_stores_nothing) {
  RouteHarness h;       // the default: 20 connects per user per minute
  h.clock.advance(15);  // 15 s into the window [kNow, kNow + 60): kNow is a multiple of 60
  for (int i = 0; i < 20; ++i) start_flow(h);
  const auto r = h.connect(h.request("GET", connect_path("github")));
  BOOST_TEST(r.status == 429);
  BOOST_TEST(r.body == kTooManyConnects);
  BOOST_TEST(r.header("Retry-After").value_or("") == "45");
  BOOST_TEST(r.header("Content-Type").value_or("") == "application/json");
  BOOST_TEST(!r.header("Location").has_value());
  BOOST_TEST(
      (h.redis.ran() ==
       std::vector<Argv>{{"EVALSHA", store::script_sha(store::scripts::kCountHit), "1",
                          "credbroker:u:{" + store::user_tag("alice") + "}:rate:connect:1800000000",
                          "60"}}));
  BOOST_TEST(last_reason(h) == "rate_limited");
}

BOOST_AUTO_TEST_CASE(the_connect_limit_is_per_user_and_per_window_and_comes_from_the_config) {
  RouteHarness h(RouteOptions{.extra_config = R"("limits": {"connects_per_minute": 2},)"});
  h.clock.advance(59);
  start_flow(h);
  start_flow(h);
  const auto refused = h.connect(h.request("GET", connect_path("github")));
  BOOST_TEST(refused.status == 429);
  BOOST_TEST(refused.header("Retry-After").value_or("") == "1");
  start_flow(h, "bob");  // another user has a window of their own
  h.clock.advance(1);    // the next window
  start_flow(h);
  BOOST_TEST(h.redis.ttl("credbroker:u:{" + store::user_tag("alice") + "}:rate:connect:1800000000")
                 .value_or(-1) == 60);
  BOOST_TEST(h.redis.strings.at("credbroker:u:{" + store::user_tag("alice") +
                                "}:rate:connect:1800000000") == "3");
  BOOST_TEST(h.redis.strings.at("credbroker:u:{" + store::user_tag("alice") +
                                "}:rate:connect:1800000060") == "1");
}

BOOST_AUTO_TEST_CASE(a_failing_connect_count_is_503_and_stores_no_flow) {
  RouteHarness h;
  h.redis.failing.insert("EVALSHA");
  const auto r = h.connect(h.request("GET", connect_path("github")));
  BOOST_TEST(r.status == 503);
  BOOST_TEST(
      r.body ==
      R"({"error":"Service Unavailable","message":"Credential store is unavailable","status_code":503})");
  BOOST_TEST(h.redis.count("EVALSHA") == 1u, "the count only: no flow script");
  BOOST_TEST(h.redis.strings.empty());
}

BOOST_AUTO_TEST_CASE(the_21st_code_exchange_in_a_minute_is_rate_limited_and_never_sent) {
  RouteHarness h(RouteOptions{.extra_config = R"("limits": {"connects_per_minute": 100},)"
                                              R"("max_pending_flows_per_user": 100,)"});
  std::vector<Flow> flows;
  for (int i = 0; i < 21; ++i) flows.push_back(start_flow(h));
  h.http.answer(400, "application/json", R"({"error":"invalid_grant"})");
  for (int i = 0; i < 20; ++i) {
    check_redirect(callback(h, code_and_state("junk", flows[static_cast<std::size_t>(i)])),
                   ui_error("github", "connect_failed"));
  }
  BOOST_TEST(h.http.requests.size() == 20u);
  h.redis.log.clear();
  const auto r = callback(h, code_and_state("junk", flows[20]));
  check_redirect(r, ui_error("github", "rate_limited"));
  BOOST_TEST(!r.header("Retry-After").has_value());
  BOOST_TEST(h.http.requests.size() == 20u);
  BOOST_TEST(last_reason(h) == "rate_limited");
  // The flow is spent, not given back.
  BOOST_TEST(!h.redis.strings.contains(h.flows.flow_key(flows[20].state)));
  BOOST_TEST(h.redis.strings.at("credbroker:u:{" + store::user_tag("alice") +
                                "}:rate:code_exchange:1800000000") == "21");
  check_nothing_stored(h);
  // The audit event of a failed connect, with the label as its outcome.
  const auto events = h.sink.events("audit");
  BOOST_TEST_REQUIRE(!events.empty());
  BOOST_TEST(events.back().find(R"("outcome":"rate_limited")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(callbacks_that_never_reach_the_token_endpoint_are_not_counted) {
  RouteHarness h(RouteOptions{.extra_config = R"("limits": {"code_exchanges_per_minute": 1},)"});
  const Flow denied = start_flow(h);
  check_redirect(callback(h, "error=access_denied&state=" + denied.state),
                 ui_error("github", "access_denied"));
  const Flow codeless = start_flow(h);
  check_redirect(callback(h, "state=" + codeless.state), ui_error("github", "connect_failed"));
  check_redirect(callback(h, code_and_state("c", denied)), ui_error("github", "invalid_state"));
  const Flow bobs = start_flow(h, "bob");
  check_redirect(callback(h, code_and_state("c", bobs)), ui_error("github", "user_mismatch"));
  BOOST_TEST(!h.redis.strings.contains("credbroker:u:{" + store::user_tag("alice") +
                                       "}:rate:code_exchange:1800000000"));
  const Flow good = start_flow(h);
  h.http.answer(200, "application/json", kTokenAnswer);
  check_redirect(callback(h, code_and_state("c", good)), kSuccess);
  BOOST_TEST(h.http.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_failing_exchange_count_is_unavailable_and_sends_nothing) {
  RouteHarness h;
  const Flow f = start_flow(h);
  h.redis.failing.insert("INCR");  // the count script's command: taking the flow still works
  check_redirect(callback(h, code_and_state("c", f)), ui_error("github", "unavailable"));
  BOOST_TEST(h.http.requests.empty());
  check_nothing_stored(h);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(no_secret_reaches_a_response_a_redirect_or_a_log_line) {
  RouteHarness h;
  std::vector<http::Response> responses;
  // "eyJ" starts every JWT ('{"' in base64url): no caller's token is repeated anywhere.
  std::vector<std::string> secrets = {"AT-SENTINEL", "RT-SENTINEL", "CS-SENTINEL", "CODE-SENTINEL",
                                      "eyJ"};
  std::vector<std::string> states, connect_locations;
  const auto flow = [&](std::string_view user = "alice", std::string_view server = "github") {
    const Flow f = start_flow(h, user, server);
    secrets.push_back(f.verifier);
    states.push_back(f.state);
    connect_locations.push_back(f.location);
    return f;
  };
  const std::string alice = h.token("alice");

  // A successful round trip, through every route.
  const Flow ok = flow();
  h.http.answer(200, "application/json", kTokenAnswer);
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-1", ok)));
  responses.push_back(h.list(h.request("GET", "/api/v1/user/credentials")));
  const Flow wiki = flow("alice", "Basic Wiki");
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-2", wiki), "alice", "Basic Wiki"));
  // A token endpoint that echoes secrets in its error.
  const Flow echoed = flow();
  h.http.answer(
      400, "application/json",
      R"({"error":"AT-SENTINEL-e","error_description":"CS-SENTINEL-github CODE-SENTINEL-3"})");
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-3", echoed)));
  // An authorization error naming secrets, another user's state, a bad token, a failed write.
  const Flow denied = flow();
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-4", denied) +
                                      "&error=RT-SENTINEL&error_description=AT-SENTINEL"));
  const Flow stolen = flow();
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-5", stolen), "mallory"));
  auto forged = h.request("GET", callback_target("github", "code=CODE-SENTINEL-6"), "");
  forged.add_header("Authorization",
                    "Bearer " + alice.substr(0, alice.rfind('.') + 1) + "AT-SENTINEL");
  responses.push_back(h.callback(forged));
  const Flow unstored = flow();
  h.http.answer(200, "application/json", kTokenAnswer);
  h.redis.failing.insert("HSET");
  responses.push_back(callback(h, code_and_state("CODE-SENTINEL-7", unstored)));
  h.redis.failing.clear();
  responses.push_back(h.disconnect(h.request("DELETE", "/api/v1/user/credentials/github")));
  h.redis.down = true;
  responses.push_back(h.list(h.request("GET", "/api/v1/user/credentials")));
  responses.push_back(h.connect(h.request("GET", connect_path("github"))));

  BOOST_TEST(responses.size() == 11u);
  BOOST_TEST(h.sink.lines.size() > 20u);
  for (const auto& secret : secrets) {
    for (const auto& l : connect_locations) {
      BOOST_TEST(l.find(secret) == std::string::npos, secret << " in " << l);
    }
    for (const auto& r : responses) {
      BOOST_TEST(r.body.find(secret) == std::string::npos, secret << " in " << r.body);
      for (const auto& [name, value] : r.headers) {
        BOOST_TEST(value.find(secret) == std::string::npos, secret << " in " << name);
      }
    }
    for (const auto& line : h.sink.lines) {
      BOOST_TEST(line.find(secret) == std::string::npos, secret << " in " << line);
    }
  }
  for (const auto& state : states) {
    for (const auto& line : h.sink.lines) {
      BOOST_TEST(line.find(state) == std::string::npos, "state in " << line);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::routes
