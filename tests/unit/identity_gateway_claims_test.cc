#define BOOST_TEST_MODULE identity_gateway_claims
#include <boost/test/unit_test.hpp>
#include <string>

#include "shared/identity/gateway_claims.h"
#include "tests/support/jwt_mint.h"

namespace credbroker::identity {
namespace {

constexpr std::int64_t kT0 = 1'800'000'000;
constexpr char kIssuer[] = "https://issuer.test";

VerifyPolicy policy(std::string user_claim = "sub") {
  VerifyPolicy p;
  p.issuer = kIssuer;
  p.audiences = {"credbroker"};
  p.user_claim = std::move(user_claim);
  return p;
}

GatewayClaims gateway(std::string_view sub) {
  return {{"iss", kIssuer},
          {"sub", std::string(sub)},
          {"email", "alice@example.test"},
          {"exp", std::to_string(kT0 + 600)},
          {"scope", "openid profile"}};
}

config::Identity identity(bool trust) {
  config::Identity id;
  id.issuer = kIssuer;
  id.audiences = {"credbroker"};
  id.algorithms = {"ES256"};
  id.jwks_file = "unused";
  id.trust_api_gateway_authorizer = trust;
  return id;
}

const testing::SigningKey& key() {
  static const testing::SigningKey k = testing::generate_key(Alg::kES256, "k1");
  return k;
}

std::string token_for(std::string_view user) {
  return testing::mint(
      key(), testing::Claims().iss(kIssuer).aud("credbroker").sub(user).iat(kT0).exp(kT0 + 600));
}

/** An Authenticator over key() as a static key set, at kT0. */
struct Fixture {
  explicit Fixture(bool trust) : id(identity(trust)), auth(id, *source, clock) {}
  config::Identity id;
  FixedClock clock{kT0};
  std::unique_ptr<KeySource> source = [] {
    auto set = parse_jwks(testing::jwks_json({key()}));
    BOOST_REQUIRE(set.ok());
    return make_static_key_source(std::move(set.value()));
  }();
  Authenticator auth;
};

http::Request request(std::optional<std::string> bearer, std::optional<GatewayClaims> claims) {
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/user/credentials";
  if (bearer) r.add_header("Authorization", "Bearer " + *bearer);
  r.gateway_claims = std::move(claims);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pure_rules)

BOOST_AUTO_TEST_CASE(user_comes_from_the_configured_claim) {
  auto v = verify_gateway_claims(gateway("alice"), policy());
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "alice");
  BOOST_TEST(v->expires_at == kT0 + 600);
  v = verify_gateway_claims(gateway("alice"), policy("email"));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "alice@example.test");
}

BOOST_AUTO_TEST_CASE(missing_or_empty_user_claim_is_refused) {
  auto v = verify_gateway_claims(gateway("alice"), policy("preferred_username"));
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().kind == AuthErrorKind::kInvalid));
  BOOST_TEST((v.error().jwt == JwtError::kMissingUserClaim));
  v = verify_gateway_claims(gateway(""), policy());
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().jwt == JwtError::kMissingUserClaim));
  v = verify_gateway_claims({}, VerifyPolicy{});
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().jwt == JwtError::kMissingUserClaim));
}

BOOST_AUTO_TEST_CASE(another_issuer_or_none_is_refused) {
  auto claims = gateway("alice");
  claims[0].second = "https://other-issuer.test";
  auto v = verify_gateway_claims(claims, policy());
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().jwt == JwtError::kWrongIssuer));
  claims.erase(claims.begin());
  v = verify_gateway_claims(claims, policy());
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().jwt == JwtError::kWrongIssuer));
}

BOOST_AUTO_TEST_CASE(exp_that_is_not_a_number_leaves_expires_at_zero) {
  auto claims = gateway("alice");
  claims[3].second = "soon";
  const auto v = verify_gateway_claims(claims, policy());
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->expires_at == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(authenticator)

BOOST_AUTO_TEST_CASE(trust_off_ignores_gateway_claims_and_verifies_the_header) {
  Fixture f(false);
  auto v = f.auth.authenticate(request(std::nullopt, gateway("mallory")));
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().kind == AuthErrorKind::kMissing));
  v = f.auth.authenticate(request(token_for("alice"), gateway("mallory")));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "alice");
}

BOOST_AUTO_TEST_CASE(trust_on_takes_the_user_from_gateway_claims) {
  Fixture f(true);
  auto v = f.auth.authenticate(request(std::nullopt, gateway("bob")));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "bob");
  // The claims decide even when a header is present: they are what API Gateway verified.
  v = f.auth.authenticate(request(token_for("alice"), gateway("bob")));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "bob");
  BOOST_TEST(f.auth.cache_size() == 0u);
}

BOOST_AUTO_TEST_CASE(trust_on_without_gateway_claims_verifies_the_header) {
  Fixture f(true);
  auto v = f.auth.authenticate(request(token_for("alice"), std::nullopt));
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v->user == "alice");
  v = f.auth.authenticate(request("not.a.jwt", std::nullopt));
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().kind == AuthErrorKind::kInvalid));
  v = f.auth.authenticate(request(std::nullopt, std::nullopt));
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().kind == AuthErrorKind::kMissing));
}

BOOST_AUTO_TEST_CASE(trust_on_with_claims_of_another_issuer_is_refused) {
  Fixture f(true);
  auto claims = gateway("bob");
  claims[0].second = "https://evil.test";
  const auto v = f.auth.authenticate(request(token_for("alice"), claims));
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST((v.error().jwt == JwtError::kWrongIssuer));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::identity
