#pragma once
// The JWS signature algorithms credbroker verifies (RFC 7518 §3, RFC 8037 for EdDSA), the one list
// of them: config validates "algorithms" against it, JWKS loading and verification use it. HMAC
// and "none" are absent on purpose: a public-key verifier must never accept them.

#include <array>
#include <optional>
#include <string_view>

namespace credbroker::identity {

enum class Alg { kRS256, kRS384, kRS512, kPS256, kES256, kES384, kEdDSA };

/** Every Alg, in the order messages list them. */
inline constexpr std::array<Alg, 7> kAlgorithms = {
    Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256, Alg::kES256, Alg::kES384, Alg::kEdDSA};

std::optional<Alg> parse_alg(std::string_view name);  // "RS256" → kRS256; unknown → nullopt
std::string_view alg_name(Alg alg);

/** What kind of key a PublicKey holds; decides which algorithms it can verify. */
enum class KeyType { kRsa, kEcP256, kEcP384, kEd25519 };

/** Whether a key of `type` can verify `alg` (RFC 7518 §3.1, RFC 8037 §3.1). */
bool type_fits(KeyType type, Alg alg);

}  // namespace credbroker::identity
