#pragma once
// Digests used for keys and PKCE.

#include <string>
#include <string_view>

namespace credbroker::crypto {

/** SHA-256 of `data`, 32 raw bytes. */
std::string sha256(std::string_view data);
/** SHA-256 of `data`, 64 lower-case hex digits. */
std::string sha256_hex(std::string_view data);

}  // namespace credbroker::crypto
