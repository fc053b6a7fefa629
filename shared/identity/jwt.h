#pragma once
// JWT (RFC 7519) in JWS compact form (RFC 7515): parsing and signature verification with OpenSSL 3
// EVP. Pure: takes the keys, the policy and "now"; does no I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/identity/algorithms.h"
#include "shared/identity/jwks.h"
#include "shared/util/result.h"

namespace credbroker::identity {

/** AWS ALB (x-amzn-oidc-data): its regional keys sign for every AWS account, so a token is ours
 *  only if its header's "signer" is our load balancer's ARN (and "client" our app client). */
struct AlbBinding {
  std::vector<std::string> signer_arns;  // header "signer" must equal one exactly
  std::vector<std::string> client_ids;   // header "client" must equal one (when non-empty)
};

/** What a token must satisfy besides its signature. */
struct VerifyPolicy {
  std::vector<Alg> algorithms;         // allowlist; the token's "alg" must be in it
  std::string issuer;                  // "iss" must equal it (when non-empty)
  std::vector<std::string> audiences;  // "aud" (string or array) must contain one (when non-empty)
  std::string user_claim = "sub";      // string claim that names the user
  std::int64_t leeway_seconds = 60;    // for exp, nbf and iat
  // Header "typ" values accepted besides none at all, compared case-insensitively with an
  // "application/" prefix ignored (RFC 7515 §4.1.9, RFC 8725 §3.11, RFC 9068 §2.1).
  std::vector<std::string> types = {"JWT", "at+jwt"};
  // Longest exp - iat (exp - now without iat) accepted: a stolen token is not good for a year.
  std::int64_t max_lifetime_seconds = 24 * 3600;
  // ECDSA signatures must have S <= n/2: the other half is the same signature re-spelled
  // (malleability), and a verifier that takes both lets one token have two byte forms.
  bool ecdsa_low_s_only = true;
  // base64url '=' padding in the segments: refused (RFC 7515 §2 omits it) unless an ALB sends it.
  bool allow_padding = false;
  // ALB mode: the header's signer, client and exp are checked (an ALB token carries no "aud", so
  // leave `audiences` empty); set allow_padding with it.
  std::optional<AlbBinding> alb;
};

struct VerifiedToken {
  std::string user;         // value of policy.user_claim
  std::int64_t expires_at;  // "exp"
};

/** Why a token was refused. Each value is a fixed reason safe to log (no token contents). */
enum class JwtError {
  kMalformed,         // not three base64url segments of JSON objects, or bad claim types
  kAlgNotAllowed,     // "none", HS384/HS512, unknown, or not in the policy's allowlist
  kUnknownKid,        // no key with this kid (or, without kid, no key that fits the alg)
  kKeyAlgMismatch,    // the key's type or JWK "alg" cannot verify this alg
  kBadSignature,      // signature does not verify
  kMissingExp,        // "exp" absent: we require it
  kExpired,           // exp + leeway <= now
  kNotYetValid,       // nbf - leeway > now (or iat in the future beyond leeway)
  kWrongIssuer,       // iss != policy.issuer
  kWrongAudience,     // aud does not contain any configured audience
  kMissingUserClaim,  // user claim absent, not a string, or empty
  kCritUnsupported,   // a "crit" header parameter we do not understand (RFC 7515 §4.1.11)
  kTypNotAllowed,     // header "typ" present and not one of policy.types (RFC 8725 §3.11)
  kPadded,            // '=' padding in a segment outside the ALB mode (RFC 7515 §2)
  kHighS,             // ECDSA S above n/2: a malleated twin of a valid signature
  kB64Unsupported,    // header "b64" (RFC 7797 unencoded payload): never accepted
  kLifetimeTooLong,   // exp - iat (or exp - now) beyond policy.max_lifetime_seconds
  kWrongSigner,       // ALB mode: header "signer" is not a configured load balancer ARN
  kWrongClient,       // ALB mode: header "client" is not a configured client id
};

/** English for people ("token expired"). */
std::string_view describe(JwtError e);
/** The snake_case label logs carry as "reason" ("expired"); one per value, never changing. */
std::string_view label(JwtError e);

/**
 * Verifies `token` against `keys` and `policy` at time `now` (Unix seconds).
 * The algorithm used is the token's "alg" only after it passed the allowlist AND fits the chosen
 * key's type and JWK alg; "jku", "x5u", "jwk" and "x5c" header parameters are ignored, never
 * fetched. A token's kid selects the keys carrying it; when no key does, keys without a kid (a PEM
 * file's) are tried, so a single configured key verifies kid-bearing tokens (AWS ALB).
 */
Result<VerifiedToken, JwtError> verify_jwt(std::string_view token, const KeySet& keys,
                                           const VerifyPolicy& policy, std::int64_t now);

/** The "kid" of a token's header, if it parses; used to decide whether to refresh a JWKS. */
std::optional<std::string> peek_kid(std::string_view token);

}  // namespace credbroker::identity
