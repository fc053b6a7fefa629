// The whole round trip against a real OAuth 2.0 authorization server (oidc-provider), over real
// HTTP, through the front server and the handlers: connect → authorize → login and consent →
// callback → list shows the credential → delete → not connected.
#define BOOST_TEST_MODULE integration_oidc_round_trip
#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>
#include <map>

#include "shared/config/config.h"
#include "shared/http/url.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/browser.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/oidc_provider.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kSecret = "acme-client-secret-SENTINEL-4e8d";
constexpr std::string_view kResource = "https://api.acme.test";

std::string servers_json(const std::string& issuer) {
  return R"([
    {"name": "acme", "url": "https://api.acme.test/mcp",
     "auth_broker": {"mode": "oauth_connect",
       "authorization_endpoint": ")" +
         issuer + R"(/auth", "token_endpoint": ")" + issuer + R"(/token",
       "client_id": "credbroker-confidential", "client_secret": ")" +
         std::string(kSecret) + R"(",
       "scopes": ["repo", "read:user"], "resource": ")" +
         std::string(kResource) + R"(",
       "issuer": ")" +
         issuer + R"("}},
    {"name": "acme public", "url": "https://api.acme.test/public",
     "auth_broker": {"mode": "oauth_connect",
       "authorization_endpoint": ")" +
         issuer + R"(/auth", "token_endpoint": ")" + issuer + R"(/token",
       "client_id": "credbroker-public", "token_endpoint_auth_method": "none",
       "scopes": ["repo"], "issuer": ")" +
         issuer + R"("}}
  ])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as_port(free_port()),
        front(start_front(issuer, {.redis_url = redis.url(),
                                   .servers_json = servers_json(OidcProvider::issuer_for(as_port)),
                                   .extra_config = resolve_config_json(issuer)})),
        provider(OidcProviderOptions{
            .clients = {{.client_id = "credbroker-confidential",
                         .client_secret = std::string(kSecret),
                         .auth_method = "client_secret_post",
                         .redirect_uris = {front->url("/api/v1/user/credentials/acme/callback")}},
                        {.client_id = "credbroker-public",
                         .auth_method = "none",
                         .redirect_uris = {front->url(
                             "/api/v1/user/credentials/acme%20public/callback")}}},
            .resources = {{.indicator = std::string(kResource), .scope = "repo read:user"}},
            .default_resource = std::string(kResource),
            .port = as_port}) {}
  RedisServer redis;
  TestIssuer issuer;
  int as_port;
  std::unique_ptr<Front> front;
  OidcProvider provider;
};
CREDBROKER_TEST_SUITE(Suite)

const rapidjson::Value* entry(const rapidjson::Document& d, std::string_view server) {
  for (const auto& e : d["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return &e;
  }
  return nullptr;
}

/** connect → browser → the callback URL the provider sent the browser to. */
std::string authorize_at_provider(std::string_view user, std::string_view server,
                                  bool consent = true) {
  const auto connect = S().front->get(
      std::string(kList) + "/" + http::percent_encode(server) + "/connect", S().issuer.token(user));
  BOOST_TEST_REQUIRE(connect.status == 302);
  const auto authorize = connect.header("location").value_or("");
  BOOST_TEST_REQUIRE(authorize.rfind(S().provider.authorization_endpoint(), 0) == 0);
  Browser browser({.callback_prefix = S().front->url("/api/v1/user/credentials/")});
  return browser.authorize(authorize, std::string(user), consent);
}

/** Follows the provider's redirect into credbroker's callback as `user`; returns its Location. */
std::string callback(std::string_view user, const std::string& callback_url) {
  const std::string prefix = S().front->url("");
  BOOST_TEST_REQUIRE(callback_url.rfind(prefix, 0) == 0);
  const auto a = S().front->get(callback_url.substr(prefix.size()), S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302);
  return a.header("location").value_or("");
}

}  // namespace

BOOST_AUTO_TEST_CASE(confidential_client_round_trip_then_disconnect) {
  const std::int64_t before = system_clock().now_seconds();
  const auto back = authorize_at_provider("alice", "acme");
  BOOST_TEST(back.find("iss=") != std::string::npos);  // RFC 9207, checked by the callback
  BOOST_TEST(callback("alice", back) == "/ui/?credential_server=acme&credential_connected=1");

  const auto token = S().issuer.token("alice");
  rapidjson::Document d;
  const auto list = S().front->get(kList, token);
  d.Parse(list.body.c_str());
  const auto* acme = entry(d, "acme");
  BOOST_TEST_REQUIRE(acme != nullptr);
  BOOST_TEST(std::string((*acme)["status"].GetString()) == "connected");
  BOOST_TEST(std::string((*acme)["obtained_via"].GetString()) == "connect_flow");
  BOOST_TEST(std::string((*acme)["audience"].GetString()) == std::string(kResource));
  BOOST_TEST_REQUIRE((*acme)["scopes"].Size() == 2u);
  BOOST_TEST(std::string((*acme)["scopes"][0].GetString()) == "repo");
  BOOST_TEST(std::string((*acme)["scopes"][1].GetString()) == "read:user");
  // The provider grants an hour.
  const std::string expires = (*acme)["expires_at"].GetString();
  BOOST_TEST(expires >= format_rfc3339(before + 3600 - 5));
  BOOST_TEST(expires <= format_rfc3339(system_clock().now_seconds() + 3600 + 5));
  BOOST_TEST(std::string((*entry(d, "acme public"))["status"].GetString()) == "not_connected");
  // Another user sees nothing of it.
  rapidjson::Document bob;
  bob.Parse(S().front->get(kList, S().issuer.token("bob")).body.c_str());
  BOOST_TEST(std::string((*entry(bob, "acme"))["status"].GetString()) == "not_connected");

  BOOST_TEST(S().front->del("/api/v1/user/credentials/acme", token).status == 200);
  d.Parse(S().front->get(kList, token).body.c_str());
  BOOST_TEST(std::string((*entry(d, "acme"))["status"].GetString()) == "not_connected");

  BOOST_TEST(S().front->log().find(kSecret) == std::string::npos);
  BOOST_TEST(S().provider.log().find(kSecret) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(resolve_refreshes_a_credential_near_expiry_at_the_real_provider) {
  BOOST_TEST_REQUIRE(callback("frank", authorize_at_provider("frank", "acme")) ==
                     "/ui/?credential_server=acme&credential_connected=1");
  const std::string key = config::server_key("acme", "https://api.acme.test/mcp");
  auto c = load_credential(S().redis.url(), S().front->keys(), "frank", key);
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST_REQUIRE(!c->refresh_token.empty());
  const std::string connected_access = c->access_token;
  // Age it by an hour, into its refresh window, instead of waiting.
  const std::int64_t now = system_clock().now_seconds();
  c->expires_at = now + 5;
  c->updated_at = now - 3595;
  seed_credential(S().redis.url(), S().front->keys(), "frank", key, *c);

  const auto answer = S().front->request(
      "POST", "/api/v1/internal/credentials/resolve",
      {{"Authorization", "Bearer " + S().issuer.service_token()},
       {"Content-Type", "application/json"}},
      R"({"server":"acme","subject_token":")" + S().issuer.token("frank") + R"("})");
  BOOST_TEST_REQUIRE(answer.status == 200, answer.body);
  rapidjson::Document d;
  d.Parse(answer.body.c_str());
  const std::string refreshed = d["access_token"].GetString();
  BOOST_TEST(refreshed != connected_access);
  BOOST_TEST(std::string(d["header"]["value"].GetString()) == "Bearer " + refreshed);
  const auto after = load_credential(S().redis.url(), S().front->keys(), "frank", key);
  BOOST_TEST_REQUIRE(after.has_value());
  BOOST_TEST(after->access_token == refreshed);
  BOOST_TEST(after->expires_at >= now + 3600 - 5);
  BOOST_TEST(!after->refresh_token.empty());

  // The provider itself says the refreshed token is live (RFC 7662 introspection).
  auto client = http::make_curl_client({});
  http::OutboundRequest introspect;
  introspect.method = "POST";
  introspect.url = S().provider.issuer() + "/token/introspection";
  introspect.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  introspect.body = http::build_query({{"token", refreshed},
                                       {"client_id", "credbroker-confidential"},
                                       {"client_secret", std::string(kSecret)}});
  const auto live = client->send(introspect);
  BOOST_TEST_REQUIRE(live.ok());
  BOOST_TEST(live->body.find(R"("active":true)") != std::string::npos, live->body);
  BOOST_TEST(S().front->log().find(refreshed) == std::string::npos);
  BOOST_TEST(S().front->log().find(after->refresh_token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(public_client_round_trip) {
  const auto back = authorize_at_provider("carol", "acme public");
  BOOST_TEST(callback("carol", back) ==
             "/ui/?credential_server=acme%20public&credential_connected=1");
  rapidjson::Document d;
  d.Parse(S().front->get(kList, S().issuer.token("carol")).body.c_str());
  BOOST_TEST(std::string((*entry(d, "acme public"))["status"].GetString()) == "connected");
}

BOOST_AUTO_TEST_CASE(refused_consent_comes_back_as_access_denied) {
  const auto back = authorize_at_provider("dave", "acme", /*consent=*/false);
  BOOST_TEST(callback("dave", back) ==
             "/ui/?credential_server=acme&credential_error=access_denied");
  rapidjson::Document d;
  d.Parse(S().front->get(kList, S().issuer.token("dave")).body.c_str());
  BOOST_TEST(std::string((*entry(d, "acme"))["status"].GetString()) == "not_connected");
}

BOOST_AUTO_TEST_CASE(a_code_consumed_by_one_user_cannot_be_finished_by_another) {
  const auto back = authorize_at_provider("erin", "acme");
  BOOST_TEST(callback("mallory", back) ==
             "/ui/?credential_server=acme&credential_error=user_mismatch");
  BOOST_TEST(callback("erin", back) ==
             "/ui/?credential_server=acme&credential_error=invalid_state");
}
