// The reference gateway's own user tokens (mcpproxy server edition), end to end behind each front:
// with identity.hmac_secret_env naming the variable that holds the gateway's .token_key in base64,
// the HS256 tokens its CLI sends (no iss, no aud, 24 h TTL) are accepted, per user, and nothing
// else is: not a tampered or expired one, not one signed with another key, not a public-key token.
#define BOOST_TEST_MODULE integration_reference_tokens
#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>

#include "shared/crypto/base64.h"
#include "shared/crypto/random.h"
#include "shared/http/request.h"
#include "shared/util/clock.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kKeyVariable = "CREDBROKER_TEST_TOKEN_KEY";
constexpr std::string_view kAccessSentinel = "HS-ACCESS-SENTINEL-e41b7c";
constexpr std::string_view kRefreshSentinel = "HS-REFRESH-SENTINEL-9d03fa";

/** What the gateway writes to <data_dir>/.token_key: 32 random bytes. */
struct GatewayKey {
  std::string bytes = crypto::system_random().bytes(32);
  /** What the operator exports: `base64 -w0 <data_dir>/.token_key`. */
  std::string exported = crypto::base64_encode(bytes);
};

struct Suite : SuiteInstance<Suite> {
  Suite()
      : stack(start_front(issuer, {.redis_url = redis.url(),
                                   .hmac_secret_env = std::string(kKeyVariable),
                                   .env = {{std::string(kKeyVariable), key.exported}}})) {}
  RedisServer redis;
  TestIssuer issuer;  // its public keys are NOT trusted by this stack
  GatewayKey key;
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
  }
};

std::int64_t now() {
  return system_clock().now_seconds();
}

/** The claims the gateway puts in a user token (its session issuer): no iss, no aud. */
Claims gateway_claims(std::string_view user, std::int64_t iat = now()) {
  return Claims()
      .sub(user)
      .iat(iat)
      .exp(iat + 86400)
      .claim_string("jti", "b1f7c3d2-6a0e-4c59-8e21-0d2c9b3e7f11")
      .claim_string("email", std::string(user) + "@example.com")
      .claim_string("display_name", user)
      .claim_string("role", "user")
      .claim_string("provider", "github");
}

/** A token minted exactly as the gateway mints it: HS256 over its header and claims. */
std::string gateway_token(const Claims& claims, const std::string& key = S().key.bytes) {
  return hs256(key, R"({"alg":"HS256","typ":"JWT"})", claims.json());
}
std::string gateway_token(std::string_view user) {
  return gateway_token(gateway_claims(user));
}

rapidjson::Document json(const Answer& a) {
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  return d;
}

std::string status_of(const Answer& a, std::string_view server) {
  BOOST_TEST_REQUIRE(a.status == 200, a.body);
  const auto d = json(a);
  for (const auto& e : d["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return e["status"].GetString();
  }
  return "absent";
}

store::Credential credential() {
  store::Credential c;
  c.access_token = std::string(kAccessSentinel);
  c.refresh_token = std::string(kRefreshSentinel);
  c.token_type = "Bearer";
  c.expires_at = now() + 3600;
  c.scopes = {"repo"};
  c.obtained_via = "connect_flow";
  c.updated_at = now();
  return c;
}

void expect_401(const Answer& a) {
  BOOST_TEST(a.status == 401);
  BOOST_TEST(a.body == "{\"error\":\"" + std::string(http::reason_phrase(401)) +
                           "\",\"message\":\"Authentication required\",\"status_code\":401}");
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(reference_tokens, Clean)

BOOST_AUTO_TEST_CASE(the_gateways_token_lists_that_users_credentials_only) {
  seed_credential(S().redis.url(), S().stack->keys(), "github|alice", default_server_key("github"),
                  credential());
  const auto alice = S().stack->get(kList, gateway_token("github|alice"));
  BOOST_TEST(status_of(alice, "github") == "connected");
  BOOST_TEST(alice.body.find(kAccessSentinel) == std::string::npos);
  BOOST_TEST(alice.body.find(kRefreshSentinel) == std::string::npos);
  // Another user of the same gateway never sees alice's credential.
  BOOST_TEST(status_of(S().stack->get(kList, gateway_token("github|bob")), "github") ==
             "not_connected");
  // The CLI's `credential rm`: bob's token removes nothing of alice's, hers removes it.
  BOOST_TEST(S().stack->del(std::string(kList) + "/github", gateway_token("github|bob")).status ==
             200);
  BOOST_TEST(status_of(S().stack->get(kList, gateway_token("github|alice")), "github") ==
             "connected");
  BOOST_TEST(S().stack->del(std::string(kList) + "/github", gateway_token("github|alice")).status ==
             200);
  BOOST_TEST(status_of(S().stack->get(kList, gateway_token("github|alice")), "github") ==
             "not_connected");
}

BOOST_AUTO_TEST_CASE(a_token_issued_a_full_day_ago_minus_a_minute_still_works) {
  // The gateway's default TTL is 24 h: exp - iat == 86400 fits max_token_lifetime_seconds.
  const auto a =
      S().stack->get(kList, gateway_token(gateway_claims("github|carol", now() - 86340)));
  BOOST_TEST(a.status == 200, a.body);
}

BOOST_AUTO_TEST_CASE(tampered_foreign_expired_and_public_key_tokens_are_401) {
  const std::string good = gateway_token("github|alice");
  const auto dot = good.rfind('.');
  const std::string signature = good.substr(dot + 1);
  // The payload of bob's token under alice's signature.
  const std::string bob = gateway_token("github|bob");
  const std::string swapped = bob.substr(0, bob.rfind('.') + 1) + signature;
  std::string flipped = good;
  flipped[dot + 1] = flipped[dot + 1] == 'A' ? 'B' : 'A';
  const std::string other_key = crypto::system_random().bytes(32);
  const std::int64_t t = now();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"payload swapped", swapped},
      {"signature changed", flipped},
      {"signature removed", good.substr(0, dot + 1)},
      {"another gateway's key", gateway_token(gateway_claims("github|alice"), other_key)},
      {"expired", gateway_token(gateway_claims("github|alice", t - 86400 - 3600))},
      {"no exp", gateway_token(gateway_claims("github|alice").remove("exp"))},
      {"longer than 24 h", gateway_token(gateway_claims("github|alice").exp(t + 86400 + 3600))},
      {"alg none", crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." +
                       crypto::base64url_encode(gateway_claims("github|alice").json()) + "."},
      {"HS512 with the key", hs256(S().key.bytes, R"({"alg":"HS512","typ":"JWT"})",
                                   gateway_claims("github|alice").json())},
      // A valid public-key token of an issuer other stacks trust: no public key is trusted here.
      {"RS256", mint(S().issuer.rsa_key(), S().issuer.claims("github|alice").exp(t + 600))},
      {"ES256", S().issuer.token("github|alice")},
      // HMAC keyed with the base64 text instead of the key bytes.
      {"keyed with the exported text",
       gateway_token(gateway_claims("github|alice"), S().key.exported)}};
  for (const auto& [what, token] : bad) {
    BOOST_TEST_CONTEXT(what) {
      expect_401(S().stack->get(kList, token));
    }
  }
  BOOST_TEST(S().stack->get(kList, good).status == 200);
}

BOOST_AUTO_TEST_CASE(the_key_never_reaches_a_log_or_an_answer) {
  const auto ok = S().stack->get(kList, gateway_token("github|alice"));
  const auto refused = S().stack->get(
      kList, gateway_token(gateway_claims("github|alice"), crypto::system_random().bytes(32)));
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(refused.status == 401);
  const std::string log = S().stack->log();
  for (const auto& form :
       {S().key.exported, crypto::base64url_encode(S().key.bytes), S().key.bytes}) {
    BOOST_TEST(log.find(form) == std::string::npos);
    BOOST_TEST(ok.body.find(form) == std::string::npos);
    BOOST_TEST(refused.body.find(form) == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
