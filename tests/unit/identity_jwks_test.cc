#define BOOST_TEST_MODULE identity_jwks
#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/identity/jwt.h"
#include "shared/identity/openssl_ptr.h"
#include "tests/support/jwt_mint.h"

namespace credbroker::identity {
namespace {

using testing::SigningKey;

const SigningKey& key_for(Alg alg) {
  static std::map<Alg, SigningKey> keys;
  auto it = keys.find(alg);
  if (it == keys.end()) {
    it = keys.emplace(alg, testing::generate_key(alg, "kid-" + std::string(alg_name(alg)))).first;
  }
  return it->second;
}

const SigningKey& rsa_1024() {
  static const SigningKey key = testing::generate_key(Alg::kRS256, "small", 1024);
  return key;
}

std::string jwks(const std::vector<std::string>& jwk_objects) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < jwk_objects.size(); ++i) out += (i ? "," : "") + jwk_objects[i];
  return out + "]}";
}

// A JWK object with one more member spliced in before the closing brace.
std::string with_member(const std::string& jwk, const std::string& member) {
  return jwk.substr(0, jwk.size() - 1) + "," + member + "}";
}

// A JWK object with member `name` replaced by `member` (or removed when empty).
std::string replace_member(const std::string& jwk, const std::string& name,
                           const std::string& member) {
  const auto at = jwk.find("\"" + name + "\":");
  BOOST_REQUIRE(at != std::string::npos);
  auto end = jwk.find(',', at);
  if (end == std::string::npos) end = jwk.size() - 1;
  std::string out = jwk.substr(0, at) + member + jwk.substr(end);
  if (member.empty()) {
    out = jwk.substr(0, at) + jwk.substr(end + (jwk[end] == ',' ? 1 : 0));
    if (out[out.size() - 2] == ',') out.erase(out.size() - 2, 1);
  }
  return out;
}

std::string error_of(const Result<KeySet, std::string>& r) {
  return r.ok() ? "ok" : r.error();
}

std::size_t count_of(const Result<KeySet, std::string>& r) {
  return r.ok() ? r->keys.size() : 0;
}

constexpr char kNoUsableKey[] = "JWKS contains no usable signing key";

// An SPKI PEM for a key type we do not verify with.
std::string pem_of_generated(const char* type, const char* param) {
  EVP_PKEY* raw = param ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, param)
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  BOOST_REQUIRE(raw != nullptr);
  const SigningKey k{share_pkey(PkeyPtr(raw)), "", Alg::kES256};
  return testing::public_key_pem(k);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jwks_keys)

BOOST_AUTO_TEST_CASE(each_supported_key_type_is_loaded_with_kid_and_alg) {
  const struct {
    Alg alg;
    KeyType type;
  } cases[] = {{Alg::kRS256, KeyType::kRsa},
               {Alg::kPS256, KeyType::kRsa},
               {Alg::kES256, KeyType::kEcP256},
               {Alg::kES384, KeyType::kEcP384},
               {Alg::kEdDSA, KeyType::kEd25519}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(alg_name(c.alg)) {
      const auto set = parse_jwks(testing::jwks_json({key_for(c.alg)}));
      BOOST_REQUIRE_MESSAGE(set.ok(), error_of(set));
      BOOST_REQUIRE(set->keys.size() == 1u);
      const PublicKey& k = set->keys.front();
      BOOST_TEST(k.kid == "kid-" + std::string(alg_name(c.alg)));
      BOOST_CHECK(k.alg == c.alg);
      BOOST_CHECK(k.type == c.type);
      BOOST_TEST(EVP_PKEY_eq(k.pkey.get(), key_for(c.alg).pkey.get()) == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(kid_and_alg_are_optional) {
  const auto set =
      parse_jwks(jwks({replace_member(testing::jwk_json(key_for(Alg::kES256), false), "kid", "")}));
  BOOST_REQUIRE_MESSAGE(set.ok(), error_of(set));
  BOOST_TEST(set->keys.front().kid.empty());
  BOOST_TEST(!set->keys.front().alg.has_value());
}

BOOST_AUTO_TEST_CASE(a_small_rsa_key_is_skipped_and_alone_is_an_error) {
  BOOST_TEST(error_of(parse_jwks(testing::jwks_json({rsa_1024()}))) == kNoUsableKey);
  const auto mixed = parse_jwks(testing::jwks_json({rsa_1024(), key_for(Alg::kRS256)}));
  BOOST_TEST(count_of(mixed) == 1u);
  if (mixed.ok()) BOOST_TEST(mixed->keys.front().kid == "kid-RS256");
}

BOOST_AUTO_TEST_CASE(keys_with_private_members_are_skipped) {
  const std::string good = testing::jwk_json(key_for(Alg::kES256));
  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    BOOST_TEST_CONTEXT(member) {
      const auto jwk = with_member(good, std::string("\"") + member + "\":\"AQAB\"");
      BOOST_TEST(error_of(parse_jwks(jwks({jwk}))) == kNoUsableKey);
      BOOST_TEST(count_of(parse_jwks(jwks({jwk, testing::jwk_json(key_for(Alg::kEdDSA))}))) == 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(keys_not_meant_for_signatures_are_skipped) {
  const std::string good = testing::jwk_json(key_for(Alg::kRS256));
  for (const char* member :
       {R"("use":"enc")", R"("use":"SIG")", R"("use":1)", R"("key_ops":["encrypt"])",
        R"("key_ops":"verify")", R"("key_ops":[])"}) {
    BOOST_TEST_CONTEXT(member) {
      const std::string jwk = std::string(member).starts_with("\"use\"")
                                  ? replace_member(good, "use", member)
                                  : with_member(good, member);
      BOOST_TEST(error_of(parse_jwks(jwks({jwk}))) == kNoUsableKey);
    }
  }
  BOOST_TEST(count_of(parse_jwks(jwks({with_member(good, R"("key_ops":["sign","verify"])")}))) ==
             1u);
  BOOST_TEST(count_of(parse_jwks(jwks({replace_member(good, "use", "")}))) == 1u);
}

BOOST_AUTO_TEST_CASE(keys_naming_an_algorithm_we_do_not_verify_are_skipped) {
  const std::string rsa = testing::jwk_json(key_for(Alg::kRS256));
  for (const char* alg :
       {R"("alg":"HS256")", R"("alg":"none")", R"("alg":"RSA-OAEP")", R"("alg":"rs256")",
        R"("alg":"ES256")", R"("alg":"EdDSA")", R"("alg":256)"}) {
    BOOST_TEST_CONTEXT(alg) {
      BOOST_TEST(error_of(parse_jwks(jwks({replace_member(rsa, "alg", alg)}))) == kNoUsableKey);
    }
  }
  const std::string ec = testing::jwk_json(key_for(Alg::kES256));
  BOOST_TEST(error_of(parse_jwks(jwks({replace_member(ec, "alg", R"("alg":"ES384")")}))) ==
             kNoUsableKey);
}

BOOST_AUTO_TEST_CASE(unsupported_key_types_and_curves_are_skipped) {
  for (const char* jwk :
       {R"({"kty":"oct","k":"c2VjcmV0"})", R"({"kty":"oct"})",
        R"({"kty":"EC","crv":"P-521","x":"AQ","y":"AQ"})",
        R"({"kty":"EC","crv":"secp256k1","x":"AQ","y":"AQ"})",
        R"({"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
        R"({"kty":"OKP","crv":"Ed448","x":"AQ"})", R"({"kty":"rsa","n":"AQ","e":"AQAB"})",
        R"({"n":"AQ","e":"AQAB"})", R"({"kty":7})", R"("not an object")", "[]", "null"}) {
    BOOST_TEST_CONTEXT(jwk) {
      BOOST_TEST(error_of(parse_jwks(jwks({jwk}))) == kNoUsableKey);
    }
  }
}

BOOST_AUTO_TEST_CASE(broken_key_material_is_skipped) {
  const std::string ec = testing::jwk_json(key_for(Alg::kES256));
  const std::string rsa = testing::jwk_json(key_for(Alg::kRS256));
  const std::string ed = testing::jwk_json(key_for(Alg::kEdDSA));
  const std::string x32 = crypto::base64url_encode(std::string(32, '\x01'));
  const std::string x31 = crypto::base64url_encode(std::string(31, '\x01'));
  const std::string x33 = crypto::base64url_encode(std::string(33, '\x01'));
  const std::vector<std::string> broken = {
      replace_member(ec, "x", "\"x\":\"" + x31 + "\""),  // coordinate too short
      replace_member(ec, "y", "\"y\":\"" + x33 + "\""),  // too long
      replace_member(ec, "y", "\"y\":\"" + x32 + "\""),  // not on the curve
      replace_member(ec, "x", ""),                       // missing
      replace_member(ec, "x", "\"x\":\"!!\""),           // not base64url
      replace_member(rsa, "e", "\"e\":\"Ag\""),          // even exponent
      replace_member(rsa, "e", "\"e\":\"AQ\""),          // exponent 1
      replace_member(rsa, "n", ""),                      // missing modulus
      replace_member(rsa, "n", "\"n\":\"a+b/\""),        // standard base64 alphabet
      replace_member(ed, "x", "\"x\":\"" + x31 + "\""),  // wrong length
  };
  for (const auto& jwk : broken) {
    BOOST_TEST_CONTEXT(jwk) {
      BOOST_TEST(error_of(parse_jwks(jwks({jwk}))) == kNoUsableKey);
    }
  }
}

BOOST_AUTO_TEST_CASE(usable_keys_survive_next_to_skipped_ones) {
  const auto set = parse_jwks(
      jwks({R"({"kty":"oct","k":"c2VjcmV0"})", testing::jwk_json(key_for(Alg::kES256)),
            replace_member(testing::jwk_json(key_for(Alg::kRS256)), "use", R"("use":"enc")"),
            testing::jwk_json(key_for(Alg::kEdDSA))}));
  BOOST_REQUIRE(set.ok());
  BOOST_REQUIRE(set->keys.size() == 2u);
  BOOST_TEST(set->keys[0].kid == "kid-ES256");
  BOOST_TEST(set->keys[1].kid == "kid-EdDSA");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(jwks_documents)

BOOST_AUTO_TEST_CASE(a_document_that_is_not_a_jwks_is_an_error_naming_the_problem) {
  BOOST_TEST(error_of(parse_jwks("")).starts_with("JWKS is not valid JSON"));
  BOOST_TEST(error_of(parse_jwks("{\"keys\":[")).starts_with("JWKS is not valid JSON"));
  BOOST_TEST(error_of(parse_jwks("<html>503</html>")).starts_with("JWKS is not valid JSON"));
  const std::string not_jwks = "JWKS is not an object with a \"keys\" array";
  for (const char* doc :
       {"[]", "{}", R"({"keys":{}})", R"({"Keys":[]})", R"({"keys":null})", R"("keys")"}) {
    BOOST_TEST(error_of(parse_jwks(doc)) == not_jwks, doc);
  }
  BOOST_TEST(error_of(parse_jwks(R"({"keys":[]})")) == kNoUsableKey);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_quickly_without_recursion) {
  const auto started = std::chrono::steady_clock::now();
  const std::string brackets = std::string(100000, '[') + std::string(100000, ']');
  BOOST_TEST(error_of(parse_jwks(brackets)) == "JWKS is not valid JSON: nested too deeply");
  const std::string opened_only(100000, '[');
  BOOST_TEST(error_of(parse_jwks(opened_only)) == "JWKS is not valid JSON: nested too deeply");
  std::string objects;
  for (int i = 0; i < 50000; ++i) objects += R"({"a":)";
  BOOST_TEST(error_of(parse_jwks(objects)) == "JWKS is not valid JSON: nested too deeply");
  const auto inside = jwks({with_member(testing::jwk_json(key_for(Alg::kES256)),
                                        "\"x5c\":" + std::string(64, '[') + std::string(64, ']'))});
  BOOST_TEST(error_of(parse_jwks(inside)) == "JWKS is not valid JSON: nested too deeply");
  BOOST_CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

BOOST_AUTO_TEST_CASE(text_that_is_not_utf8_is_refused) {
  const std::string good = testing::jwk_json(key_for(Alg::kES256));
  for (const char* bad : {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf"}) {
    const auto doc = jwks({replace_member(good, "kid", std::string("\"kid\":\"") + bad + "\"")});
    BOOST_TEST(error_of(parse_jwks(doc)) == "JWKS is not valid JSON: a string is not valid UTF-8");
  }
}

BOOST_AUTO_TEST_CASE(duplicate_members_and_nul_bytes_are_refused) {
  const std::string good = testing::jwk_json(key_for(Alg::kES256));
  BOOST_TEST(error_of(parse_jwks(jwks({with_member(good, R"("kid":"other")")}))) ==
             "JWKS is not valid JSON: an object repeats a member name");
  BOOST_TEST(error_of(parse_jwks(R"({"keys":[],"keys":[)" + good + "]}")) ==
             "JWKS is not valid JSON: an object repeats a member name");
  BOOST_TEST(error_of(parse_jwks(jwks({good}) + std::string(1, '\0') + "junk")) ==
             "JWKS is not valid JSON: not a single JSON value");
  BOOST_TEST(error_of(parse_jwks(jwks({good}) + " {}")) ==
             "JWKS is not valid JSON: not a single JSON value");
}

BOOST_AUTO_TEST_CASE(oversized_document_is_refused) {
  const std::string good = testing::jwk_json(key_for(Alg::kES256));
  std::string doc = jwks({with_member(good, "\"pad\":\"" + std::string(1 << 20, 'x') + "\"")});
  BOOST_TEST(error_of(parse_jwks(doc)) == "JWKS is larger than 1 MiB");
}

BOOST_AUTO_TEST_CASE(errors_never_quote_key_material) {
  const std::string jwk = testing::jwk_json(rsa_1024());
  const auto n_at = jwk.find("\"n\":\"") + 5;
  const std::string n = jwk.substr(n_at, jwk.find('"', n_at) - n_at);
  for (const std::string& doc : {jwks({jwk}), jwks({jwk}) + "x", jwks({jwk, jwk})}) {
    const auto err = error_of(parse_jwks(doc));
    BOOST_TEST(err != "ok");
    BOOST_TEST(err.find(n.substr(0, 16)) == std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pem)

BOOST_AUTO_TEST_CASE(supported_pem_public_keys_load_without_kid) {
  const struct {
    Alg alg;
    KeyType type;
  } cases[] = {{Alg::kRS256, KeyType::kRsa},
               {Alg::kES256, KeyType::kEcP256},
               {Alg::kES384, KeyType::kEcP384},
               {Alg::kEdDSA, KeyType::kEd25519}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(alg_name(c.alg)) {
      const auto set = parse_pem_public_key(testing::public_key_pem(key_for(c.alg)));
      BOOST_REQUIRE_MESSAGE(set.ok(), error_of(set));
      BOOST_REQUIRE(set->keys.size() == 1u);
      BOOST_TEST(set->keys.front().kid.empty());
      BOOST_TEST(!set->keys.front().alg.has_value());
      BOOST_CHECK(set->keys.front().type == c.type);
      BOOST_TEST(EVP_PKEY_eq(set->keys.front().pkey.get(), key_for(c.alg).pkey.get()) == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(small_rsa_and_foreign_curves_are_refused) {
  BOOST_TEST(error_of(parse_pem_public_key(testing::public_key_pem(rsa_1024()))) ==
             "RSA key has 1024 bits; 2048 to 16384 are accepted");
  BOOST_TEST(error_of(parse_pem_public_key(pem_of_generated("EC", "P-521"))) ==
             "EC key is not on curve P-256 or P-384");
  BOOST_TEST(error_of(parse_pem_public_key(pem_of_generated("EC", "secp256k1"))) ==
             "EC key is not on curve P-256 or P-384");
  BOOST_TEST(error_of(parse_pem_public_key(pem_of_generated("X25519", nullptr))) ==
             "unsupported key type (RSA, EC P-256/P-384 or Ed25519 are accepted)");
}

BOOST_AUTO_TEST_CASE(anything_but_a_public_key_pem_is_refused) {
  const std::string expected = "not a PEM \"PUBLIC KEY\"";
  BOOST_TEST(error_of(parse_pem_public_key("")) == expected);
  BOOST_TEST(error_of(parse_pem_public_key("hello")) == expected);
  BOOST_TEST(error_of(parse_pem_public_key(testing::private_key_pem(key_for(Alg::kES256)))) ==
             expected);
  BOOST_TEST(error_of(parse_pem_public_key(testing::jwks_json({key_for(Alg::kES256)}))) ==
             expected);
  std::string truncated = testing::public_key_pem(key_for(Alg::kES256));
  truncated.resize(truncated.size() / 2);
  BOOST_TEST(error_of(parse_pem_public_key(truncated)) == expected);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::identity
