#include "shared/identity/jwt.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cmath>

#include "shared/crypto/base64.h"
#include "shared/identity/openssl_ptr.h"
#include "shared/json/strict.h"
#include "shared/util/strings.h"

namespace credbroker::identity {

using json::find_member;
using json::string_of;

namespace {

using rapidjson::Value;

// Front servers cap header sizes well below this; anything longer is not a token we issue.
constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr int kMaxJsonDepth = 16;
// NumericDate (RFC 7519 §2) bounds: 1970-01-01 to 9999-12-31T23:59:59Z. No issuer means a time
// outside them, and the bound keeps every sum below far from int64 overflow.
constexpr std::int64_t kMaxNumericDate = 253402300799;

/** The three segments of a JWS compact serialization (RFC 7515 §7.1), still encoded. */
struct CompactJws {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // header "." payload, exactly as sent (ALB padding included)
};

std::optional<CompactJws> split_compact(std::string_view token) {
  if (token.size() > kMaxTokenBytes) return std::nullopt;
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  if (token.find('.', dot2 + 1) != std::string_view::npos) return std::nullopt;
  return CompactJws{token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1),
                    token.substr(dot2 + 1), token.substr(0, dot2)};
}

bool parse_object(std::string_view json, rapidjson::Document& out) {
  return json::parse_strict(json, kMaxJsonDepth, out).ok() && out.IsObject();
}

bool decode_object(std::string_view segment, rapidjson::Document& out) {
  const auto json = crypto::base64url_decode(segment);
  return json && parse_object(*json, out);
}

// A key verifies `alg` only if its type can, and its JWK "alg" (when set) names exactly that alg:
// the token's header never picks the verification algorithm on its own (RFC 8725 §3.1).
// A secret key fits HS256 only and a public key never fits it (type_fits), so no token can have
// an HMAC checked with a public key's bytes, nor a signature with the secret (RFC 8725 §2.1).
bool key_fits(const PublicKey& key, Alg alg) {
  const bool loaded =
      key.type == KeyType::kHmacSecret ? key.secret != nullptr : key.pkey != nullptr;
  return loaded && type_fits(key.type, alg) && (!key.alg || *key.alg == alg);
}

const EVP_MD* digest_for(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
    case Alg::kES256:
      return EVP_sha256();
    case Alg::kRS384:
    case Alg::kES384:
      return EVP_sha384();
    case Alg::kRS512:
      return EVP_sha512();
    case Alg::kEdDSA:
      return nullptr;  // Ed25519 hashes internally; one-shot verify only
    case Alg::kHS256:
      return nullptr;  // not a signature: hmac_verifies()
  }
  return nullptr;
}

// JWS carries ECDSA signatures as fixed-width R ‖ S (RFC 7518 §3.4); EVP wants DER.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw, std::size_t half) {
  if (raw.size() != 2 * half) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr r(BN_bin2bn(bytes, static_cast<int>(half), nullptr));
  BnPtr s(BN_bin2bn(bytes + half, static_cast<int>(half), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The group orders n of P-256 and P-384 (SEC 2 §2.4.2, §2.5.1), big-endian hex.
constexpr const char* kP256Order =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
constexpr const char* kP384Order =
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC529"
    "73";

// (R, n - S) verifies wherever (R, S) does; only S <= n/2 is taken so each signature has one form
// (the low-S rule of BIP 62 and libsecp256k1, applied to the NIST curves).
bool ecdsa_high_s(Alg alg, std::string_view raw) {
  const std::size_t half = alg == Alg::kES256 ? 32 : 48;
  if (raw.size() != 2 * half) return false;  // the length is the signature check's to refuse
  BIGNUM* order = nullptr;
  if (BN_hex2bn(&order, alg == Alg::kES256 ? kP256Order : kP384Order) == 0) return true;
  BnPtr n(order);
  BnPtr s(BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + half,
                    static_cast<int>(half), nullptr));
  if (!s || BN_rshift1(n.get(), n.get()) != 1) return true;
  return BN_cmp(s.get(), n.get()) > 0;
}

bool verify_signature(EVP_PKEY* pkey, Alg alg, std::string_view input, std::string_view signature) {
  std::string der;
  if (alg == Alg::kES256 || alg == Alg::kES384) {
    auto converted = ecdsa_raw_to_der(signature, alg == Alg::kES256 ? 32 : 48);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, digest_for(alg), nullptr, pkey) == 1;
  if (ok && (alg == Alg::kRS256 || alg == Alg::kRS384 || alg == Alg::kRS512)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  } else if (ok && alg == Alg::kPS256) {
    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
  }
  ok =
      ok && EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  ERR_clear_error();  // a refused signature leaves entries other code must not mistake for its own
  return ok;
}

// HS256 (RFC 7518 §3.2): HMAC-SHA-256 of the signing input with the shared secret, compared in
// constant time so the time taken tells nothing about how many leading bytes matched.
bool hmac_verifies(const std::string& secret, std::string_view input, std::string_view signature) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  const bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(),
                            secret.size(), reinterpret_cast<const unsigned char*>(input.data()),
                            input.size(), mac, sizeof mac, &len) != nullptr &&
                  len == signature.size() && CRYPTO_memcmp(mac, signature.data(), len) == 0;
  OPENSSL_cleanse(mac, sizeof mac);
  ERR_clear_error();
  return ok;
}

bool verifies(const PublicKey& key, Alg alg, std::string_view input, std::string_view signature) {
  if (is_hmac(alg)) return key.secret && hmac_verifies(*key.secret, input, signature);
  return verify_signature(key.pkey.get(), alg, input, signature);
}

// The keys a token may be verified with (RFC 7515 §4.1.4, RFC 8725 §3.1). With a kid: the keys
// carrying it, which must fit the alg (else kKeyAlgMismatch); if no key carries it, the keys that
// have no kid at all (a PEM file's key, a kid-less JWK), so one configured key still verifies
// kid-bearing tokens such as AWS ALB's. Without a kid: every key that fits the alg.
Result<std::vector<const PublicKey*>, JwtError> candidate_keys(const KeySet& keys,
                                                               std::optional<std::string_view> kid,
                                                               Alg alg) {
  std::vector<const PublicKey*> out;
  bool kid_known = false;
  for (const auto& k : keys.keys) {
    if (kid && k.kid == *kid) kid_known = true;
  }
  for (const auto& k : keys.keys) {
    const bool named = !kid || (kid_known ? k.kid == *kid : k.kid.empty());
    if (named && key_fits(k, alg)) out.push_back(&k);
  }
  if (out.empty()) return Err(kid_known ? JwtError::kKeyAlgMismatch : JwtError::kUnknownKid);
  return out;
}

/** Reads a NumericDate, rounding a fraction toward the stricter side. nullopt: wrong type/range. */
std::optional<std::int64_t> numeric_date(const Value& v, bool round_up) {
  if (v.IsInt64()) {
    const std::int64_t t = v.GetInt64();
    if (t < 0 || t > kMaxNumericDate) return std::nullopt;
    return t;
  }
  if (!v.IsDouble()) return std::nullopt;  // not a number, or an integer beyond int64
  const double d = v.GetDouble();
  // Range-checked before the conversion: casting 1e300 to int64 would be undefined behaviour.
  if (!(d >= 0.0 && d <= static_cast<double>(kMaxNumericDate))) return std::nullopt;
  return static_cast<std::int64_t>(round_up ? std::ceil(d) : std::floor(d));
}

bool is_string_or_string_array(const Value& v) {
  if (v.IsString()) return true;
  if (!v.IsArray()) return false;
  return std::all_of(v.Begin(), v.End(), [](const Value& e) { return e.IsString(); });
}

bool audience_matches(const Value& aud, const std::vector<std::string>& wanted) {
  const auto wanted_has = [&](const Value& v) {
    return std::find(wanted.begin(), wanted.end(), string_of(v)) != wanted.end();
  };
  if (aud.IsString()) return wanted_has(aud);
  return std::any_of(aud.Begin(), aud.End(), wanted_has);
}

// RFC 7515 §4.1.9: "typ" is a media type, compared case-insensitively, "application/" omitted.
bool type_allowed(std::string_view typ, const std::vector<std::string>& allowed) {
  constexpr std::string_view kPrefix = "application/";
  const auto bare = [&](std::string_view t) {
    return t.size() > kPrefix.size() && iequals(t.substr(0, kPrefix.size()), kPrefix)
               ? t.substr(kPrefix.size())
               : t;
  };
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return iequals(bare(a), bare(typ)); });
}

bool string_in(const Value* v, const std::vector<std::string>& allowed) {
  return v != nullptr && v->IsString() &&
         std::find(allowed.begin(), allowed.end(), string_of(*v)) != allowed.end();
}

// AWS ALB puts its binding in the JWS header: "signer" (the load balancer ARN), "client" (the
// IdP app client) and "exp". The keys are regional and shared by all accounts, so the signer is
// what makes a token ours; without it, any AWS customer's ALB could sign users in here.
std::optional<JwtError> check_alb_header(const Value& header, const AlbBinding& alb,
                                         std::int64_t leeway, std::int64_t now) {
  if (!string_in(find_member(header, "signer"), alb.signer_arns)) return JwtError::kWrongSigner;
  if (!alb.client_ids.empty() && !string_in(find_member(header, "client"), alb.client_ids)) {
    return JwtError::kWrongClient;
  }
  const Value* exp_v = find_member(header, "exp");
  if (exp_v == nullptr) return JwtError::kMissingExp;
  const auto exp = numeric_date(*exp_v, false);
  if (!exp) return JwtError::kMalformed;
  if (*exp + leeway <= now) return JwtError::kExpired;
  return std::nullopt;
}

Result<VerifiedToken, JwtError> check_claims(const Value& claims, const VerifyPolicy& policy,
                                             std::int64_t now) {
  const std::int64_t leeway = std::clamp<std::int64_t>(policy.leeway_seconds, 0, kMaxNumericDate);

  const Value* exp_v = find_member(claims, "exp");
  if (exp_v == nullptr) return Err(JwtError::kMissingExp);
  const auto exp = numeric_date(*exp_v, false);
  if (!exp) return Err(JwtError::kMalformed);
  std::optional<std::int64_t> nbf, iat;
  if (const Value* v = find_member(claims, "nbf")) {
    if (!(nbf = numeric_date(*v, true))) return Err(JwtError::kMalformed);
  }
  if (const Value* v = find_member(claims, "iat")) {
    if (!(iat = numeric_date(*v, true))) return Err(JwtError::kMalformed);
  }
  const Value* iss = find_member(claims, "iss");
  if (iss != nullptr && !iss->IsString()) return Err(JwtError::kMalformed);
  const Value* aud = find_member(claims, "aud");
  if (aud != nullptr && !is_string_or_string_array(*aud)) return Err(JwtError::kMalformed);

  // Every sum below stays within ±2 * kMaxNumericDate: no overflow whatever `now` is.
  if (*exp + leeway <= now) return Err(JwtError::kExpired);            // RFC 7519 §4.1.4
  if (nbf && *nbf - leeway > now) return Err(JwtError::kNotYetValid);  // §4.1.5
  if (iat && *iat - leeway > now) return Err(JwtError::kNotYetValid);  // issued in the future
  // RFC 8725 §3.10 asks for short-lived tokens; without iat the time left is the lifetime we see.
  const std::int64_t max_lifetime =
      std::clamp<std::int64_t>(policy.max_lifetime_seconds, 0, kMaxNumericDate);
  if (*exp - (iat ? *iat : now) > max_lifetime) return Err(JwtError::kLifetimeTooLong);
  if (!policy.issuer.empty() && (iss == nullptr || string_of(*iss) != policy.issuer)) {
    return Err(JwtError::kWrongIssuer);
  }
  if (!policy.audiences.empty() && (aud == nullptr || !audience_matches(*aud, policy.audiences))) {
    return Err(JwtError::kWrongAudience);  // §4.1.3
  }

  const Value* user = find_member(claims, policy.user_claim);
  if (user == nullptr || !user->IsString() || user->GetStringLength() == 0) {
    return Err(JwtError::kMissingUserClaim);
  }
  // An escaped NUL ("\u0000") inside a user id would let "alice\0x" read as "alice" to C code.
  if (string_of(*user).find('\0') != std::string_view::npos) return Err(JwtError::kMalformed);
  return VerifiedToken{std::string(string_of(*user)), *exp};
}

}  // namespace

std::string_view describe(JwtError e) {
  switch (e) {
    case JwtError::kMalformed:
      return "malformed token";
    case JwtError::kAlgNotAllowed:
      return "algorithm not allowed";
    case JwtError::kUnknownKid:
      return "no key for this token";
    case JwtError::kKeyAlgMismatch:
      return "key does not fit the token's algorithm";
    case JwtError::kBadSignature:
      return "signature does not verify";
    case JwtError::kMissingExp:
      return "token has no expiry";
    case JwtError::kExpired:
      return "token expired";
    case JwtError::kNotYetValid:
      return "token not yet valid";
    case JwtError::kWrongIssuer:
      return "wrong issuer";
    case JwtError::kWrongAudience:
      return "wrong audience";
    case JwtError::kMissingUserClaim:
      return "user claim missing";
    case JwtError::kCritUnsupported:
      return "unsupported critical header";
    case JwtError::kTypNotAllowed:
      return "token type not allowed";
    case JwtError::kPadded:
      return "padded base64url";
    case JwtError::kHighS:
      return "ECDSA signature not in low-S form";
    case JwtError::kB64Unsupported:
      return "unencoded payload (b64) not supported";
    case JwtError::kLifetimeTooLong:
      return "token lifetime too long";
    case JwtError::kWrongSigner:
      return "wrong ALB signer";
    case JwtError::kWrongClient:
      return "wrong ALB client";
  }
  return "token refused";
}

std::string_view label(JwtError e) {
  switch (e) {
    case JwtError::kMalformed:
      return "malformed_token";
    case JwtError::kAlgNotAllowed:
      return "alg_not_allowed";
    case JwtError::kUnknownKid:
      return "unknown_kid";
    case JwtError::kKeyAlgMismatch:
      return "key_alg_mismatch";
    case JwtError::kBadSignature:
      return "bad_signature";
    case JwtError::kMissingExp:
      return "missing_exp";
    case JwtError::kExpired:
      return "token_expired";
    case JwtError::kNotYetValid:
      return "token_not_yet_valid";
    case JwtError::kWrongIssuer:
      return "wrong_issuer";
    case JwtError::kWrongAudience:
      return "wrong_audience";
    case JwtError::kMissingUserClaim:
      return "missing_user_claim";
    case JwtError::kCritUnsupported:
      return "crit_unsupported";
    case JwtError::kTypNotAllowed:
      return "typ_not_allowed";
    case JwtError::kPadded:
      return "padded_base64url";
    case JwtError::kHighS:
      return "ecdsa_high_s";
    case JwtError::kB64Unsupported:
      return "b64_unsupported";
    case JwtError::kLifetimeTooLong:
      return "lifetime_too_long";
    case JwtError::kWrongSigner:
      return "alb_wrong_signer";
    case JwtError::kWrongClient:
      return "alb_wrong_client";
  }
  return "token_refused";
}

Result<VerifiedToken, JwtError> verify_jwt(std::string_view token, const KeySet& keys,
                                           const VerifyPolicy& policy, std::int64_t now) {
  const auto jws = split_compact(token);
  if (!jws) return Err(JwtError::kMalformed);
  if (!policy.allow_padding && token.find('=') != std::string_view::npos) {
    return Err(JwtError::kPadded);
  }
  const auto payload_json = crypto::base64url_decode(jws->payload);
  const auto signature = crypto::base64url_decode(jws->signature);
  rapidjson::Document header;
  if (!payload_json || !signature || !decode_object(jws->header, header)) {
    return Err(JwtError::kMalformed);
  }

  // The allowlist comes first: "none", and HS256 where no secret is configured, never reach key
  // selection (RFC 8725 §3.1).
  const Value* alg_v = find_member(header, "alg");
  if (alg_v == nullptr || !alg_v->IsString()) return Err(JwtError::kMalformed);
  const auto alg = parse_alg(string_of(*alg_v));
  if (!alg || std::find(policy.algorithms.begin(), policy.algorithms.end(), *alg) ==
                  policy.algorithms.end()) {
    return Err(JwtError::kAlgNotAllowed);
  }
  // We implement no extension, so any "crit" must be refused (RFC 7515 §4.1.11).
  if (find_member(header, "crit") != nullptr) return Err(JwtError::kCritUnsupported);
  // RFC 7797 §3: "b64" changes what is signed; whatever its value, we never verify that form.
  if (find_member(header, "b64") != nullptr) return Err(JwtError::kB64Unsupported);
  if (const Value* typ = find_member(header, "typ")) {
    if (!typ->IsString() || !type_allowed(string_of(*typ), policy.types)) {
      return Err(JwtError::kTypNotAllowed);
    }
  }
  const Value* kid_v = find_member(header, "kid");
  if (kid_v != nullptr && !kid_v->IsString()) return Err(JwtError::kMalformed);
  // "jku", "x5u", "jwk" and "x5c" are deliberately never read: keys come only from our config.

  auto candidates =
      candidate_keys(keys, kid_v ? std::optional(string_of(*kid_v)) : std::nullopt, *alg);
  if (!candidates) return Err(candidates.error());
  if (policy.ecdsa_low_s_only && (*alg == Alg::kES256 || *alg == Alg::kES384) &&
      ecdsa_high_s(*alg, *signature)) {
    return Err(JwtError::kHighS);
  }

  const bool verified = std::any_of(
      candidates->begin(), candidates->end(),
      [&](const PublicKey* k) { return verifies(*k, *alg, jws->signing_input, *signature); });
  if (!verified) return Err(JwtError::kBadSignature);

  if (policy.alb) {
    const auto leeway = std::clamp<std::int64_t>(policy.leeway_seconds, 0, kMaxNumericDate);
    if (const auto refused = check_alb_header(header, *policy.alb, leeway, now)) {
      return Err(*refused);
    }
  }

  // Claims are parsed only once the signature vouches for them.
  rapidjson::Document claims;
  if (!parse_object(*payload_json, claims)) return Err(JwtError::kMalformed);
  return check_claims(claims, policy, now);
}

std::optional<std::string> peek_kid(std::string_view token) {
  const auto jws = split_compact(token);
  rapidjson::Document header;
  if (!jws || !decode_object(jws->header, header)) return std::nullopt;
  const Value* kid = find_member(header, "kid");
  if (kid == nullptr || !kid->IsString()) return std::nullopt;
  return std::string(string_of(*kid));
}

}  // namespace credbroker::identity
