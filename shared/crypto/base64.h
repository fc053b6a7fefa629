#pragma once
// base64 (RFC 4648 §4) and base64url (RFC 4648 §5).

#include <optional>
#include <string>
#include <string_view>

namespace credbroker::crypto {

/** base64url without padding (as JWS and PKCE use it, RFC 7515 §2). */
std::string base64url_encode(std::string_view bytes);
/**
 * Decodes base64url. Trailing '=' padding is accepted (AWS ALB pads its JWT segments) but must be
 * correct; any other character, a bad length or non-zero trailing bits → nullopt.
 */
std::optional<std::string> base64url_decode(std::string_view text);

/** Standard base64 with padding. */
std::string base64_encode(std::string_view bytes);
/** Decodes standard base64 (padding required where needed); nullopt when malformed. */
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace credbroker::crypto
