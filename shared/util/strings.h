#pragma once
// Small string helpers shared by every area.

#include <string>
#include <string_view>
#include <vector>

namespace credbroker {

std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
/** to_lower(a) < to_lower(b) (byte order, unsigned), without the copies. */
bool iless(std::string_view a, std::string_view b);
/** Strips ASCII whitespace (space, tab, CR, LF) from both ends. */
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
/** Whether `s` is non-empty and each byte an ASCII letter, an ASCII digit or one of `extra`. */
bool is_alnum_or(std::string_view s, std::string_view extra);
/** Compares two secrets in time independent of where they differ (lengths may leak). */
bool constant_time_equals(std::string_view a, std::string_view b);
/** Lower-case hex of bytes. */
std::string to_hex(std::string_view bytes);
/**
 * `s` with each byte that does not start a well-formed UTF-8 sequence (RFC 3629 §4: no overlong
 * forms, surrogates or code points above U+10FFFF) replaced by U+FFFD, so that text from outside
 * can go into JSON, which must be UTF-8 (RFC 8259 §8.1).
 */
std::string to_valid_utf8(std::string_view s);
/** Whether to_valid_utf8(s) == s, without building it. */
bool is_valid_utf8(std::string_view s);

}  // namespace credbroker
