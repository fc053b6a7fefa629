#include "shared/identity/jwks.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <string>

#include "shared/crypto/base64.h"
#include "shared/crypto/cleanse.h"
#include "shared/identity/openssl_ptr.h"
#include "shared/json/strict.h"

namespace credbroker::identity {

using json::find_member;
using json::string_of;

namespace {

using rapidjson::Value;

// A JWKS is a few kilobytes; the caps only bound what a hostile or broken endpoint can cost us.
constexpr std::size_t kMaxJwksBytes = 1 << 20;
constexpr int kMaxJwksDepth = 16;
constexpr std::size_t kMaxPemBytes = 64 * 1024;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;  // OpenSSL's own verification limit

// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
constexpr std::array<std::string_view, 9> kPrivateMembers = {"d",  "p",   "q", "dp",  "dq",
                                                             "qi", "oth", "k", "priv"};

std::optional<std::string> b64_member(const Value& jwk, std::string_view name) {
  const Value* v = find_member(jwk, name);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return crypto::base64url_decode(string_of(*v));
}

BnPtr to_bn(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

PkeyPtr public_key_from_params(const char* type, ParamBldPtr bld) {
  ParamPtr params(bld ? OSSL_PARAM_BLD_to_param(bld.get()) : nullptr);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PkeyPtr(pkey);
}

// RFC 7518 §6.3.1: "n" and "e" as unsigned big-endian integers.
PkeyPtr rsa_from_jwk(const Value& jwk) {
  const auto n = b64_member(jwk, "n");
  const auto e = b64_member(jwk, "e");
  if (!n || !e) return nullptr;
  BnPtr bn_n = to_bn(*n), bn_e = to_bn(*e);
  if (!bn_n || !bn_e) return nullptr;
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return nullptr;
  // A public exponent is odd, at least 3, and (for OpenSSL) at most 64 bits.
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get()) || BN_num_bits(bn_e.get()) > 64) {
    return nullptr;
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  return public_key_from_params("RSA", std::move(bld));
}

// RFC 7518 §6.2.1: "x" and "y" each exactly the curve's coordinate length.
PkeyPtr ec_from_jwk(const Value& jwk, KeyType type) {
  const std::size_t len = type == KeyType::kEcP256 ? 32 : 48;
  const char* group = type == KeyType::kEcP256 ? "prime256v1" : "secp384r1";
  const auto x = b64_member(jwk, "x");
  const auto y = b64_member(jwk, "y");
  if (!x || !y || x->size() != len || y->size() != len) return nullptr;
  const std::string point = "\x04" + *x + *y;  // SEC 1 §2.3.3 uncompressed form
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return nullptr;
  }
  PkeyPtr pkey = public_key_from_params("EC", std::move(bld));
  if (!pkey) return nullptr;
  // The point must lie on the curve (invalid-curve attacks); fromdata checks, this makes it sure.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  const bool valid = check && EVP_PKEY_public_check(check.get()) == 1;
  ERR_clear_error();
  return valid ? std::move(pkey) : nullptr;
}

// RFC 8037 §2: "x" is the 32-byte Ed25519 public key.
PkeyPtr ed25519_from_jwk(const Value& jwk) {
  const auto x = b64_member(jwk, "x");
  if (!x || x->size() != 32) return nullptr;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  ERR_clear_error();
  return pkey;
}

bool usable_for_signatures(const Value& jwk) {
  // RFC 7517 §4.2, §4.3: a key published for encryption is not one to verify signatures with.
  if (const Value* use = find_member(jwk, "use")) {
    if (!use->IsString() || string_of(*use) != "sig") return false;
  }
  if (const Value* ops = find_member(jwk, "key_ops")) {
    if (!ops->IsArray()) return false;
    const bool verify = std::any_of(ops->Begin(), ops->End(), [](const Value& op) {
      return op.IsString() && string_of(op) == "verify";
    });
    if (!verify) return false;
  }
  return true;
}

std::optional<PublicKey> parse_jwk(const Value& jwk) {
  if (!jwk.IsObject() || !usable_for_signatures(jwk)) return std::nullopt;
  // A published private key is a leak at the issuer; we do not hold on to it in any form.
  for (const auto name : kPrivateMembers) {
    if (find_member(jwk, name) != nullptr) return std::nullopt;
  }
  PublicKey key;
  if (const Value* kid = find_member(jwk, "kid")) {
    if (!kid->IsString()) return std::nullopt;
    key.kid = std::string(string_of(*kid));
  }
  if (const Value* alg = find_member(jwk, "alg")) {
    if (!alg->IsString() || !(key.alg = parse_alg(string_of(*alg)))) return std::nullopt;
  }
  const Value* kty = find_member(jwk, "kty");
  const Value* crv = find_member(jwk, "crv");
  if (kty == nullptr || !kty->IsString()) return std::nullopt;
  const std::string_view kty_s = string_of(*kty);
  const std::string_view crv_s = crv != nullptr && crv->IsString() ? string_of(*crv) : "";
  PkeyPtr pkey;
  if (kty_s == "RSA") {
    key.type = KeyType::kRsa;
    pkey = rsa_from_jwk(jwk);
  } else if (kty_s == "EC" && (crv_s == "P-256" || crv_s == "P-384")) {
    key.type = crv_s == "P-256" ? KeyType::kEcP256 : KeyType::kEcP384;
    pkey = ec_from_jwk(jwk, key.type);
  } else if (kty_s == "OKP" && crv_s == "Ed25519") {
    key.type = KeyType::kEd25519;
    pkey = ed25519_from_jwk(jwk);
  }
  if (!pkey) return std::nullopt;
  // A JWK whose "alg" its own key type cannot perform is inconsistent: skip it.
  if (key.alg && !type_fits(key.type, *key.alg)) return std::nullopt;
  key.pkey = share_pkey(std::move(pkey));
  return key;
}

Result<KeyType, std::string> key_type_of(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return Err("RSA key has " + std::to_string(bits) + " bits; 2048 to 16384 are accepted");
    }
    return KeyType::kRsa;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
      const std::string_view g(group, len);
      if (g == "prime256v1" || g == "P-256") return KeyType::kEcP256;
      if (g == "secp384r1" || g == "P-384") return KeyType::kEcP384;
    }
    ERR_clear_error();
    return Err(std::string("EC key is not on curve P-256 or P-384"));
  }
  if (EVP_PKEY_is_a(pkey, "ED25519")) return KeyType::kEd25519;
  return Err(std::string("unsupported key type (RSA, EC P-256/P-384 or Ed25519 are accepted)"));
}

}  // namespace

Result<KeySet, std::string> parse_jwks(std::string_view json) {
  if (json.size() > kMaxJwksBytes) return Err(std::string("JWKS is larger than 1 MiB"));
  rapidjson::Document doc;
  if (auto parsed = json::parse_strict(json, kMaxJwksDepth, doc); !parsed) {
    return Err("JWKS is not valid JSON: " + std::string(describe(parsed.error())));
  }
  const Value* keys = doc.IsObject() ? find_member(doc, "keys") : nullptr;
  if (keys == nullptr || !keys->IsArray()) {
    return Err(std::string("JWKS is not an object with a \"keys\" array"));
  }
  KeySet set;
  for (const auto& jwk : keys->GetArray()) {
    if (auto key = parse_jwk(jwk)) set.keys.push_back(std::move(*key));
  }
  if (set.keys.empty()) return Err(std::string("JWKS contains no usable signing key"));
  return set;
}

Result<KeySet, std::string> parse_pem_public_key(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return Err(std::string("PEM file is larger than 64 KiB"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // The callback refuses passphrase prompts: a public key never needs one.
  PkeyPtr pkey(bio ? PEM_read_bio_PUBKEY(
                         bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr)
                   : nullptr);
  ERR_clear_error();
  if (!pkey) return Err(std::string("not a PEM \"PUBLIC KEY\""));
  auto type = key_type_of(pkey.get());
  if (!type) return Err(type.error());
  KeySet set;
  set.keys.push_back(PublicKey{"", std::nullopt, *type, share_pkey(std::move(pkey))});
  return set;
}

Result<KeySet, std::string> hmac_key_set(std::string_view secret) {
  if (secret.size() < kMinHmacKeyBytes) {
    return Err("HS256 key has " + std::to_string(secret.size()) + " bytes; at least " +
               std::to_string(kMinHmacKeyBytes) + " are required (RFC 7518 §3.2)");
  }
  // The one copy the verifier keeps, overwritten before its memory is given back.
  std::shared_ptr<const std::string> bytes(new std::string(secret), [](std::string* s) {
    crypto::cleanse(*s);
    delete s;
  });
  KeySet set;
  set.keys.push_back(PublicKey{"", Alg::kHS256, KeyType::kHmacSecret, nullptr, std::move(bytes)});
  return set;
}

}  // namespace credbroker::identity
