// Fuzzes JWKS parsing (identity::parse_jwks, RFC 7517 §5) and, for inputs that look like PEM,
// identity::parse_pem_public_key: the two ways identity keys enter a handler.

#include <cstdint>

#include "shared/identity/jwks.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto jwks = identity::parse_jwks(text);
  if (jwks) {
    fuzz::require(!jwks->keys.empty(), "a parsed JWKS has a usable key");
    for (const auto& key : jwks->keys) fuzz::require(key.pkey != nullptr, "every key is loaded");
  } else {
    fuzz::require(!jwks.error().empty(), "a refused JWKS says why");
  }
  if (text.starts_with("-----")) {
    const auto pem = identity::parse_pem_public_key(text);
    if (pem) fuzz::require(pem->keys.size() == 1 && pem->keys[0].kid.empty(), "one kid-less key");
  }
  return 0;
}
