#define BOOST_TEST_MODULE identity_authenticator
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "shared/identity/authenticator.h"
#include "shared/util/strings.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/tempdir.h"

namespace credbroker::identity {
namespace {

using testing::Claims;
using testing::SigningKey;

constexpr std::int64_t kT0 = 1'800'000'000;
constexpr char kJwksUrl[] = "https://issuer.test/.well-known/jwks.json";

const SigningKey& es256_key() {
  static const SigningKey key = testing::generate_key(Alg::kES256, "current");
  return key;
}
const SigningKey& rotated_key() {
  static const SigningKey key = testing::generate_key(Alg::kES256, "next");
  return key;
}

KeySet keys_of(const std::vector<SigningKey>& keys) {
  auto set = parse_jwks(testing::jwks_json(keys));
  BOOST_REQUIRE(set.ok());
  return std::move(set.value());
}

config::Identity identity_config() {
  config::Identity id;
  id.issuer = "https://issuer.test";
  id.audiences = {"credbroker"};
  id.algorithms = {"ES256", "RS256"};
  id.leeway_seconds = 60;
  id.jwks_url = kJwksUrl;
  return id;
}

Claims claims(std::string_view user = "alice", std::int64_t exp = kT0 + 600) {
  return Claims().iss("https://issuer.test").aud("credbroker").sub(user).iat(kT0).exp(exp);
}

std::string token(std::string_view user = "alice", std::int64_t exp = kT0 + 600,
                  const SigningKey& key = es256_key()) {
  return testing::mint(key, claims(user, exp));
}

http::Request request_with(std::string_view header, std::string_view value) {
  http::Request r;
  r.method = "GET";
  r.path = "/api/v1/user/credentials";
  r.add_header(header, value);
  return r;
}
http::Request bearer(const std::string& t) {
  return request_with("Authorization", "Bearer " + t);
}

/** Serves a fixed KeySet and counts how often it is asked; refresh() swaps in `next` if set. */
class CountingKeySource final : public KeySource {
 public:
  explicit CountingKeySource(KeySet keys) : keys_(std::move(keys)) {}
  Result<const KeySet*, std::string> keys(std::int64_t) override {
    ++keys_calls;
    if (unavailable) return Err(std::string("JWKS down"));
    return &keys_;
  }
  bool refresh(std::int64_t) override {
    ++refresh_calls;
    if (!next) return false;
    keys_ = std::move(*next);
    next.reset();
    return true;
  }
  int keys_calls = 0;
  int refresh_calls = 0;
  bool unavailable = false;
  std::optional<KeySet> next;

 private:
  KeySet keys_;
};

/** Answers every request with the scripted response, recording what was asked. */
class FakeHttpClient final : public http::HttpClient {
 public:
  Result<http::OutboundResponse, http::FetchError> send(
      const http::OutboundRequest& request) override {
    requests.push_back(request);
    if (fail) return Err(*fail);
    return response;
  }
  void serve(const std::string& body, int status = 200) {
    fail.reset();
    response.status = status;
    response.body = body;
  }
  std::size_t calls() const { return requests.size(); }

  std::vector<http::OutboundRequest> requests;
  http::OutboundResponse response;
  std::optional<http::FetchError> fail;
};

std::string outcome(const Result<VerifiedToken, AuthError>& r) {
  if (r.ok()) return "ok:" + r->user;
  switch (r.error().kind) {
    case AuthErrorKind::kMissing:
      return "missing";
    case AuthErrorKind::kTooLarge:
      return "too large";
    case AuthErrorKind::kDuplicate:
      return "duplicate";
    case AuthErrorKind::kKeysUnavailable:
      return "keys unavailable";
    case AuthErrorKind::kInvalid:
      return "invalid: " + std::string(describe(r.error().jwt));
  }
  return "?";
}
std::string invalid(JwtError e) {
  return "invalid: " + std::string(describe(e));
}

/** An Authenticator over a CountingKeySource with ES256 "current", at kT0. */
struct Fixture {
  explicit Fixture(config::Identity id = identity_config(), std::size_t capacity = 4096)
      : identity(std::move(id)), auth(identity, keys, clock, capacity) {}
  std::string run(const http::Request& r) { return outcome(auth.authenticate(r)); }

  config::Identity identity;
  CountingKeySource keys{keys_of({es256_key()})};
  FixedClock clock{kT0};
  Authenticator auth;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(header)

BOOST_AUTO_TEST_CASE(bearer_token_in_the_authorization_header_authenticates) {
  Fixture f;
  const auto r = f.auth.authenticate(bearer(token()));
  BOOST_TEST(outcome(r) == "ok:alice");
  if (r.ok()) BOOST_TEST(r->expires_at == kT0 + 600);
}

BOOST_AUTO_TEST_CASE(bearer_scheme_is_case_insensitive_and_may_be_followed_by_several_spaces) {
  Fixture f;
  for (const char* prefix : {"bearer ", "BEARER ", "BeArEr ", "Bearer    "}) {
    BOOST_TEST(f.run(request_with("authorization", prefix + token())) == "ok:alice", prefix);
  }
}

BOOST_AUTO_TEST_CASE(authorization_without_the_bearer_scheme_is_missing) {
  Fixture f;
  for (const std::string& value : std::vector<std::string>{
           token(), "Basic YWxpY2U6c2VjcmV0", "Basic " + token(), "Bearer", "Bearer ", "Bearer    ",
           "Bearer" + token(), "Bearer\t" + token(), "DPoP " + token(), "", "   "}) {
    BOOST_TEST(f.run(request_with("Authorization", value)) == "missing", value);
  }
  BOOST_TEST(f.keys.keys_calls == 0);
}

BOOST_AUTO_TEST_CASE(no_identity_header_is_missing) {
  Fixture f;
  http::Request r;
  r.add_header("Cookie", "session=" + token());
  BOOST_TEST(f.run(r) == "missing");
}

BOOST_AUTO_TEST_CASE(a_custom_header_carries_the_raw_jwt_and_is_matched_case_insensitively) {
  for (const char* header :
       {"x-amzn-oidc-data", "X-Goog-IAP-JWT-Assertion", "Cf-Access-Jwt-Assertion"}) {
    config::Identity id = identity_config();
    id.header = header;
    Fixture f(id);
    BOOST_TEST(f.run(request_with(to_lower(header), token())) == "ok:alice", header);
    BOOST_TEST(f.run(bearer(token())) == "missing", header);
    BOOST_TEST(f.run(request_with(header, "")) == "missing", header);
    // The Bearer scheme belongs to Authorization only; here it is part of a broken token.
    BOOST_TEST(f.run(request_with(header, "Bearer " + token())) == invalid(JwtError::kMalformed),
               header);
  }
}

BOOST_AUTO_TEST_CASE(a_padded_token_is_refused_outside_the_alb_mode_whatever_its_header) {
  for (const char* header : {"authorization", "x-amzn-oidc-data"}) {
    config::Identity id = identity_config();
    id.header = header;
    Fixture f(id);
    const auto padded = testing::mint(es256_key(), claims().claim_string("p", "x"), true);
    BOOST_TEST(padded.find('=') != std::string::npos);
    const std::string value = std::string(header) == "authorization" ? "Bearer " + padded : padded;
    BOOST_TEST(f.run(request_with(header, value)) == "invalid: padded base64url", header);
  }
}

BOOST_AUTO_TEST_CASE(an_identity_header_present_twice_is_a_duplicate_whichever_copy_is_valid) {
  config::Identity id = identity_config();
  id.header = "x-amzn-oidc-data";
  Fixture f(id);
  const auto alice = testing::mint(es256_key(), claims());
  const auto bob = testing::mint(es256_key(), claims().sub("bob"));
  for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
           {alice, bob}, {alice, alice}, {"junk", alice}, {alice, ""}}) {
    http::Request r;
    r.add_header("X-Amzn-Oidc-Data", first);
    r.add_header("x-amzn-oidc-data", second);
    BOOST_TEST(f.run(r) == "duplicate");
  }
  // Other headers may repeat.
  http::Request r = request_with("x-amzn-oidc-data", alice);
  r.add_header("accept", "a");
  r.add_header("accept", "b");
  BOOST_TEST(f.run(r) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(a_comma_joined_identity_header_is_a_duplicate) {
  Fixture f;
  const auto alice = testing::mint(es256_key(), claims());
  const auto bob = testing::mint(es256_key(), claims().sub("bob"));
  for (const std::string& joined :
       {"Bearer " + alice + ", Bearer " + bob, "Bearer " + alice + ",Bearer " + bob,
        "Bearer " + alice + ","}) {
    BOOST_TEST(f.run(request_with("authorization", joined)) == "duplicate", joined.substr(0, 20));
  }
  config::Identity raw = identity_config();
  raw.header = "x-amzn-oidc-data";
  Fixture g(raw);
  BOOST_TEST(g.run(request_with("x-amzn-oidc-data", alice + "," + bob)) == "duplicate");
}

BOOST_AUTO_TEST_CASE(header_over_16_kib_is_refused_before_parsing) {
  Fixture f;
  const std::string big = "Bearer " + std::string(16 * 1024 - 7 + 1, 'a');
  BOOST_TEST(big.size() == 16 * 1024u + 1);
  BOOST_TEST(f.run(request_with("Authorization", big)) == "too large");
  BOOST_TEST(f.run(request_with("Authorization", big.substr(0, 16 * 1024))) ==
             invalid(JwtError::kMalformed));
  BOOST_TEST(f.keys.keys_calls == 1);
  config::Identity id = identity_config();
  id.header = "x-goog-iap-jwt-assertion";
  Fixture custom(id);
  BOOST_TEST(custom.run(request_with(id.header, std::string(1 << 20, 'a'))) == "too large");
}

BOOST_AUTO_TEST_CASE(a_header_the_front_flagged_as_too_large_is_too_large_only_when_absent) {
  // Apache mod_proxy_fcgi drops a param over its 16 KiB record; its config flags the request.
  Fixture f;
  http::Request flagged;
  flagged.identity_header_too_large = true;
  BOOST_TEST(f.run(flagged) == "too large");
  // A header that did arrive is judged by itself.
  http::Request delivered = bearer(token());
  delivered.identity_header_too_large = true;
  BOOST_TEST(f.run(delivered) == "ok:alice");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(policy_from_config)

BOOST_AUTO_TEST_CASE(refusals_carry_the_jwt_reason) {
  Fixture f;
  BOOST_TEST(f.run(bearer(token("alice", kT0 - 61))) == invalid(JwtError::kExpired));
  BOOST_TEST(f.run(bearer(testing::mint(es256_key(), claims().iss("https://evil.test")))) ==
             invalid(JwtError::kWrongIssuer));
  BOOST_TEST(f.run(bearer(testing::mint(es256_key(), claims().aud("other")))) ==
             invalid(JwtError::kWrongAudience));
  BOOST_TEST(f.run(bearer("a.b.c")) == invalid(JwtError::kMalformed));
}

BOOST_AUTO_TEST_CASE(configured_algorithms_user_claim_and_leeway_apply) {
  config::Identity id = identity_config();
  id.algorithms = {"RS256", "NOT-AN-ALG"};
  id.user_claim = "email";
  id.leeway_seconds = 0;
  Fixture f(id);
  BOOST_TEST(f.run(bearer(token())) == invalid(JwtError::kAlgNotAllowed));
  id.algorithms = {"ES256"};
  Fixture g(id);
  BOOST_TEST(g.run(bearer(testing::mint(
                 es256_key(), claims().claim_string("email", "a@x.test")))) == "ok:a@x.test");
  BOOST_TEST(g.run(bearer(token())) == invalid(JwtError::kMissingUserClaim));
  BOOST_TEST(g.run(bearer(testing::mint(es256_key(),
                                        claims("alice", kT0).claim_string("email", "a@x.test")))) ==
             invalid(JwtError::kExpired));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cache)

BOOST_AUTO_TEST_CASE(a_verified_token_is_served_from_the_cache_without_asking_for_keys) {
  Fixture f;
  const auto t = token();
  BOOST_TEST(f.run(bearer(t)) == "ok:alice");
  BOOST_TEST(f.keys.keys_calls == 1);
  BOOST_TEST(f.auth.cache_size() == 1u);
  BOOST_TEST(f.run(bearer(t)) == "ok:alice");
  BOOST_TEST(f.run(request_with("authorization", "bearer  " + t)) == "ok:alice");
  BOOST_TEST(f.keys.keys_calls == 1);
  BOOST_TEST(f.auth.cache_size() == 1u);
}

BOOST_AUTO_TEST_CASE(refused_tokens_are_never_cached) {
  Fixture f;
  const auto forged = token("alice", kT0 + 600, testing::generate_key(Alg::kES256, "current"));
  BOOST_TEST(f.run(bearer(forged)) == invalid(JwtError::kBadSignature));
  BOOST_TEST(f.run(bearer(forged)) == invalid(JwtError::kBadSignature));
  BOOST_TEST(f.keys.keys_calls == 2);
  BOOST_TEST(f.auth.cache_size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_cached_token_is_not_served_after_exp_plus_leeway) {
  Fixture f;
  const auto t = token("alice", kT0 + 600);
  BOOST_TEST(f.run(bearer(t)) == "ok:alice");
  f.clock.set(kT0 + 600 + 59);  // inside the leeway: still served from the cache
  BOOST_TEST(f.run(bearer(t)) == "ok:alice");
  BOOST_TEST(f.keys.keys_calls == 1);
  f.clock.set(kT0 + 600 + 60);
  BOOST_TEST(f.run(bearer(t)) == invalid(JwtError::kExpired));
  BOOST_TEST(f.keys.keys_calls == 2);
  BOOST_TEST(f.auth.cache_size() == 0u);
}

BOOST_AUTO_TEST_CASE(the_cache_is_bounded_and_evicts_the_oldest_first) {
  Fixture f(identity_config(), 3);
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) tokens.push_back(token("user" + std::to_string(i)));
  for (const auto& t : tokens) BOOST_TEST(f.run(bearer(t)).starts_with("ok:"));
  BOOST_TEST(f.auth.cache_size() == 3u);
  BOOST_TEST(f.keys.keys_calls == 5);
  // user2..user4 are cached; user0 was evicted first.
  BOOST_TEST(f.run(bearer(tokens[4])) == "ok:user4");
  BOOST_TEST(f.run(bearer(tokens[2])) == "ok:user2");
  BOOST_TEST(f.keys.keys_calls == 5);
  BOOST_TEST(f.run(bearer(tokens[0])) == "ok:user0");
  BOOST_TEST(f.keys.keys_calls == 6);
  BOOST_TEST(f.auth.cache_size() == 3u);
  // Re-inserting user0 evicted user2, the oldest left.
  BOOST_TEST(f.run(bearer(tokens[2])) == "ok:user2");
  BOOST_TEST(f.keys.keys_calls == 7);
}

BOOST_AUTO_TEST_CASE(a_full_cache_drops_expired_entries_before_evicting_live_ones) {
  Fixture f(identity_config(), 2);
  const auto long_lived = token("long", kT0 + 3600);
  const auto short_lived = token("short", kT0 + 100);
  BOOST_TEST(f.run(bearer(long_lived)) == "ok:long");  // oldest
  BOOST_TEST(f.run(bearer(short_lived)) == "ok:short");
  f.clock.set(kT0 + 200);  // short_lived is past exp + leeway
  BOOST_TEST(f.run(bearer(token("new", kT0 + 3600))) == "ok:new");
  BOOST_TEST(f.auth.cache_size() == 2u);
  const int calls = f.keys.keys_calls;
  BOOST_TEST(f.run(bearer(long_lived)) == "ok:long");  // kept although it was the oldest
  BOOST_TEST(f.keys.keys_calls == calls);
}

BOOST_AUTO_TEST_CASE(a_capacity_of_zero_still_works_as_one) {
  Fixture f(identity_config(), 0);
  BOOST_TEST(f.run(bearer(token("a"))) == "ok:a");
  BOOST_TEST(f.run(bearer(token("b"))) == "ok:b");
  BOOST_TEST(f.auth.cache_size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(key_refresh)

BOOST_AUTO_TEST_CASE(an_unknown_kid_refreshes_the_keys_once_and_retries) {
  Fixture f;
  f.keys.next = keys_of({es256_key(), rotated_key()});
  BOOST_TEST(f.run(bearer(token("bob", kT0 + 600, rotated_key()))) == "ok:bob");
  BOOST_TEST(f.keys.refresh_calls == 1);
  BOOST_TEST(f.keys.keys_calls == 2);
}

BOOST_AUTO_TEST_CASE(an_unknown_kid_after_a_refused_refresh_is_refused_without_retry) {
  Fixture f;
  BOOST_TEST(f.run(bearer(token("bob", kT0 + 600, rotated_key()))) ==
             invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.keys.refresh_calls == 1);
  BOOST_TEST(f.keys.keys_calls == 1);
}

BOOST_AUTO_TEST_CASE(other_refusals_do_not_refresh) {
  Fixture f;
  BOOST_TEST(f.run(bearer(token("alice", kT0 - 3600))) == invalid(JwtError::kExpired));
  BOOST_TEST(f.run(bearer("x.y.z")) == invalid(JwtError::kMalformed));
  BOOST_TEST(f.keys.refresh_calls == 0);
}

BOOST_AUTO_TEST_CASE(keys_that_cannot_be_loaded_are_keys_unavailable_not_a_refusal) {
  Fixture f;
  f.keys.unavailable = true;
  const auto r = f.auth.authenticate(bearer(token()));
  BOOST_TEST(outcome(r) == "keys unavailable");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(jwks_url_source)

struct UrlFixture {
  UrlFixture() { http.serve(testing::jwks_json({es256_key()})); }
  std::string run(const std::string& t) { return outcome(auth.authenticate(bearer(t))); }

  FakeHttpClient http;
  std::unique_ptr<KeySource> source = make_jwks_url_source(kJwksUrl, http);
  config::Identity identity = identity_config();
  FixedClock clock{kT0};
  Authenticator auth{identity, *source, clock};
};

BOOST_AUTO_TEST_CASE(keys_are_fetched_on_first_use_with_a_json_get_and_then_reused) {
  UrlFixture f;
  BOOST_TEST(f.http.calls() == 0u);
  BOOST_TEST(f.run(token("alice")) == "ok:alice");
  BOOST_TEST(f.run(token("bob")) == "ok:bob");
  BOOST_REQUIRE(f.http.calls() == 1u);
  const auto& req = f.http.requests.front();
  BOOST_TEST(req.method == "GET");
  BOOST_TEST(req.url == kJwksUrl);
  BOOST_TEST(req.body.empty());
  BOOST_REQUIRE(req.headers.size() == 1u);
  BOOST_TEST(req.headers.front().first == "Accept");
  BOOST_TEST(req.headers.front().second == "application/json");
}

BOOST_AUTO_TEST_CASE(an_unknown_kid_refetches_at_most_once_per_60_seconds) {
  UrlFixture f;
  BOOST_TEST(f.run(token("alice")) == "ok:alice");  // fetch 1 at kT0
  f.http.serve(testing::jwks_json({es256_key(), rotated_key()}));
  const auto rotated = token("bob", kT0 + 3000, rotated_key());
  f.clock.set(kT0 + 59);
  BOOST_TEST(f.run(rotated) == invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.http.calls() == 1u);
  f.clock.set(kT0 + 60);
  BOOST_TEST(f.run(rotated) == "ok:bob");  // fetch 2
  BOOST_TEST(f.http.calls() == 2u);
  const auto stranger = token("eve", kT0 + 3000, testing::generate_key(Alg::kES256, "stranger"));
  for (int s : {61, 62, 100, 119}) {
    f.clock.set(kT0 + s);
    BOOST_TEST(f.run(stranger) == invalid(JwtError::kUnknownKid));
  }
  BOOST_TEST(f.http.calls() == 2u);
  f.clock.set(kT0 + 120);
  BOOST_TEST(f.run(stranger) == invalid(JwtError::kUnknownKid));  // fetch 3, still unknown
  BOOST_TEST(f.http.calls() == 3u);
}

BOOST_AUTO_TEST_CASE(a_failed_first_fetch_is_keys_unavailable_and_retried_after_60_seconds) {
  UrlFixture f;
  f.http.fail = http::FetchError::kTimeout;
  BOOST_TEST(f.run(token()) == "keys unavailable");
  f.clock.set(kT0 + 30);
  BOOST_TEST(f.run(token()) == "keys unavailable");
  BOOST_TEST(f.http.calls() == 1u);
  const auto keys = f.source->keys(kT0 + 30);
  BOOST_TEST(!keys.ok());
  if (!keys.ok()) BOOST_TEST(keys.error().find(kJwksUrl) != std::string::npos);
  f.http.serve(testing::jwks_json({es256_key()}));
  f.clock.set(kT0 + 60);
  BOOST_TEST(f.run(token()) == "ok:alice");
  BOOST_TEST(f.http.calls() == 2u);
}

BOOST_AUTO_TEST_CASE(a_non_200_answer_or_a_body_that_is_not_a_jwks_is_keys_unavailable) {
  const struct {
    int status;
    std::string body;
    std::string error_part;
  } cases[] = {{500, testing::jwks_json({es256_key()}), "HTTP status 500"},
               {302, "", "HTTP status 302"},
               {200, "<html>maintenance</html>", "not valid JSON"},
               {200, testing::jwks_json({testing::generate_key(Alg::kRS256, "s", 1024)}),
                "no usable signing key"}};
  for (const auto& c : cases) {
    UrlFixture f;
    f.http.serve(c.body, c.status);
    BOOST_TEST(f.run(token()) == "keys unavailable", c.error_part);
    const auto keys = f.source->keys(kT0);
    BOOST_REQUIRE(!keys.ok());
    BOOST_TEST(keys.error().find(c.error_part) != std::string::npos, keys.error());
  }
}

BOOST_AUTO_TEST_CASE(a_failed_refetch_keeps_the_keys_we_had) {
  UrlFixture f;
  BOOST_TEST(f.run(token("alice")) == "ok:alice");
  f.http.fail = http::FetchError::kConnect;
  f.clock.set(kT0 + 60);
  BOOST_TEST(f.run(token("bob", kT0 + 3000, rotated_key())) == invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.http.calls() == 2u);
  BOOST_TEST(f.run(token("carol", kT0 + 3000)) == "ok:carol");
  f.http.serve("not json");
  f.clock.set(kT0 + 120);
  BOOST_TEST(f.run(token("bob", kT0 + 3000, rotated_key())) == invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.run(token("dave", kT0 + 3000)) == "ok:dave");
  BOOST_TEST(f.http.calls() == 3u);
}

BOOST_AUTO_TEST_CASE(keys_are_refetched_after_an_hour_so_withdrawn_keys_stop_verifying) {
  UrlFixture f;
  BOOST_TEST(f.run(token("alice", kT0 + 7200)) == "ok:alice");
  f.http.serve(testing::jwks_json({rotated_key()}));  // "current" withdrawn
  f.clock.set(kT0 + 3599);
  BOOST_TEST(f.run(token("bob", kT0 + 7200)) == "ok:bob");
  BOOST_TEST(f.http.calls() == 1u);
  f.clock.set(kT0 + 3600);
  BOOST_TEST(f.run(token("carol", kT0 + 7200)) == invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.http.calls() == 2u);
}

BOOST_AUTO_TEST_CASE(jku_x5u_and_jwk_headers_are_never_fetched) {
  UrlFixture f;
  const SigningKey attacker = testing::generate_key(Alg::kES256, "evil");
  const std::string header = R"({"alg":"ES256","kid":"current","jku":"https://evil.test/jwks",)"
                             R"("x5u":"https://evil.test/cert.pem","jwk":)" +
                             testing::jwk_json(attacker) + "}";
  BOOST_TEST(f.run(testing::sign(es256_key(), header, claims().json())) == "ok:alice");
  const std::string evil_header = R"({"alg":"ES256","kid":"evil","jku":"https://evil.test/jwks",)"
                                  R"("jwk":)" +
                                  testing::jwk_json(attacker) + "}";
  f.clock.set(kT0 + 60);
  BOOST_TEST(f.run(testing::sign(attacker, evil_header, claims("mallory").json())) ==
             invalid(JwtError::kUnknownKid));
  BOOST_TEST(f.http.calls() == 2u);
  for (const auto& req : f.http.requests) BOOST_TEST(req.url == kJwksUrl);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(key_source_from_config)

config::Identity with_source(std::string jwks_file, std::string jwks_url, std::string pem_file) {
  config::Identity id = identity_config();
  id.jwks_file = std::move(jwks_file);
  id.jwks_url = std::move(jwks_url);
  id.public_key_pem_file = std::move(pem_file);
  return id;
}

std::string error_of(const Result<std::unique_ptr<KeySource>, std::string>& r) {
  return r.ok() ? "ok" : r.error();
}

BOOST_AUTO_TEST_CASE(a_jwks_file_is_read_at_start_and_never_refreshed) {
  testing::TempDir dir;
  testing::write_file(dir.file("jwks.json"), testing::jwks_json({es256_key()}));
  FakeHttpClient http;
  auto source = make_key_source(with_source(dir.file("jwks.json"), "", ""), http);
  BOOST_REQUIRE_MESSAGE(source.ok(), error_of(source));
  std::filesystem::remove(dir.file("jwks.json"));
  const auto keys = (*source)->keys(kT0);
  BOOST_REQUIRE(keys.ok());
  BOOST_TEST((*keys)->keys.size() == 1u);
  BOOST_TEST(!(*source)->refresh(kT0 + 3600));
  BOOST_TEST(http.calls() == 0u);
}

BOOST_AUTO_TEST_CASE(a_pem_file_is_read_at_start) {
  testing::TempDir dir;
  testing::write_file(dir.file("key.pem"), testing::public_key_pem(es256_key()));
  FakeHttpClient http;
  auto source = make_key_source(with_source("", "", dir.file("key.pem")), http);
  BOOST_REQUIRE_MESSAGE(source.ok(), error_of(source));
  FixedClock clock(kT0);
  config::Identity id = identity_config();
  Authenticator auth(id, **source, clock);
  BOOST_TEST(outcome(auth.authenticate(bearer(token()))) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(file_errors_name_the_field_and_the_path) {
  testing::TempDir dir;
  FakeHttpClient http;
  const std::string missing = dir.file("nope.json");
  BOOST_TEST(error_of(make_key_source(with_source(missing, "", ""), http)) ==
             "identity.jwks_file: cannot read \"" + missing + "\": No such file or directory");
  BOOST_TEST(error_of(make_key_source(with_source("", "", missing), http)) ==
             "identity.public_key_pem_file: cannot read \"" + missing +
                 "\": No such file or directory");
  BOOST_TEST(error_of(make_key_source(with_source(dir.path(), "", ""), http)) ==
             "identity.jwks_file: cannot read \"" + dir.path() + "\": Is a directory");
  testing::write_file(dir.file("bad.json"), "{\"keys\":");
  BOOST_TEST(error_of(make_key_source(with_source(dir.file("bad.json"), "", ""), http)) ==
             "identity.jwks_file: JWKS is not valid JSON: not a single JSON value");
  testing::write_file(dir.file("bad.pem"), testing::jwks_json({es256_key()}));
  BOOST_TEST(error_of(make_key_source(with_source("", "", dir.file("bad.pem")), http)) ==
             "identity.public_key_pem_file: not a PEM \"PUBLIC KEY\"");
}

BOOST_AUTO_TEST_CASE(a_jwks_url_source_fetches_lazily) {
  FakeHttpClient http;
  http.serve(testing::jwks_json({es256_key()}));
  auto source = make_key_source(with_source("", kJwksUrl, ""), http);
  BOOST_REQUIRE(source.ok());
  BOOST_TEST(http.calls() == 0u);
  BOOST_TEST((*source)->keys(kT0).ok());
  BOOST_TEST(http.calls() == 1u);
}

BOOST_AUTO_TEST_CASE(hmac_secret_env_makes_the_hs256_key_the_only_one) {
  // As config::parse leaves it for the reference gateway: no issuer, no audience, HS256 only.
  config::Identity id;
  id.algorithms = {"HS256"};
  id.hmac_secret_env = "TOKEN_KEY";
  id.hmac_secret = "0123456789abcdef0123456789ABCDEF";
  FakeHttpClient http;
  auto source = make_key_source(id, http);
  BOOST_REQUIRE_MESSAGE(source.ok(), error_of(source));
  FixedClock clock(kT0);
  Authenticator auth(id, **source, clock);
  const auto gateway = Claims().sub("alice").iat(kT0).exp(kT0 + 86400).claim_string("role", "user");
  const auto hs256 =
      testing::hs256(id.hmac_secret, R"({"alg":"HS256","typ":"JWT"})", gateway.json());
  BOOST_TEST(outcome(auth.authenticate(bearer(hs256))) == "ok:alice");
  BOOST_TEST(outcome(auth.authenticate(bearer(token()))) == invalid(JwtError::kAlgNotAllowed));
  BOOST_TEST(http.calls() == 0u);

  // Never beside another key source, and never a key under 32 bytes; errors show no key bytes.
  config::Identity mixed = id;
  mixed.jwks_url = kJwksUrl;
  BOOST_TEST(error_of(make_key_source(mixed, http)) ==
             "identity.hmac_secret_env: cannot be combined with jwks_file, jwks_url, "
             "public_key_pem_file or alb");
  config::Identity short_key = id;
  short_key.hmac_secret = "HMAC-SENTINEL-31-bytes-long-key";
  BOOST_TEST(error_of(make_key_source(short_key, http)) ==
             "identity.hmac_secret_env: HS256 key has 31 bytes; at least 32 are required "
             "(RFC 7518 §3.2)");
}

BOOST_AUTO_TEST_CASE(exactly_one_key_source_is_required) {
  FakeHttpClient http;
  const std::string expected =
      "identity: exactly one of jwks_file, jwks_url, public_key_pem_file is required";
  BOOST_TEST(error_of(make_key_source(with_source("", "", ""), http)) == expected);
  BOOST_TEST(error_of(make_key_source(with_source("/a", kJwksUrl, ""), http)) == expected);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(alb_mode)

constexpr char kOurAlb[] =
    "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/ours/50dc6c495c0c9188";

std::string alb_token(const SigningKey& key, std::string_view kid, std::string_view signer) {
  const std::string header = R"({"typ":"JWT","kid":")" + std::string(kid) +
                             R"(","alg":"ES256","iss":"https://issuer.test","client":"c",)"
                             R"("signer":")" +
                             std::string(signer) + R"(","exp":)" + std::to_string(kT0 + 120) + "}";
  return testing::sign(
      key, header,
      R"({"sub":"alice","exp":)" + std::to_string(kT0 + 120) + R"(,"iss":"https://issuer.test"})",
      true);
}

BOOST_AUTO_TEST_CASE(alb_keys_are_fetched_per_kid_from_the_pattern_once_and_bound_to_the_signer) {
  config::Identity id = identity_config();
  id.header = "x-amzn-oidc-data";
  id.audiences.clear();
  id.jwks_url.clear();
  id.alb = config::AlbIdentity{
      {kOurAlb}, {}, "https://public-keys.auth.elb.eu-west-1.amazonaws.com/{kid}", ""};
  FakeHttpClient http;
  http.serve(testing::public_key_pem(es256_key()));
  auto source = make_key_source(id, http);
  BOOST_REQUIRE(source.ok());
  FixedClock clock{kT0};
  Authenticator auth(id, **source, clock);
  const std::string kid = "3b1e4c2a-9f0d-4d3e-8a7b-1c2d3e4f5a6b";
  const auto ok =
      auth.authenticate(request_with("x-amzn-oidc-data", alb_token(es256_key(), kid, kOurAlb)));
  BOOST_TEST(outcome(ok) == "ok:alice");
  BOOST_TEST_REQUIRE(http.requests.size() == 1u);
  BOOST_TEST(http.requests[0].url == "https://public-keys.auth.elb.eu-west-1.amazonaws.com/" + kid);
  // Same key, another account's load balancer: refused, and the cached key is not fetched again.
  const auto other =
      alb_token(es256_key(), kid,
                "arn:aws:elasticloadbalancing:eu-west-1:444455556666:loadbalancer/app/theirs/1");
  BOOST_TEST(outcome(auth.authenticate(request_with("x-amzn-oidc-data", other))) ==
             invalid(JwtError::kWrongSigner));
  BOOST_TEST(http.requests.size() == 1u);
  // A kid that is not a safe token never reaches a URL.
  for (const std::string bad : {"../../etc/passwd", "a/b", "a?b=c", "a%2Fb", ""}) {
    BOOST_TEST(outcome(auth.authenticate(
                   request_with("x-amzn-oidc-data", alb_token(es256_key(), bad, kOurAlb)))) ==
                   invalid(JwtError::kUnknownKid),
               bad);
  }
  BOOST_TEST(http.requests.size() == 1u);
  // A fetch that fails is keys unavailable (503), not a refusal.
  http.fail = http::FetchError::kConnect;
  BOOST_TEST(outcome(auth.authenticate(
                 request_with("x-amzn-oidc-data", alb_token(es256_key(), "other-kid", kOurAlb)))) ==
             "keys unavailable");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::identity
