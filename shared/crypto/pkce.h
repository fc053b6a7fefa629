#pragma once
// PKCE (RFC 7636) and the flow's state value.

#include <string>
#include <string_view>

#include "shared/crypto/random.h"

namespace credbroker::crypto {

/** 32 random bytes, base64url: 43 characters of the RFC 7636 §4.1 verifier alphabet. */
std::string make_code_verifier(Random& random);
/** S256 challenge: base64url(SHA-256(verifier)) (RFC 7636 §4.2). */
std::string s256_challenge(std::string_view verifier);
/** The state handed to the browser: 32 random bytes, base64url. */
std::string make_state(Random& random);

}  // namespace credbroker::crypto
