#include "shared/crypto/pkce.h"

#include "shared/crypto/base64.h"
#include "shared/crypto/hash.h"

namespace credbroker::crypto {

std::string make_code_verifier(Random& random) {
  return base64url_encode(random.bytes(32));
}

std::string s256_challenge(std::string_view verifier) {
  return base64url_encode(sha256(verifier));
}

std::string make_state(Random& random) {
  return base64url_encode(random.bytes(32));
}

}  // namespace credbroker::crypto
