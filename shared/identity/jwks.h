#pragma once
// Verification keys: published public keys (a JWKS document, a PEM file) turned into EVP_PKEYs,
// refusing anything we would not verify with. Pure: bytes in, keys out (key_source.h fetches).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/identity/algorithms.h"
#include "shared/util/result.h"

struct evp_pkey_st;  // OpenSSL EVP_PKEY, kept out of callers' sight.

namespace credbroker::identity {

/** One verification key: a public key, or (type kHmacSecret) the shared HS256 secret. */
struct PublicKey {
  std::string kid;         // empty for a key from a PEM file
  std::optional<Alg> alg;  // the JWK's "alg", when it names one: then only that algorithm
  KeyType type;
  std::shared_ptr<evp_pkey_st> pkey;          // every type but kHmacSecret
  std::shared_ptr<const std::string> secret;  // kHmacSecret only: the key bytes, wiped when freed
};

struct KeySet {
  std::vector<PublicKey> keys;
};

/**
 * Parses a JWKS document (RFC 7517 §5). Keys with "use" other than "sig", unsupported "kty"/"crv",
 * RSA moduli under 2048 bits, or private parts are skipped; a document that is not a JWKS, or that
 * yields no usable key, is an error with a message naming the problem (never key material).
 */
Result<KeySet, std::string> parse_jwks(std::string_view json);

/** Loads one PEM "PUBLIC KEY" (RSA ≥ 2048 bits, EC P-256/P-384 or Ed25519); kid is empty. */
Result<KeySet, std::string> parse_pem_public_key(std::string_view pem);

/** The HS256 key set of identity.hmac_secret_env: the one secret key (kid empty, alg HS256), at
 *  least 32 bytes (RFC 7518 §3.2). The error never holds key material. */
Result<KeySet, std::string> hmac_key_set(std::string_view secret);

}  // namespace credbroker::identity
