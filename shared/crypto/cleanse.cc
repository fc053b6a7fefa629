#include "shared/crypto/cleanse.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace credbroker::crypto {

void cleanse(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void scrub_env(const char* name) noexcept {
  const std::size_t name_length = std::strlen(name);
  // Every copy: a variable may be in the block more than once (getenv() sees the first only).
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    char* const text = *entry;
    if (std::strncmp(text, name, name_length) == 0 && text[name_length] == '=') {
      char* const value = text + name_length + 1;
      OPENSSL_cleanse(value, std::strlen(value));
    }
  }
  ::unsetenv(name);
}

}  // namespace credbroker::crypto
