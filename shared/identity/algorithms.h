#pragma once
// The JWS signature algorithms credbroker verifies (RFC 7518 §3, RFC 8037 for EdDSA), the one list
// of them: config validates "algorithms" against it, JWKS loading and verification use it. HS256
// is a kind of its own (the opt-in shared-secret mode, identity.hmac_secret_env): only a secret
// key verifies it and a secret key verifies nothing else, so a public-key verifier can never
// accept it (RFC 8725 §2.1, §3.1). HS384, HS512 and "none" are absent on purpose.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace credbroker::identity {

enum class Alg { kRS256, kRS384, kRS512, kPS256, kES256, kES384, kEdDSA, kHS256 };

/** Every public-key Alg, in the order messages list them. */
inline constexpr std::array<Alg, 7> kAlgorithms = {
    Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256, Alg::kES256, Alg::kES384, Alg::kEdDSA};

std::optional<Alg> parse_alg(std::string_view name);  // "RS256" → kRS256; unknown → nullopt
std::string_view alg_name(Alg alg);

/** Whether `alg` is the shared-secret algorithm (HS256), not a public-key one. */
bool is_hmac(Alg alg);

/** The shortest HS256 key accepted: as long as the hash output (RFC 7518 §3.2). */
inline constexpr std::size_t kMinHmacKeyBytes = 32;

/** What kind of key a PublicKey holds; decides which algorithms it can verify. kHmacSecret is
 *  the shared HS256 secret (identity.hmac_secret_env), never loaded from a JWKS or a PEM. */
enum class KeyType { kRsa, kEcP256, kEcP384, kEd25519, kHmacSecret };

/** Whether a key of `type` can verify `alg` (RFC 7518 §3.1, §3.2, RFC 8037 §3.1). */
bool type_fits(KeyType type, Alg alg);

}  // namespace credbroker::identity
