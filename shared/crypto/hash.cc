#include "shared/crypto/hash.h"

#include <openssl/sha.h>

#include "shared/util/strings.h"

namespace credbroker::crypto {

std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace credbroker::crypto
