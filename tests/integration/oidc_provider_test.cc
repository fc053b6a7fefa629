// The fixture itself: a real oidc-provider (tests/oidc/server.mjs) walked through by Browser, and
// its token endpoint answering the exchanges credbroker's callback makes — client_secret_post,
// client_secret_basic and a public client — with PKCE enforced, RFC 9207 "iss" on the way back and
// a refusal ending in access_denied. No credbroker handler runs here.
#define BOOST_TEST_MODULE integration_oidc_provider
#include "tests/support/servers/oidc_provider.h"

#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/crypto/pkce.h"
#include "shared/http/client.h"
#include "shared/http/url.h"
#include "tests/support/fakes/browser.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kResource = "https://api.example.test";
constexpr std::string_view kUnlistedResource = "https://other.example.test";
// RFC 7636 Appendix B: the verifier and its S256 challenge.
constexpr std::string_view kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** Where credbroker would listen; nothing does, since the browser never follows the callback. */
std::string callback_for(int port, std::string_view name) {
  return "http://127.0.0.1:" + std::to_string(port) + "/api/v1/user/credentials/" +
         std::string(name) + "/callback";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : broker_port(free_port()),
        provider({
            .clients = {{.client_id = "post-client",
                         .client_secret = "post-secret-6f1c",
                         .auth_method = "client_secret_post",
                         .redirect_uris = {callback_for(broker_port, "post")}},
                        {.client_id = "basic client/1",  // needs form-encoding in Basic (§2.3.1)
                         .client_secret = "basic:secret+%",
                         .auth_method = "client_secret_basic",
                         .redirect_uris = {callback_for(broker_port, "basic")}},
                        {.client_id = "public-client",
                         .client_secret = "",
                         .auth_method = "none",
                         .redirect_uris = {callback_for(broker_port, "public")}}},
            .resources = {{.indicator = std::string(kResource), .scope = "repo read:user"}},
            .default_resource = std::string(kResource),
        }) {}
  int broker_port;
  OidcProvider provider;
};
CREDBROKER_TEST_SUITE(Suite)

/** Distinct, predictable states: "state-1", "state-2", ... */
std::string next_state() {
  static int n = 0;
  return "state-" + std::to_string(++n);
}

/** One authorization request, built as credbroker's connect route builds it. */
struct Authorization {
  std::string client_id;
  std::string redirect_uri;
  std::string scope = "repo";
  std::string resource;  // empty: none sent
  std::string state = next_state();
  std::string challenge = std::string(kChallenge);

  std::string url() const {
    std::vector<std::pair<std::string, std::string>> q = {{"response_type", "code"},
                                                          {"client_id", client_id},
                                                          {"redirect_uri", redirect_uri},
                                                          {"state", state},
                                                          {"scope", scope}};
    if (!challenge.empty()) {
      q.emplace_back("code_challenge", challenge);
      q.emplace_back("code_challenge_method", "S256");
    }
    if (!resource.empty()) q.emplace_back("resource", resource);
    return S().provider.authorization_endpoint() + "?" + http::build_query(q);
  }
};

Authorization for_client(std::string_view id, std::string_view callback_name) {
  return {.client_id = std::string(id),
          .redirect_uri = callback_for(S().broker_port, callback_name)};
}

/** The callback URL's query parameters; the URL must start with `redirect_uri` + "?". */
std::map<std::string, std::string> callback_params(const std::string& url,
                                                   const std::string& redirect_uri) {
  BOOST_TEST_REQUIRE(url.starts_with(redirect_uri + "?"), "callback URL: " << url);
  auto pairs = http::parse_query(std::string_view(url).substr(redirect_uri.size() + 1));
  BOOST_TEST_REQUIRE(pairs.has_value());
  std::map<std::string, std::string> out;
  for (auto& [k, v] : *pairs) out.emplace(std::move(k), std::move(v));
  return out;
}

std::string browse(const Authorization& a, bool consent = true) {
  Browser browser({.callback_prefix = a.redirect_uri});
  return browser.authorize(a.url(), "alice", consent);
}

struct TokenAnswer {
  int status = 0;
  rapidjson::Document json;
  std::string str(const char* key) const {
    return json.HasMember(key) && json[key].IsString() ? json[key].GetString() : "";
  }
};

/** POSTs a form to the token endpoint, with HTTP Basic client authentication when `basic` is set.
 */
TokenAnswer token_request(std::vector<std::pair<std::string, std::string>> form,
                          std::optional<std::pair<std::string, std::string>> basic = {}) {
  http::OutboundRequest req{.method = "POST",
                            .url = S().provider.token_endpoint(),
                            .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                        {"Accept", "application/json"}},
                            .body = http::build_query(form)};
  if (basic) {
    // RFC 6749 §2.3.1: both halves form-encoded before base64.
    req.headers.emplace_back(
        "Authorization", "Basic " + crypto::base64_encode(http::percent_encode(basic->first) + ":" +
                                                          http::percent_encode(basic->second)));
  }
  auto client = http::make_curl_client({});
  auto answer = client->send(req);
  if (!answer.ok()) BOOST_FAIL("token endpoint: " << http::describe(answer.error()));
  TokenAnswer out;
  out.status = answer->status;
  out.json.Parse(answer->body.c_str());
  BOOST_TEST_REQUIRE((!out.json.HasParseError() && out.json.IsObject()),
                     "token endpoint answered no JSON object, HTTP " << answer->status);
  return out;
}

std::vector<std::pair<std::string, std::string>> code_exchange(const std::string& code,
                                                               const Authorization& a) {
  return {{"grant_type", "authorization_code"},
          {"code", code},
          {"redirect_uri", a.redirect_uri},
          {"code_verifier", std::string(kVerifier)}};
}

/** A successful RFC 6749 §5.1 response: both tokens, the lifetime and the granted scope. */
void expect_tokens(const TokenAnswer& t, std::string_view scope) {
  BOOST_TEST(t.status == 200);
  BOOST_TEST(!t.str("access_token").empty());
  BOOST_TEST(!t.str("refresh_token").empty());
  BOOST_TEST(t.str("token_type") == "Bearer");
  BOOST_TEST_REQUIRE(t.json.HasMember("expires_in"));
  BOOST_TEST(t.json["expires_in"].GetInt() == 3600);
  BOOST_TEST(t.str("scope") == scope);
}

}  // namespace

BOOST_AUTO_TEST_CASE(discovery_names_the_loopback_endpoints) {
  const std::string issuer = OidcProvider::issuer_for(S().provider.port());
  BOOST_TEST(S().provider.issuer() == issuer);
  BOOST_TEST(S().provider.authorization_endpoint() == issuer + "/auth");
  BOOST_TEST(S().provider.token_endpoint() == issuer + "/token");
  BOOST_TEST(crypto::s256_challenge(kVerifier) == kChallenge);
}

BOOST_AUTO_TEST_CASE(client_secret_post_gets_code_with_state_and_iss_then_tokens_for_resource) {
  Authorization a = for_client("post-client", "post");
  a.resource = kResource;
  a.scope = "repo read:user";
  const auto p = callback_params(browse(a), a.redirect_uri);
  BOOST_TEST(p.at("state") == a.state);
  BOOST_TEST(p.at("iss") == S().provider.issuer());  // RFC 9207
  BOOST_TEST(!p.at("code").empty());
  BOOST_TEST(!p.contains("error"));

  auto form = code_exchange(p.at("code"), a);
  form.emplace_back("client_id", "post-client");
  form.emplace_back("client_secret", "post-secret-6f1c");
  expect_tokens(token_request(form), "repo read:user");
  // An authorization code is good once (RFC 6749 §4.1.2).
  const TokenAnswer again = token_request(form);
  BOOST_TEST(again.status == 400);
  BOOST_TEST(again.str("error") == "invalid_grant");
}

BOOST_AUTO_TEST_CASE(client_secret_basic_without_resource_gets_the_default_resource_scope) {
  const Authorization a = for_client("basic client/1", "basic");
  const auto p = callback_params(browse(a), a.redirect_uri);
  BOOST_TEST(p.at("state") == a.state);
  expect_tokens(
      token_request(code_exchange(p.at("code"), a),
                    std::pair<std::string, std::string>{"basic client/1", "basic:secret+%"}),
      "repo");
}

BOOST_AUTO_TEST_CASE(public_client_sends_only_client_id_and_can_refresh) {
  Authorization a = for_client("public-client", "public");
  a.resource = kResource;
  const auto p = callback_params(browse(a), a.redirect_uri);
  auto form = code_exchange(p.at("code"), a);
  form.emplace_back("client_id", "public-client");
  const TokenAnswer t = token_request(form);
  expect_tokens(t, "repo");

  const TokenAnswer refreshed = token_request({{"grant_type", "refresh_token"},
                                               {"refresh_token", t.str("refresh_token")},
                                               {"client_id", "public-client"}});
  BOOST_TEST(refreshed.status == 200);
  BOOST_TEST(!refreshed.str("access_token").empty());
  BOOST_TEST(refreshed.str("access_token") != t.str("access_token"));
  BOOST_TEST(refreshed.str("scope") == "repo");
}

BOOST_AUTO_TEST_CASE(wrong_code_verifier_is_invalid_grant) {
  const Authorization a = for_client("public-client", "public");
  const auto p = callback_params(browse(a), a.redirect_uri);
  auto form = code_exchange(p.at("code"), a);
  form.emplace_back("client_id", "public-client");
  for (auto& [k, v] : form) {
    if (k == "code_verifier") v = std::string(43, 'x');
  }
  const TokenAnswer t = token_request(form);
  BOOST_TEST(t.status == 400);
  BOOST_TEST(t.str("error") == "invalid_grant");
  BOOST_TEST(t.str("access_token").empty());
}

BOOST_AUTO_TEST_CASE(authorization_without_code_challenge_is_refused_at_the_callback) {
  Authorization a = for_client("post-client", "post");
  a.challenge.clear();
  const auto p = callback_params(browse(a), a.redirect_uri);
  BOOST_TEST(p.at("error") == "invalid_request");
  BOOST_TEST(p.at("state") == a.state);
  BOOST_TEST(!p.contains("code"));
}

BOOST_AUTO_TEST_CASE(unknown_resource_is_refused_with_invalid_target) {
  Authorization a = for_client("post-client", "post");
  a.resource = kUnlistedResource;
  const auto p = callback_params(browse(a), a.redirect_uri);
  BOOST_TEST(p.at("error") == "invalid_target");  // RFC 8707 §2
  BOOST_TEST(!p.contains("code"));
}

BOOST_AUTO_TEST_CASE(refusing_consent_returns_access_denied_with_state_and_iss) {
  const Authorization a = for_client("post-client", "post");
  const auto p = callback_params(browse(a, /*consent=*/false), a.redirect_uri);
  BOOST_TEST(p.at("error") == "access_denied");
  BOOST_TEST(p.at("state") == a.state);
  BOOST_TEST(p.at("iss") == S().provider.issuer());
  BOOST_TEST(!p.contains("code"));
}

BOOST_AUTO_TEST_CASE(unknown_client_stops_the_browser_at_the_error_page) {
  // No redirect back for an unknown client (RFC 6749 §4.1.2.1): the server's page says why.
  const Authorization a = for_client("nobody", "post");
  BOOST_CHECK_EXCEPTION(browse(a), std::runtime_error, [](const std::runtime_error& e) {
    const std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    return what.find("GET /auth answered 400") != std::string::npos &&
           what.find("invalid_client") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(log_holds_no_secret_code_or_token) {
  const std::string log = S().provider.log();
  BOOST_TEST(log.find("POST /token") != std::string::npos);
  for (const char* secret : {"post-secret-6f1c", "basic:secret+%", "code=", "access_token"}) {
    BOOST_TEST(log.find(secret) == std::string::npos, secret);
  }
}
