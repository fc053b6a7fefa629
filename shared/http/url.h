#pragma once
// Percent-encoding and query strings (RFC 3986 §2.1, application/x-www-form-urlencoded).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credbroker::http {

/**
 * Decodes %XX escapes. Returns nullopt on a malformed escape ("%4", "%zz") or an encoded NUL.
 * With `plus_as_space`, '+' decodes to ' ' (form encoding).
 */
std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space = false);

/** Encodes every byte outside RFC 3986 "unreserved" as %XX (upper-case hex). */
std::string percent_encode(std::string_view in);

/** application/x-www-form-urlencoded for one name or value: like percent_encode, but ' ' → '+'. */
std::string form_encode(std::string_view in);

/**
 * Splits "a=1&b=2" into decoded pairs, in order; duplicates kept. Returns nullopt when any name or
 * value is malformed.
 */
std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q);

/** Builds "a=1&b=2" with form encoding of names and values. */
std::string build_query(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace credbroker::http
