#pragma once
// Mints signed JWTs for tests, the integration suite and `credbroker-devtoken`: key generation,
// PEM/JWKS export, and signing of raw header/payload JSON, so tests can craft anything a hostile
// client might send (duplicate members, odd headers, HMAC-with-public-key confusion).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/identity/jwt.h"

namespace credbroker::testing {

/** A private key plus the kid and algorithm it signs with. */
struct SigningKey {
  std::shared_ptr<evp_pkey_st> pkey;
  std::string kid;  // empty: no "kid" in the header or JWK
  identity::Alg alg;
};

/** A fresh key for `alg` (RSA of `rsa_bits` bits for RS256/RS384/RS512/PS256, else the
 *  alg's curve). Throws on failure. */
SigningKey generate_key(identity::Alg alg, std::string kid, int rsa_bits = 2048);

/** PKCS#8 PEM of the private key. */
std::string private_key_pem(const SigningKey& key);
/** Loads a private key PEM; throws std::runtime_error when it is not one. */
SigningKey load_private_key_pem(std::string_view pem, std::string kid, identity::Alg alg);
SigningKey load_private_key_file(const std::string& path, std::string kid, identity::Alg alg);

/** SubjectPublicKeyInfo as PEM ("PUBLIC KEY") and as DER bytes. */
std::string public_key_pem(const SigningKey& key);
std::string public_key_der(const SigningKey& key);

/** The public JWK of `key` as a JSON object: kty, crv/x/y or n/e, use "sig", kid and alg. */
std::string jwk_json(const SigningKey& key, bool with_alg = true);
/** {"keys":[jwk_json(k)...]} */
std::string jwks_json(const std::vector<SigningKey>& keys);

/** The JWS signature bytes over `signing_input` with the key's alg (raw R‖S for ECDSA, low-S). */
std::string raw_signature(const SigningKey& key, std::string_view signing_input);

/** The same ECDSA signature (raw R‖S) in its high-S form R ‖ n - S: still valid to OpenSSL. */
std::string high_s(std::string_view raw_ecdsa);

/**
 * A compact JWS of exactly these header and payload bytes, signed with `key` whatever the header's
 * "alg" says. `padded`: base64url with '=' padding, as AWS ALB sends it.
 */
std::string sign(const SigningKey& key, std::string_view header_json, std::string_view payload_json,
                 bool padded = false);

/** A compact JWS with an HMAC-SHA-256 signature keyed with `secret`. */
std::string hs256(std::string_view secret, std::string_view header_json,
                  std::string_view payload_json);

/** {"alg":<key alg>,"typ":"JWT"[,"kid":<kid>]} */
std::string default_header(const SigningKey& key);

/** `s` as a JSON string literal. */
std::string json_string(std::string_view s);

/** Claims with named setters; members keep their first-set order, a later set replaces. */
class Claims {
 public:
  Claims& sub(std::string_view v) { return claim_string("sub", v); }
  Claims& iss(std::string_view v) { return claim_string("iss", v); }
  Claims& aud(std::string_view v) { return claim_string("aud", v); }
  Claims& aud(const std::vector<std::string>& v);
  Claims& exp(std::int64_t t) { return claim_raw("exp", std::to_string(t)); }
  Claims& nbf(std::int64_t t) { return claim_raw("nbf", std::to_string(t)); }
  Claims& iat(std::int64_t t) { return claim_raw("iat", std::to_string(t)); }
  Claims& claim_string(std::string_view name, std::string_view value);
  /** `json` is inserted verbatim (a number, an array, "1e300", ...). */
  Claims& claim_raw(std::string_view name, std::string_view json);
  Claims& remove(std::string_view name);

  std::string json() const;

 private:
  std::vector<std::pair<std::string, std::string>> members_;  // name, raw JSON value
};

/** sign(key, default_header(key), claims.json(), padded) */
std::string mint(const SigningKey& key, const Claims& claims, bool padded = false);

}  // namespace credbroker::testing
