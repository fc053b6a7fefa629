#include "shared/crypto/hash.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "shared/util/strings.h"

namespace credbroker::crypto {

namespace {

// SHA-256 fetched from the default provider once per process: OpenSSL 3 documents explicit
// fetching as the fast path, where the one-shot SHA256() and EVP_sha256() fetch on every call.
// Never freed: it lives as long as the process, like OpenSSL's own store.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("SHA-256: OpenSSL has no implementation");
  return md;
}

}  // namespace

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, sha256_md(), nullptr) != 1 || len != 32) {
    throw std::runtime_error("SHA-256: OpenSSL call failed");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

}  // namespace credbroker::crypto
