#define BOOST_TEST_MODULE identity_jwt
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/identity/jwt.h"
#include "tests/support/jwt_mint.h"

namespace credbroker::identity {
namespace {

using testing::Claims;
using testing::SigningKey;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::int64_t kLeeway = 60;
constexpr Alg kAllAlgs[] = {Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256,
                            Alg::kES256, Alg::kES384, Alg::kEdDSA};

// Key generation is slow (RSA): one key per alg for the whole module.
const SigningKey& key_for(Alg alg) {
  static std::map<Alg, SigningKey> keys;
  auto it = keys.find(alg);
  if (it == keys.end()) {
    it = keys.emplace(alg, testing::generate_key(alg, "key-" + std::string(alg_name(alg)))).first;
  }
  return it->second;
}

const SigningKey& attacker_key(Alg alg) {
  static std::map<Alg, SigningKey> keys;
  auto it = keys.find(alg);
  if (it == keys.end()) {
    // Same kid as ours: the attacker knows our JWKS.
    it = keys.emplace(alg, testing::generate_key(alg, "key-" + std::string(alg_name(alg)))).first;
  }
  return it->second;
}

KeySet keys_of(const std::vector<SigningKey>& keys) {
  auto set = parse_jwks(testing::jwks_json(keys));
  BOOST_REQUIRE_MESSAGE(set.ok(), (set.ok() ? std::string() : set.error()));
  return std::move(set.value());
}

const KeySet& all_keys() {
  static const KeySet set = [] {
    std::vector<SigningKey> keys;
    for (Alg alg : kAllAlgs) keys.push_back(key_for(alg));
    return keys_of(keys);
  }();
  return set;
}

VerifyPolicy policy() {
  VerifyPolicy p;
  p.algorithms.assign(std::begin(kAllAlgs), std::end(kAllAlgs));
  p.issuer = "https://issuer.test";
  p.audiences = {"credbroker"};
  p.leeway_seconds = kLeeway;
  return p;
}

Claims good_claims() {
  return Claims()
      .iss("https://issuer.test")
      .aud("credbroker")
      .sub("alice")
      .iat(kNow - 10)
      .exp(kNow + 600);
}

// "ok:<user>" or the refusal's fixed text, so a failing check shows both sides.
std::string outcome(const Result<VerifiedToken, JwtError>& r) {
  return r.ok() ? "ok:" + r->user : std::string(describe(r.error()));
}
std::string refused(JwtError e) {
  return std::string(describe(e));
}

std::string verify(std::string_view token, const VerifyPolicy& p = policy(),
                   std::int64_t now = kNow) {
  return outcome(verify_jwt(token, all_keys(), p, now));
}

std::string b64(std::string_view s) {
  return crypto::base64url_encode(s);
}

// A token with these raw JSON texts, signed with the ES256 key.
std::string es256_token(std::string_view header, std::string_view payload) {
  return testing::sign(key_for(Alg::kES256), header, payload);
}
std::string es256_header() {
  return testing::default_header(key_for(Alg::kES256));
}

struct Segments {
  std::string header, payload, signature;
};
Segments split(const std::string& token) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  return {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
}

// A PS256-shaped signature with a chosen salt length (RFC 7518 §3.5 requires 32).
std::string pss_signature(const SigningKey& key, std::string_view input, int salt_len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  std::string sig(512, '\0');
  std::size_t len = sig.size();
  const bool ok =
      EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key.pkey.get()) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1 &&
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  BOOST_REQUIRE(ok);
  sig.resize(len);
  return sig;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(algorithms)

BOOST_AUTO_TEST_CASE(every_supported_alg_verifies_a_good_token) {
  for (Alg alg : kAllAlgs) {
    BOOST_TEST_CONTEXT(alg_name(alg)) {
      const auto r =
          verify_jwt(testing::mint(key_for(alg), good_claims()), all_keys(), policy(), kNow);
      BOOST_TEST(outcome(r) == "ok:alice");
      if (r.ok()) BOOST_TEST(r->expires_at == kNow + 600);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_alg_verifies_with_a_kid_less_token_by_trying_fitting_keys) {
  for (Alg alg : kAllAlgs) {
    BOOST_TEST_CONTEXT(alg_name(alg)) {
      SigningKey anonymous = key_for(alg);
      anonymous.kid.clear();
      BOOST_TEST(verify(testing::mint(anonymous, good_claims())) == "ok:alice");
    }
  }
}

BOOST_AUTO_TEST_CASE(padded_segments_are_refused_unless_the_policy_allows_them_as_alb_sends_them) {
  VerifyPolicy alb = policy();
  alb.allow_padding = true;
  for (Alg alg : {Alg::kES256, Alg::kRS256}) {
    const auto token = testing::mint(key_for(alg), good_claims().claim_string("pad", "x"), true);
    BOOST_TEST(token.find('=') != std::string::npos);
    BOOST_TEST(verify(token) == refused(JwtError::kPadded));
    BOOST_TEST(verify(token, alb) == "ok:alice");
  }
}

BOOST_AUTO_TEST_CASE(alg_none_without_signature_is_refused) {
  const auto token = b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(good_claims().json()) + ".";
  BOOST_TEST(verify(token) == refused(JwtError::kAlgNotAllowed));
}

BOOST_AUTO_TEST_CASE(alg_none_with_a_signature_is_refused) {
  const SigningKey& key = key_for(Alg::kES256);
  const auto token =
      testing::sign(key, R"({"alg":"none","kid":"key-ES256"})", good_claims().json());
  BOOST_TEST(verify(token) == refused(JwtError::kAlgNotAllowed));
}

BOOST_AUTO_TEST_CASE(alg_names_are_case_sensitive_and_none_in_any_case_is_refused) {
  for (const char* alg : {"None", "NONE", "nOnE", "es256", "rs256", "EDDSA", "Ed25519", ""}) {
    BOOST_TEST_CONTEXT(alg) {
      const auto header = std::string(R"({"alg":")") + alg + R"(","kid":"key-ES256"})";
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kAlgNotAllowed));
    }
  }
}

BOOST_AUTO_TEST_CASE(hs256_keyed_with_the_rsa_public_key_bytes_is_refused) {
  // The classic confusion: HMAC keyed with the verifier's public key, which anyone can fetch.
  const SigningKey& rsa = key_for(Alg::kRS256);
  const std::string header = R"({"alg":"HS256","typ":"JWT","kid":"key-RS256"})";
  for (const auto& secret :
       {testing::public_key_pem(rsa), testing::public_key_der(rsa), testing::jwk_json(rsa)}) {
    BOOST_TEST(verify(testing::hs256(secret, header, good_claims().json())) ==
               refused(JwtError::kAlgNotAllowed));
  }
  for (const char* hs : {"HS384", "HS512"}) {
    const auto h = std::string(R"({"alg":")") + hs + R"(","kid":"key-RS256"})";
    BOOST_TEST(verify(testing::hs256(testing::public_key_pem(rsa), h, good_claims().json())) ==
               refused(JwtError::kAlgNotAllowed));
  }
}

BOOST_AUTO_TEST_CASE(unknown_algorithms_are_refused) {
  for (const char* alg : {"RS1024", "ES256K", "ES512", "PS384", "PS512", "RSA-OAEP", "dir"}) {
    BOOST_TEST_CONTEXT(alg) {
      const auto header = std::string(R"({"alg":")") + alg + R"("})";
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kAlgNotAllowed));
    }
  }
}

BOOST_AUTO_TEST_CASE(alg_outside_the_policy_allowlist_is_refused_even_with_a_valid_signature) {
  VerifyPolicy only_es256 = policy();
  only_es256.algorithms = {Alg::kES256};
  BOOST_TEST(verify(testing::mint(key_for(Alg::kRS256), good_claims()), only_es256) ==
             refused(JwtError::kAlgNotAllowed));
  BOOST_TEST(verify(testing::mint(key_for(Alg::kES256), good_claims()), only_es256) == "ok:alice");
  VerifyPolicy empty = policy();
  empty.algorithms.clear();
  BOOST_TEST(verify(testing::mint(key_for(Alg::kES256), good_claims()), empty) ==
             refused(JwtError::kAlgNotAllowed));
}

BOOST_AUTO_TEST_CASE(alg_missing_or_not_a_string_is_malformed) {
  for (const char* header :
       {R"({"kid":"key-ES256"})", R"({"alg":null})", R"({"alg":["ES256"]})", R"({"alg":256})"}) {
    BOOST_TEST_CONTEXT(header) {
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kMalformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(allowed_alg_with_a_kid_naming_a_key_of_another_type_is_a_mismatch) {
  // kid points at our RSA key; the header claims ES256 and an EC key signed it.
  const auto token = testing::sign(key_for(Alg::kES256), R"({"alg":"ES256","kid":"key-RS256"})",
                                   good_claims().json());
  BOOST_TEST(verify(token) == refused(JwtError::kKeyAlgMismatch));
  const auto p384 = testing::sign(key_for(Alg::kES384), R"({"alg":"ES384","kid":"key-ES256"})",
                                  good_claims().json());
  BOOST_TEST(verify(p384) == refused(JwtError::kKeyAlgMismatch));
  const auto ed = testing::sign(key_for(Alg::kEdDSA), R"({"alg":"EdDSA","kid":"key-RS256"})",
                                good_claims().json());
  BOOST_TEST(verify(ed) == refused(JwtError::kKeyAlgMismatch));
}

BOOST_AUTO_TEST_CASE(a_jwk_alg_pins_the_key_to_that_algorithm) {
  // Our JWKS says key-RS256 is for RS256; the same RSA key used with PS256 or RS512 is refused.
  for (Alg other : {Alg::kPS256, Alg::kRS512}) {
    const SigningKey same_key_other_alg{key_for(Alg::kRS256).pkey, "key-RS256", other};
    BOOST_TEST(verify(testing::mint(same_key_other_alg, good_claims())) ==
               refused(JwtError::kKeyAlgMismatch));
  }
}

BOOST_AUTO_TEST_CASE(a_jwk_without_alg_verifies_every_alg_of_its_type) {
  const SigningKey& rsa = key_for(Alg::kRS256);
  auto set = parse_jwks(R"({"keys":[)" + testing::jwk_json(rsa, false) + "]}");
  BOOST_REQUIRE(set.ok());
  BOOST_TEST(!set->keys.front().alg.has_value());
  for (Alg alg : {Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256}) {
    const SigningKey k{rsa.pkey, rsa.kid, alg};
    BOOST_TEST(outcome(verify_jwt(testing::mint(k, good_claims()), *set, policy(), kNow)) ==
               "ok:alice");
  }
  const SigningKey ec_claiming_rsa_kid{key_for(Alg::kES256).pkey, rsa.kid, Alg::kES256};
  BOOST_TEST(outcome(verify_jwt(testing::mint(ec_claiming_rsa_kid, good_claims()), *set, policy(),
                                kNow)) == refused(JwtError::kKeyAlgMismatch));
}

BOOST_AUTO_TEST_CASE(typ_may_be_absent_jwt_or_at_jwt_in_any_case_and_nothing_else_by_default) {
  const auto claims = good_claims().json();
  const auto with_typ = [&](std::string_view typ_json) {
    return es256_token(R"({"alg":"ES256","kid":"key-ES256")" + std::string(typ_json) + "}", claims);
  };
  for (const char* ok : {"", R"(,"typ":"JWT")", R"(,"typ":"jwt")", R"(,"typ":"at+jwt")",
                         R"(,"typ":"application/at+JWT")"}) {
    BOOST_TEST(verify(with_typ(ok)) == "ok:alice", ok);
  }
  for (const char* bad : {R"(,"typ":"JWE")", R"(,"typ":"secevent+jwt")", R"(,"typ":"")",
                          R"(,"typ":"JWT ")", R"(,"typ":1)", R"(,"typ":null)"}) {
    BOOST_TEST(verify(with_typ(bad)) == refused(JwtError::kTypNotAllowed), bad);
  }
  VerifyPolicy only_access = policy();
  only_access.types = {"at+jwt"};
  BOOST_TEST(verify(with_typ(R"(,"typ":"JWT")"), only_access) == refused(JwtError::kTypNotAllowed));
  BOOST_TEST(verify(with_typ(R"(,"typ":"at+jwt")"), only_access) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(a_b64_header_is_refused_whatever_its_value) {
  const auto claims = good_claims().json();
  for (const char* b64_value : {"true", "false", "\"x\""}) {
    BOOST_TEST(verify(es256_token(
                   R"({"alg":"ES256","kid":"key-ES256","b64":)" + std::string(b64_value) + "}",
                   claims)) == refused(JwtError::kB64Unsupported),
               b64_value);
  }
}

BOOST_AUTO_TEST_CASE(a_high_s_ecdsa_signature_is_refused_though_it_is_mathematically_valid) {
  for (Alg alg : {Alg::kES256, Alg::kES384}) {
    BOOST_TEST_CONTEXT(alg_name(alg)) {
      const SigningKey& k = key_for(alg);
      const std::string input = b64(testing::default_header(k)) + "." + b64(good_claims().json());
      const std::string low = testing::raw_signature(k, input);
      const std::string high = testing::high_s(low);
      BOOST_TEST(high != low);
      BOOST_TEST(verify(input + "." + b64(low)) == "ok:alice");
      BOOST_TEST(verify(input + "." + b64(high)) == refused(JwtError::kHighS));
      // It is the S rule that refuses it: with the rule off, OpenSSL accepts the twin.
      VerifyPolicy lenient = policy();
      lenient.ecdsa_low_s_only = false;
      BOOST_TEST(verify(input + "." + b64(high), lenient) == "ok:alice");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(known_answers)

// RFC 7515 §A.3: an ES256 token from the specification, signed by someone else's code.
BOOST_AUTO_TEST_CASE(rfc7515_es256_example_verifies_and_a_flipped_bit_does_not) {
  auto set = parse_jwks(
      R"({"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  BOOST_REQUIRE(set.ok());
  const std::string token =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  VerifyPolicy p;
  p.algorithms = {Alg::kES256};
  p.issuer = "joe";
  p.user_claim = "iss";
  // The specification's own signature has S > n/2: signers in the wild do not normalise S, which
  // is why the low-S rule is opt-in (identity.require_low_s_signatures).
  BOOST_TEST(outcome(verify_jwt(token, *set, p, 1300819000)) == refused(JwtError::kHighS));
  p.ecdsa_low_s_only = false;
  BOOST_TEST(outcome(verify_jwt(token, *set, p, 1300819000)) == "ok:joe");
  BOOST_TEST(outcome(verify_jwt(token, *set, p, 1300819380 + 60)) == refused(JwtError::kExpired));
  std::string tampered = token;
  tampered.back() = 'A';
  BOOST_TEST(outcome(verify_jwt(tampered, *set, p, 1300819000)) ==
             refused(JwtError::kBadSignature));
}

// RFC 8037 §A.4: an Ed25519 signature over a payload that is not JSON. Passing the signature
// check is visible as the next refusal (the payload is no claims set).
BOOST_AUTO_TEST_CASE(rfc8037_ed25519_example_passes_the_signature_check) {
  auto set = parse_jwks(
      R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})");
  BOOST_REQUIRE(set.ok());
  const std::string token =
      "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  VerifyPolicy p;
  p.algorithms = {Alg::kEdDSA};
  BOOST_TEST(outcome(verify_jwt(token, *set, p, kNow)) == refused(JwtError::kMalformed));
  std::string tampered = token;
  tampered.back() = 'A';
  BOOST_TEST(outcome(verify_jwt(tampered, *set, p, kNow)) == refused(JwtError::kBadSignature));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keys)

BOOST_AUTO_TEST_CASE(unknown_kid_is_refused) {
  const SigningKey stranger = testing::generate_key(Alg::kES256, "someone-else");
  BOOST_TEST(verify(testing::mint(stranger, good_claims())) == refused(JwtError::kUnknownKid));
}

BOOST_AUTO_TEST_CASE(kids_that_look_like_paths_or_sql_are_just_unknown) {
  for (const char* kid : {"../../etc/passwd", "' OR 1=1 --", "key-ES256/../key-RS256", "key-ES256 ",
                          "KEY-ES256", "", "*", "%", "\\u0000"}) {
    BOOST_TEST_CONTEXT(kid) {
      const auto header = std::string(R"({"alg":"ES256","kid":")") + kid + R"("})";
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kUnknownKid));
    }
  }
}

BOOST_AUTO_TEST_CASE(kid_that_is_not_a_string_is_malformed) {
  for (const char* kid : {"1", "null", "[\"key-ES256\"]", "{}"}) {
    const auto header = std::string(R"({"alg":"ES256","kid":)") + kid + "}";
    BOOST_TEST(verify(es256_token(header, good_claims().json())) == refused(JwtError::kMalformed));
  }
}

BOOST_AUTO_TEST_CASE(kid_less_token_without_a_fitting_key_is_unknown_kid) {
  const KeySet only_rsa = keys_of({key_for(Alg::kRS256)});
  SigningKey ec = key_for(Alg::kES256);
  ec.kid.clear();
  BOOST_TEST(outcome(verify_jwt(testing::mint(ec, good_claims()), only_rsa, policy(), kNow)) ==
             refused(JwtError::kUnknownKid));
  BOOST_TEST(outcome(verify_jwt(testing::mint(ec, good_claims()), KeySet{}, policy(), kNow)) ==
             refused(JwtError::kUnknownKid));
}

BOOST_AUTO_TEST_CASE(a_pem_key_without_kid_verifies_tokens_that_carry_a_kid) {
  // AWS ALB publishes one PEM per kid; the configured PEM has no kid of its own.
  auto pem = parse_pem_public_key(testing::public_key_pem(key_for(Alg::kES256)));
  BOOST_REQUIRE(pem.ok());
  const auto token = testing::mint(key_for(Alg::kES256), good_claims());
  BOOST_TEST(outcome(verify_jwt(token, *pem, policy(), kNow)) == "ok:alice");
  const auto rsa = testing::mint(key_for(Alg::kRS256), good_claims());
  BOOST_TEST(outcome(verify_jwt(rsa, *pem, policy(), kNow)) == refused(JwtError::kUnknownKid));
  const auto forged = testing::mint(attacker_key(Alg::kES256), good_claims());
  BOOST_TEST(outcome(verify_jwt(forged, *pem, policy(), kNow)) == refused(JwtError::kBadSignature));
}

BOOST_AUTO_TEST_CASE(an_attacker_key_claiming_our_kid_fails_the_signature) {
  for (Alg alg : kAllAlgs) {
    BOOST_TEST_CONTEXT(alg_name(alg)) {
      BOOST_TEST(verify(testing::mint(attacker_key(alg), good_claims())) ==
                 refused(JwtError::kBadSignature));
    }
  }
}

BOOST_AUTO_TEST_CASE(jku_x5u_jwk_and_x5c_headers_are_ignored) {
  const SigningKey& ours = key_for(Alg::kES256);
  const SigningKey& theirs = attacker_key(Alg::kES256);
  const std::string planted = R"(,"jku":"https://evil.test/jwks.json","x5u":"https://evil.test/c",)"
                              R"("x5c":["MIIB"],"jwk":)" +
                              testing::jwk_json(theirs) + "}";
  const std::string header = R"({"alg":"ES256","kid":"key-ES256")" + planted;
  BOOST_TEST(verify(testing::sign(ours, header, good_claims().json())) == "ok:alice");
  // Signed with the key the header embeds: the embedded key is not trusted.
  BOOST_TEST(verify(testing::sign(theirs, header, good_claims().json())) ==
             refused(JwtError::kBadSignature));
  BOOST_TEST(verify(testing::sign(theirs, R"({"alg":"ES256")" + planted, good_claims().json())) ==
             refused(JwtError::kBadSignature));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(signatures)

BOOST_AUTO_TEST_CASE(flipping_any_bit_of_the_signature_fails_every_time) {
  for (Alg alg : kAllAlgs) {
    const auto seg = split(testing::mint(key_for(alg), good_claims()));
    const std::string sig = *crypto::base64url_decode(seg.signature);
    int accepted = 0;
    for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
      std::string flipped = sig;
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      const auto token = seg.header + "." + seg.payload + "." + b64(flipped);
      // Refused as a bad signature, or (the top bit of S set) as a high-S one.
      const auto outcome = verify(token);
      if (outcome != refused(JwtError::kBadSignature) && outcome != refused(JwtError::kHighS)) {
        ++accepted;
      }
    }
    BOOST_TEST(accepted == 0, alg_name(alg) << ": " << accepted << " flipped signatures passed");
  }
}

BOOST_AUTO_TEST_CASE(changing_any_character_of_the_signed_part_fails) {
  const auto token = testing::mint(key_for(Alg::kES256), good_claims());
  const auto signed_len = token.rfind('.');
  int accepted = 0;
  for (std::size_t i = 0; i < signed_len; ++i) {
    if (token[i] == '.') continue;
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    if (verify(t).starts_with("ok")) ++accepted;
  }
  BOOST_TEST(accepted == 0);
}

BOOST_AUTO_TEST_CASE(ecdsa_signature_of_the_wrong_length_or_in_der_form_is_a_bad_signature) {
  for (Alg alg : {Alg::kES256, Alg::kES384}) {
    const auto seg = split(testing::mint(key_for(alg), good_claims()));
    const std::string raw = *crypto::base64url_decode(seg.signature);
    const auto with_sig = [&](std::string_view s) {
      return seg.header + "." + seg.payload + "." + b64(s);
    };
    BOOST_TEST(verify(with_sig(raw.substr(1))) == refused(JwtError::kBadSignature));
    BOOST_TEST(verify(with_sig(raw + '\0')) == refused(JwtError::kBadSignature));
    BOOST_TEST(verify(with_sig(std::string(1, '\0') + raw)) == refused(JwtError::kBadSignature));
    BOOST_TEST(verify(with_sig("")) == refused(JwtError::kBadSignature));
    BOOST_TEST(verify(with_sig(std::string(raw.size(), '\0'))) == refused(JwtError::kBadSignature));
    // A DER ECDSA-Sig-Value, as some libraries wrongly emit, is not a JWS signature.
    std::string der =
        "\x30" + std::string(1, static_cast<char>(4 + raw.size())) + "\x02" +
        std::string(1, static_cast<char>(raw.size() / 2)) + raw.substr(0, raw.size() / 2) + "\x02" +
        std::string(1, static_cast<char>(raw.size() / 2)) + raw.substr(raw.size() / 2);
    BOOST_TEST(verify(with_sig(der)) == refused(JwtError::kBadSignature));
  }
}

BOOST_AUTO_TEST_CASE(empty_signature_is_a_bad_signature_for_every_alg) {
  for (Alg alg : kAllAlgs) {
    const auto seg = split(testing::mint(key_for(alg), good_claims()));
    BOOST_TEST(verify(seg.header + "." + seg.payload + ".") == refused(JwtError::kBadSignature));
  }
}

BOOST_AUTO_TEST_CASE(pkcs1_signature_does_not_pass_as_ps256_nor_the_reverse) {
  const SigningKey& rsa = key_for(Alg::kRS256);
  auto set = parse_jwks(R"({"keys":[)" + testing::jwk_json(rsa, false) + "]}");
  BOOST_REQUIRE(set.ok());
  const SigningKey pss{rsa.pkey, rsa.kid, Alg::kPS256};
  const auto rs_seg = split(testing::mint(rsa, good_claims()));
  const auto ps_seg = split(testing::mint(pss, good_claims()));
  // Header says PS256, signature is PKCS#1 v1.5 over the same input (and vice versa).
  const std::string ps_header = b64(R"({"alg":"PS256","typ":"JWT","kid":"key-RS256"})");
  const std::string input_ps = ps_header + "." + rs_seg.payload;
  const SigningKey rs_signer{rsa.pkey, rsa.kid, Alg::kRS256};
  const auto pkcs1_sig = b64(testing::raw_signature(rs_signer, input_ps));
  BOOST_TEST(outcome(verify_jwt(input_ps + "." + pkcs1_sig, *set, policy(), kNow)) ==
             refused(JwtError::kBadSignature));
  const std::string input_rs = rs_seg.header + "." + rs_seg.payload;
  const auto pss_sig = b64(testing::raw_signature(pss, input_rs));
  BOOST_TEST(outcome(verify_jwt(input_rs + "." + pss_sig, *set, policy(), kNow)) ==
             refused(JwtError::kBadSignature));
  BOOST_TEST(outcome(verify_jwt(ps_seg.header + "." + ps_seg.payload + "." + ps_seg.signature, *set,
                                policy(), kNow)) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(ps256_with_a_salt_other_than_32_bytes_is_a_bad_signature) {
  const auto seg = split(testing::mint(key_for(Alg::kPS256), good_claims()));
  const SigningKey& ps = key_for(Alg::kPS256);
  const std::string input = seg.header + "." + seg.payload;
  BOOST_TEST(verify(input + "." + b64(pss_signature(ps, input, 32))) == "ok:alice");
  for (int salt : {0, 20, 31, 33, 64}) {
    BOOST_TEST(verify(input + "." + b64(pss_signature(ps, input, salt))) ==
                   refused(JwtError::kBadSignature),
               "salt " << salt);
  }
}

BOOST_AUTO_TEST_CASE(claims_are_not_judged_before_the_signature) {
  const auto expired = good_claims().exp(kNow - 3600);
  BOOST_TEST(verify(testing::mint(attacker_key(Alg::kES256), expired)) ==
             refused(JwtError::kBadSignature));
  const auto seg = split(testing::mint(attacker_key(Alg::kES256), good_claims()));
  BOOST_TEST(verify(seg.header + "." + b64(R"({"sub":"a","sub":"b"})") + "." + seg.signature) ==
             refused(JwtError::kBadSignature));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(header)

BOOST_AUTO_TEST_CASE(crit_header_is_refused) {
  for (const char* crit : {R"(["exp"])", R"(["b64"],"b64":false)", "[]", R"("exp")"}) {
    BOOST_TEST_CONTEXT(crit) {
      const auto header = std::string(R"({"alg":"ES256","kid":"key-ES256","crit":)") + crit + "}";
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kCritUnsupported));
    }
  }
}

BOOST_AUTO_TEST_CASE(duplicate_member_in_the_header_is_malformed) {
  for (const char* header : {R"({"alg":"ES256","kid":"key-ES256","alg":"ES256"})",
                             R"({"alg":"none","alg":"ES256","kid":"key-ES256"})",
                             R"({"alg":"ES256","kid":"key-ES256","kid":"key-RS256"})",
                             R"({"alg":"ES256","kid":"key-ES256","\u006bid":"key-ES256"})"}) {
    BOOST_TEST_CONTEXT(header) {
      BOOST_TEST(verify(es256_token(header, good_claims().json())) ==
                 refused(JwtError::kMalformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(duplicate_member_in_the_payload_is_malformed) {
  const std::string base = good_claims().remove("sub").json();
  const std::string body = base.substr(1);  // without '{'
  for (const std::string& payload :
       {R"({"sub":"alice","sub":"admin",)" + body, R"({"sub":"alice","s\u0075b":"admin",)" + body,
        R"({"sub":"alice","exp":1,)" + body,
        R"({"sub":"alice","nested":{"role":"user","role":"admin"},)" + body}) {
    BOOST_TEST_CONTEXT(payload) {
      BOOST_TEST(verify(es256_token(es256_header(), payload)) == refused(JwtError::kMalformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(header_or_payload_that_is_not_a_json_object_is_malformed) {
  const std::string claims = good_claims().json();
  for (const std::string& header :
       {std::string("[]"), std::string("\"ES256\""), std::string("{"), std::string(""),
        es256_header() + " x", es256_header() + "{}", es256_header() + std::string(1, '\0'),
        std::string("{\"alg\":\"ES256\",\"kid\":\"key-ES256\",\"x\":\"\xff\"}")}) {
    BOOST_TEST(verify(es256_token(header, claims)) == refused(JwtError::kMalformed));
  }
  for (const std::string& payload :
       {std::string("[]"), std::string("42"), std::string("null"), std::string("{\"sub\":\"a\""),
        claims + ",", std::string(claims.data(), claims.size()) + std::string(1, '\0'),
        std::string("{\"sub\":\"\xc3\x28\"}")}) {
    BOOST_TEST(verify(es256_token(es256_header(), payload)) == refused(JwtError::kMalformed));
  }
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_is_malformed_without_crashing) {
  const std::string deep = std::string(4000, '[') + std::string(4000, ']');
  const std::string nested = std::string(40, '[') + std::string(40, ']');
  const auto payload = good_claims().claim_raw("deep", nested).json();
  BOOST_TEST(verify(es256_token(es256_header(), payload)) == refused(JwtError::kMalformed));
  BOOST_TEST(verify(es256_token(deep, good_claims().json())) == refused(JwtError::kMalformed));
  const auto ok = good_claims().claim_raw("shallow", R"({"a":{"b":[1,[2]]}})").json();
  BOOST_TEST(verify(es256_token(es256_header(), ok)) == "ok:alice");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(structure)

BOOST_AUTO_TEST_CASE(anything_but_three_segments_is_malformed) {
  const auto seg = split(testing::mint(key_for(Alg::kES256), good_claims()));
  for (const std::string& token :
       {std::string(""), std::string("."), std::string(".."), std::string("..."),
        seg.header + "." + seg.payload, seg.header + "." + seg.payload + "." + seg.signature + ".",
        seg.header + "." + seg.payload + "." + seg.signature + ".x",
        seg.header + ".." + seg.payload + "." + seg.signature,
        "." + seg.payload + "." + seg.signature}) {
    BOOST_TEST_CONTEXT(token) {
      BOOST_TEST(verify(token) == refused(JwtError::kMalformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(non_canonical_or_foreign_base64_is_malformed) {
  // Header JSON padded so its encoding ends in a partial group with unused bits.
  std::string header = es256_header();
  while (b64(header).size() % 4 != 2) header.insert(header.size() - 1, " ");
  const auto seg = split(es256_token(header, good_claims().json()));
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string sloppy = seg.header;
  sloppy.back() = alphabet[alphabet.find(sloppy.back()) + 1];  // sets an unused low bit
  const auto rest = "." + seg.payload + "." + seg.signature;
  BOOST_TEST(verify(seg.header + rest) == "ok:alice");
  BOOST_TEST(verify(sloppy + rest) == refused(JwtError::kMalformed));
  // Padding is refused as such; where it is allowed (ALB), it must still be right.
  BOOST_TEST(verify(seg.header + "=" + rest) == refused(JwtError::kPadded));
  VerifyPolicy alb = policy();
  alb.allow_padding = true;
  BOOST_TEST(verify(seg.header + "=" + rest, alb) == refused(JwtError::kMalformed));    // wrong
  BOOST_TEST(verify(seg.header + "===" + rest, alb) == refused(JwtError::kMalformed));  // too much
  BOOST_TEST(verify(seg.header + " " + rest) == refused(JwtError::kMalformed));
  BOOST_TEST(verify(seg.header + "\n" + rest) == refused(JwtError::kMalformed));
  BOOST_TEST(verify(seg.header.substr(0, seg.header.size() - 1) + rest) ==
             refused(JwtError::kMalformed));  // length 1 mod 4
  BOOST_TEST(verify(seg.header + "." + seg.payload + "." + seg.signature + "!") ==
             refused(JwtError::kMalformed));
  std::string plus = seg.header;
  plus[0] = '+';  // standard base64 alphabet
  BOOST_TEST(verify(plus + rest) == refused(JwtError::kMalformed));
}

BOOST_AUTO_TEST_CASE(token_over_16_kib_is_malformed_even_when_correctly_signed) {
  const auto size_with_pad = [](std::size_t n) {
    return testing::mint(key_for(Alg::kES256),
                         good_claims().claim_string("pad", std::string(n, 'x')));
  };
  std::string fits = size_with_pad(100);
  const std::size_t base = fits.size() - 100 * 4 / 3;
  std::size_t n = (16 * 1024 - base) * 3 / 4;
  while (size_with_pad(n).size() > 16 * 1024) --n;
  while (size_with_pad(n + 1).size() <= 16 * 1024) ++n;
  BOOST_TEST(size_with_pad(n).size() <= 16 * 1024u);
  BOOST_TEST(verify(size_with_pad(n)) == "ok:alice");
  BOOST_TEST(size_with_pad(n + 3).size() > 16 * 1024u);
  BOOST_TEST(verify(size_with_pad(n + 3)) == refused(JwtError::kMalformed));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(claims)

std::string with_exp_json(std::string_view exp_json, const VerifyPolicy& p = policy()) {
  return verify(testing::mint(key_for(Alg::kES256), good_claims().claim_raw("exp", exp_json)), p);
}

BOOST_AUTO_TEST_CASE(missing_exp_is_refused) {
  BOOST_TEST(verify(testing::mint(key_for(Alg::kES256), good_claims().remove("exp"))) ==
             refused(JwtError::kMissingExp));
}

BOOST_AUTO_TEST_CASE(exp_of_the_wrong_type_or_out_of_range_is_malformed_not_undefined) {
  for (const char* exp :
       {"\"1800000600\"", "true", "null", "[1800000600]", "{}", "1e300", "-1e300", "9e18",
        "9000000000000000000", "18446744073709551615", "-1", "253402300800", "1e19", "-0.5"}) {
    BOOST_TEST_CONTEXT(exp) {
      BOOST_TEST(with_exp_json(exp) == refused(JwtError::kMalformed));
    }
  }
  // Beyond double range RapidJSON itself refuses the document.
  BOOST_TEST(with_exp_json("1e400") == refused(JwtError::kMalformed));
}

BOOST_AUTO_TEST_CASE(exp_as_a_fraction_or_in_exponent_form_is_accepted) {
  BOOST_TEST(with_exp_json("1800000600.75") == "ok:alice");
  BOOST_TEST(with_exp_json("1.8000006e9") == "ok:alice");
  VerifyPolicy forever = policy();
  forever.max_lifetime_seconds = 253402300799;
  BOOST_TEST(with_exp_json("253402300799", forever) == "ok:alice");  // 9999-12-31T23:59:59Z
}

BOOST_AUTO_TEST_CASE(a_lifetime_beyond_the_cap_is_refused_counted_from_iat_or_else_from_now) {
  const SigningKey& k = key_for(Alg::kES256);
  constexpr std::int64_t kDay = 24 * 3600;
  BOOST_TEST(policy().max_lifetime_seconds == kDay);
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow - 10).exp(kNow - 10 + kDay))) ==
             "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow - 10).exp(kNow - 10 + kDay + 1))) ==
             refused(JwtError::kLifetimeTooLong));
  // A backdated iat does not hide a long lifetime; without iat the time left is what counts.
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow - kDay).exp(kNow + 600))) ==
             refused(JwtError::kLifetimeTooLong));
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("iat").exp(kNow + kDay))) == "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("iat").exp(kNow + kDay + 1))) ==
             refused(JwtError::kLifetimeTooLong));
  VerifyPolicy hour = policy();
  hour.max_lifetime_seconds = 3600;
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow).exp(kNow + 3601)), hour) ==
             refused(JwtError::kLifetimeTooLong));
}

BOOST_AUTO_TEST_CASE(exp_is_honoured_up_to_the_leeway_and_not_a_second_more) {
  const SigningKey& k = key_for(Alg::kES256);
  const std::int64_t exp = kNow - kLeeway;  // exp + leeway == now: expired
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(exp - 100).exp(exp))) ==
             refused(JwtError::kExpired));
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(exp - 100).exp(exp + 1))) == "ok:alice");
  VerifyPolicy strict = policy();
  strict.leeway_seconds = 0;
  BOOST_TEST(verify(testing::mint(k, good_claims().exp(kNow)), strict) ==
             refused(JwtError::kExpired));
  BOOST_TEST(verify(testing::mint(k, good_claims().exp(kNow + 1)), strict) == "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().exp(kNow - 86400 * 365))) ==
             refused(JwtError::kExpired));
  // A fractional exp is rounded down: 0.5 s short of the edge is already expired.
  BOOST_TEST(with_exp_json(std::to_string(kNow - kLeeway) + ".5") == refused(JwtError::kExpired));
}

BOOST_AUTO_TEST_CASE(nbf_is_honoured_down_to_the_leeway_and_not_a_second_less) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().nbf(kNow + kLeeway))) == "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().nbf(kNow + kLeeway + 1))) ==
             refused(JwtError::kNotYetValid));
  BOOST_TEST(verify(testing::mint(
                 k, good_claims().claim_raw("nbf", std::to_string(kNow + kLeeway) + ".5"))) ==
             refused(JwtError::kNotYetValid));
}

BOOST_AUTO_TEST_CASE(iat_in_the_future_beyond_the_leeway_is_not_yet_valid) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow + kLeeway))) == "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().iat(kNow + kLeeway + 1))) ==
             refused(JwtError::kNotYetValid));
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("iat"))) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(nbf_and_iat_of_the_wrong_type_are_malformed) {
  const SigningKey& k = key_for(Alg::kES256);
  for (const char* name : {"nbf", "iat"}) {
    for (const char* v : {"\"1\"", "null", "1e300", "-5", "true"}) {
      BOOST_TEST(verify(testing::mint(k, good_claims().claim_raw(name, v))) ==
                 refused(JwtError::kMalformed));
    }
  }
}

BOOST_AUTO_TEST_CASE(issuer_must_match_exactly_when_configured) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().iss("https://evil.test"))) ==
             refused(JwtError::kWrongIssuer));
  BOOST_TEST(verify(testing::mint(k, good_claims().iss("https://issuer.test/"))) ==
             refused(JwtError::kWrongIssuer));
  BOOST_TEST(verify(testing::mint(k, good_claims().iss("HTTPS://ISSUER.TEST"))) ==
             refused(JwtError::kWrongIssuer));
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("iss"))) ==
             refused(JwtError::kWrongIssuer));
  BOOST_TEST(verify(testing::mint(k, good_claims().claim_raw("iss", "42"))) ==
             refused(JwtError::kMalformed));
  VerifyPolicy any_issuer = policy();
  any_issuer.issuer.clear();
  BOOST_TEST(verify(testing::mint(k, good_claims().iss("https://other.test")), any_issuer) ==
             "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("iss")), any_issuer) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(audience_may_be_a_string_or_an_array_containing_ours) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().aud("credbroker"))) == "ok:alice");
  BOOST_TEST(verify(testing::mint(k, good_claims().aud(std::vector<std::string>{
                                         "other", "credbroker"}))) == "ok:alice");
  VerifyPolicy two = policy();
  two.audiences = {"a", "b"};
  BOOST_TEST(verify(testing::mint(k, good_claims().aud("b")), two) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(audience_without_ours_is_refused) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().aud("someone-else"))) ==
             refused(JwtError::kWrongAudience));
  BOOST_TEST(verify(testing::mint(k, good_claims().aud("CREDBROKER"))) ==
             refused(JwtError::kWrongAudience));
  BOOST_TEST(verify(testing::mint(k, good_claims().aud(std::vector<std::string>{"x", "y"}))) ==
             refused(JwtError::kWrongAudience));
  BOOST_TEST(verify(testing::mint(k, good_claims().aud(std::vector<std::string>{}))) ==
             refused(JwtError::kWrongAudience));
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("aud"))) ==
             refused(JwtError::kWrongAudience));
  for (const char* bad : {"42", R"(["credbroker",1])", "null", R"({"credbroker":true})"}) {
    BOOST_TEST(verify(testing::mint(k, good_claims().claim_raw("aud", bad))) ==
               refused(JwtError::kMalformed));
  }
  VerifyPolicy any_audience = policy();
  any_audience.audiences.clear();
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("aud")), any_audience) == "ok:alice");
}

BOOST_AUTO_TEST_CASE(user_claim_must_be_a_non_empty_string) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().remove("sub"))) ==
             refused(JwtError::kMissingUserClaim));
  BOOST_TEST(verify(testing::mint(k, good_claims().sub(""))) ==
             refused(JwtError::kMissingUserClaim));
  for (const char* bad : {"42", "null", R"(["alice"])", "true"}) {
    BOOST_TEST(verify(testing::mint(k, good_claims().claim_raw("sub", bad))) ==
               refused(JwtError::kMissingUserClaim));
  }
  BOOST_TEST(verify(testing::mint(k, good_claims().claim_raw("sub", R"("alice\u0000admin")"))) ==
             refused(JwtError::kMalformed));
}

BOOST_AUTO_TEST_CASE(configured_user_claim_names_the_user) {
  VerifyPolicy by_email = policy();
  by_email.user_claim = "email";
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(verify(testing::mint(k, good_claims().claim_string("email", "alice@example.com")),
                    by_email) == "ok:alice@example.com");
  BOOST_TEST(verify(testing::mint(k, good_claims()), by_email) ==
             refused(JwtError::kMissingUserClaim));
}

BOOST_AUTO_TEST_CASE(unicode_user_ids_come_back_byte_for_byte) {
  const SigningKey& k = key_for(Alg::kES256);
  BOOST_TEST(
      verify(testing::mint(k, good_claims().claim_raw("sub", R"("J\u00f6rg \ud83d\ude00")"))) ==
      "ok:J\xc3\xb6rg \xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_SUITE_END()

// identity.hmac_secret_env: the reference gateway's HS256 user tokens, and nothing else.
BOOST_AUTO_TEST_SUITE(hs256_shared_secret)

// The reference gateway keeps 32 random bytes in <data_dir>/.token_key.
const std::string& gateway_key() {
  static const std::string key = "0123456789abcdef0123456789ABCDEF";
  return key;
}

const KeySet& hmac_keys(const std::string& secret = gateway_key()) {
  static std::map<std::string, KeySet> sets;
  auto it = sets.find(secret);
  if (it == sets.end()) {
    auto set = hmac_key_set(secret);
    BOOST_REQUIRE_MESSAGE(set.ok(), (set.ok() ? std::string() : set.error()));
    it = sets.emplace(secret, std::move(set.value())).first;
  }
  return it->second;
}

/** The policy the config builds for the reference setup: HS256 only, no iss, no aud. */
VerifyPolicy hmac_policy() {
  VerifyPolicy p;
  p.algorithms = {Alg::kHS256};
  p.leeway_seconds = kLeeway;
  return p;
}

constexpr const char* kGatewayHeader = R"({"alg":"HS256","typ":"JWT"})";

/** Claims exactly as the gateway issues them: 24 h TTL, no iss, no aud. */
Claims gateway_claims(std::string_view user = "google-oauth2|1234", std::int64_t iat = kNow - 10) {
  return Claims()
      .sub(user)
      .iat(iat)
      .exp(iat + 86400)
      .claim_string("jti", "6f1c2a9e-4b7d-4e0f-9a55-0d2c9b3e7f11")
      .claim_string("email", "alice@example.com")
      .claim_string("display_name", "Alice")
      .claim_string("role", "user")
      .claim_string("provider", "google");
}

std::string gateway_token(const Claims& claims = gateway_claims(),
                          const std::string& secret = gateway_key(),
                          std::string_view header = kGatewayHeader) {
  return testing::hs256(secret, header, claims.json());
}

std::string verify_hmac(std::string_view token, const VerifyPolicy& p = hmac_policy(),
                        std::int64_t now = kNow) {
  return outcome(verify_jwt(token, hmac_keys(), p, now));
}

BOOST_AUTO_TEST_CASE(a_reference_gateway_token_is_accepted) {
  BOOST_TEST(verify_hmac(gateway_token()) == "ok:google-oauth2|1234");
  // Its full 24 h lifetime (exp - iat == 86400) fits the default maximum, to the last second.
  BOOST_TEST(verify_hmac(gateway_token(), hmac_policy(), kNow - 10 + 86400 + kLeeway - 1) ==
             "ok:google-oauth2|1234");
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims().claim_string("role", "admin"))) ==
             "ok:google-oauth2|1234");
}

BOOST_AUTO_TEST_CASE(the_wrong_key_or_a_changed_byte_is_a_bad_signature) {
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims(), "0123456789abcdef0123456789ABCDEG")) ==
             refused(JwtError::kBadSignature));
  const auto seg = split(gateway_token());
  const std::string mallory = b64(gateway_claims("mallory").json());
  BOOST_TEST(verify_hmac(seg.header + "." + mallory + "." + seg.signature) ==
             refused(JwtError::kBadSignature));
  // A signature cut short, or one byte longer, never compares equal.
  const std::string sig = *crypto::base64url_decode(seg.signature);
  for (const auto& other : {sig.substr(0, 16), sig + "x", std::string(), std::string(32, '\0')}) {
    BOOST_TEST(verify_hmac(seg.header + "." + seg.payload + "." + b64(other)) ==
               refused(JwtError::kBadSignature));
  }
}

BOOST_AUTO_TEST_CASE(a_public_key_token_never_passes_the_hmac_verifier) {
  // An RS256 token (validly signed by a key the attacker holds) against the HMAC setup.
  const auto rs256 = testing::mint(key_for(Alg::kRS256), gateway_claims());
  BOOST_TEST(verify_hmac(rs256) == refused(JwtError::kAlgNotAllowed));
  // Even if the allowlist let RS256 through, the secret key fits HS256 only.
  VerifyPolicy loose = hmac_policy();
  loose.algorithms = {Alg::kHS256, Alg::kRS256};
  BOOST_TEST(verify_hmac(rs256, loose) == refused(JwtError::kUnknownKid));
  // Nor does an RS256 header over an HMAC of the secret.
  const std::string relabelled =
      gateway_token(gateway_claims(), gateway_key(), R"({"alg":"RS256","typ":"JWT"})");
  BOOST_TEST(verify_hmac(relabelled, loose) == refused(JwtError::kUnknownKid));
}

BOOST_AUTO_TEST_CASE(hs256_keyed_with_a_public_key_never_passes_a_public_key_verifier) {
  // The classic attack: HMAC keyed with the verifier's public key bytes, which anyone can fetch.
  const SigningKey& rsa = key_for(Alg::kRS256);
  for (const auto& secret : {testing::public_key_pem(rsa), testing::public_key_der(rsa)}) {
    const auto forged = testing::hs256(secret, R"({"alg":"HS256","typ":"JWT","kid":"key-RS256"})",
                                       good_claims().json());
    BOOST_TEST(verify(forged) == refused(JwtError::kAlgNotAllowed));
    // Even with HS256 on the allowlist, no public key fits it.
    VerifyPolicy loose = policy();
    loose.algorithms.push_back(Alg::kHS256);
    BOOST_TEST(verify(forged, loose) == refused(JwtError::kKeyAlgMismatch));
    const auto no_kid =
        testing::hs256(secret, R"({"alg":"HS256","typ":"JWT"})", good_claims().json());
    BOOST_TEST(verify(no_kid, loose) == refused(JwtError::kUnknownKid));
    // A PEM file's key names no "alg": its key type alone keeps it from HS256.
    const auto pem = parse_pem_public_key(testing::public_key_pem(rsa));
    BOOST_REQUIRE(pem.ok());
    for (const auto& token : {forged, no_kid}) {
      BOOST_TEST(outcome(verify_jwt(token, *pem, loose, kNow)) == refused(JwtError::kUnknownKid));
    }
  }
  // And a JWK naming HS256 is no key at all.
  const auto jwk = testing::jwk_json(rsa, false);
  const auto named = jwk.substr(0, jwk.size() - 1) + R"(,"alg":"HS256"})";
  BOOST_TEST(!parse_jwks(R"({"keys":[)" + named + "]}").ok());
}

BOOST_AUTO_TEST_CASE(none_hs384_and_hs512_are_refused) {
  for (const char* alg : {"none", "HS384", "HS512", "hs256"}) {
    BOOST_TEST_CONTEXT(alg) {
      const auto header = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
      BOOST_TEST(verify_hmac(gateway_token(gateway_claims(), gateway_key(), header)) ==
                 refused(JwtError::kAlgNotAllowed));
    }
  }
  const auto seg = split(gateway_token(gateway_claims(), gateway_key(), R"({"alg":"none"})"));
  BOOST_TEST(verify_hmac(seg.header + "." + seg.payload + ".") ==
             refused(JwtError::kAlgNotAllowed));
}

BOOST_AUTO_TEST_CASE(time_and_shape_rules_are_unchanged) {
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims("u", kNow - 86400 - kLeeway))) ==
             refused(JwtError::kExpired));
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims().remove("exp"))) ==
             refused(JwtError::kMissingExp));
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims().exp(kNow - 10 + 86401))) ==
             refused(JwtError::kLifetimeTooLong));
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims(), gateway_key(),
                                       R"({"alg":"HS256","typ":"JOSE"})")) ==
             refused(JwtError::kTypNotAllowed));
  BOOST_TEST(verify_hmac(gateway_token(gateway_claims().remove("sub"))) ==
             refused(JwtError::kMissingUserClaim));
}

BOOST_AUTO_TEST_CASE(iss_and_aud_are_checked_only_when_configured) {
  const auto with_both = gateway_token(gateway_claims().iss("https://gw.test").aud("other"));
  BOOST_TEST(verify_hmac(with_both) == "ok:google-oauth2|1234");
  VerifyPolicy strict = hmac_policy();
  strict.issuer = "https://gw.test";
  BOOST_TEST(verify_hmac(gateway_token(), strict) == refused(JwtError::kWrongIssuer));
  BOOST_TEST(verify_hmac(with_both, strict) == "ok:google-oauth2|1234");
  strict.audiences = {"credbroker"};
  BOOST_TEST(verify_hmac(with_both, strict) == refused(JwtError::kWrongAudience));
}

BOOST_AUTO_TEST_CASE(a_short_key_is_refused_without_showing_it) {
  const std::string sentinel = "HMAC-SENTINEL-31-bytes-long-key";
  BOOST_REQUIRE(sentinel.size() == 31u);
  const auto set = hmac_key_set(sentinel);
  BOOST_REQUIRE(!set.ok());
  BOOST_TEST(set.error() == "HS256 key has 31 bytes; at least 32 are required (RFC 7518 §3.2)");
  BOOST_TEST(set.error().find("SENTINEL") == std::string::npos);
  BOOST_TEST(!hmac_key_set("").ok());
  BOOST_TEST(hmac_key_set(sentinel + "!").ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(helpers)

BOOST_AUTO_TEST_CASE(parse_alg_knows_exactly_the_supported_names) {
  for (Alg alg : kAllAlgs) BOOST_CHECK(parse_alg(alg_name(alg)) == alg);
  BOOST_CHECK(parse_alg("HS256") == Alg::kHS256);
  BOOST_TEST(is_hmac(Alg::kHS256));
  for (Alg alg : kAllAlgs) BOOST_TEST(!is_hmac(alg));
  for (const char* name : {"none", "HS384", "HS512", "hs256", "rs256", "ES512", "", "RS256 "}) {
    BOOST_TEST(!parse_alg(name).has_value(), name);
  }
}

BOOST_AUTO_TEST_CASE(every_refusal_has_its_own_short_text_and_its_own_snake_case_label) {
  const JwtError all[] = {
      JwtError::kMalformed,      JwtError::kAlgNotAllowed,    JwtError::kUnknownKid,
      JwtError::kKeyAlgMismatch, JwtError::kBadSignature,     JwtError::kMissingExp,
      JwtError::kExpired,        JwtError::kNotYetValid,      JwtError::kWrongIssuer,
      JwtError::kWrongAudience,  JwtError::kMissingUserClaim, JwtError::kCritUnsupported,
      JwtError::kTypNotAllowed,  JwtError::kPadded,           JwtError::kHighS,
      JwtError::kB64Unsupported, JwtError::kLifetimeTooLong};
  std::vector<std::string_view> seen, labels;
  for (JwtError e : all) {
    const auto text = describe(e);
    BOOST_TEST(!text.empty());
    BOOST_TEST(text.size() < 60u);
    BOOST_TEST((std::find(seen.begin(), seen.end(), text) == seen.end()), text);
    seen.push_back(text);
    const auto l = label(e);
    BOOST_TEST((!l.empty() && l.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
                                  std::string_view::npos),
               l);
    BOOST_TEST((std::find(labels.begin(), labels.end(), l) == labels.end()), l);
    labels.push_back(l);
  }
  BOOST_TEST(label(JwtError::kExpired) == "token_expired");
  BOOST_TEST(label(JwtError::kWrongAudience) == "wrong_audience");
}

BOOST_AUTO_TEST_CASE(peek_kid_reads_the_header_without_verifying) {
  BOOST_TEST(peek_kid(testing::mint(attacker_key(Alg::kES256), good_claims())).value_or("-") ==
             "key-ES256");
  SigningKey anonymous = key_for(Alg::kES256);
  anonymous.kid.clear();
  BOOST_TEST(!peek_kid(testing::mint(anonymous, good_claims())).has_value());
  BOOST_TEST(!peek_kid(es256_token(R"({"alg":"ES256","kid":7})", "{}")).has_value());
  BOOST_TEST(!peek_kid("not a token").has_value());
  BOOST_TEST(!peek_kid(es256_token(R"({"kid":"a","kid":"b"})", "{}")).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(alb_mode)

constexpr char kOurAlb[] =
    "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/ours/50dc6c495c0c9188";
constexpr char kOtherAlb[] =
    "arn:aws:elasticloadbalancing:eu-west-1:444455556666:loadbalancer/app/theirs/0123456789abcdef";

// As an ALB signs it: no "aud"; typ, kid, alg, iss, client, signer and exp in the header; every
// segment base64url with '=' padding.
std::string alb_token(std::string_view signer, std::string_view client = "app-client-1",
                      std::int64_t header_exp = kNow + 120) {
  const SigningKey& k = key_for(Alg::kES256);
  const std::string header =
      R"({"typ":"JWT","kid":"key-ES256","alg":"ES256","iss":"https://issuer.test","client":")" +
      std::string(client) + R"(","signer":")" + std::string(signer) + R"(","exp":)" +
      std::to_string(header_exp) + "}";
  const std::string payload = R"({"sub":"alice","email":"alice@example.com","exp":)" +
                              std::to_string(kNow + 120) + R"(,"iss":"https://issuer.test"})";
  return testing::sign(k, header, payload, /*padded=*/true);
}

VerifyPolicy alb_policy() {
  VerifyPolicy p = policy();
  p.audiences.clear();
  p.allow_padding = true;
  p.alb = AlbBinding{{kOurAlb}, {}};
  return p;
}

BOOST_AUTO_TEST_CASE(a_real_shaped_alb_token_verifies_for_our_signer_without_aud) {
  const auto token = alb_token(kOurAlb);
  BOOST_TEST(token.find('=') != std::string::npos);
  BOOST_TEST(verify(token, alb_policy()) == "ok:alice");
  // Outside the ALB mode the same token is refused: padded, and no audience.
  BOOST_TEST(verify(token) == refused(JwtError::kPadded));
  VerifyPolicy padded_only = policy();
  padded_only.allow_padding = true;
  BOOST_TEST(verify(token, padded_only) == refused(JwtError::kWrongAudience));
}

BOOST_AUTO_TEST_CASE(another_accounts_alb_signing_with_the_same_regional_key_is_refused) {
  BOOST_TEST(verify(alb_token(kOtherAlb), alb_policy()) == refused(JwtError::kWrongSigner));
  BOOST_TEST(verify(alb_token(std::string(kOurAlb) + "x"), alb_policy()) ==
             refused(JwtError::kWrongSigner));
}

BOOST_AUTO_TEST_CASE(the_client_is_checked_when_configured_and_the_header_exp_always) {
  VerifyPolicy p = alb_policy();
  p.alb->client_ids = {"app-client-1"};
  BOOST_TEST(verify(alb_token(kOurAlb, "app-client-1"), p) == "ok:alice");
  BOOST_TEST(verify(alb_token(kOurAlb, "app-client-2"), p) == refused(JwtError::kWrongClient));
  BOOST_TEST(verify(alb_token(kOurAlb, "app-client-1", kNow - kLeeway), p) ==
             refused(JwtError::kExpired));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::identity
