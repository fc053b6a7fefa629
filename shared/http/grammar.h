#pragma once
// HTTP's character classes (RFC 9110), the one home of each: config checks header names with
// them, the Lambda event codec checks what a front handed over, the outbound client what it sends.

#include <string_view>

namespace credbroker::http {

/** RFC 9110 §5.6.2 token (a method, a header name): 1*tchar. */
bool is_token(std::string_view s);

/** A header value that cannot end its line early: no CR, LF or NUL (RFC 9110 §5.5). */
bool is_field_value(std::string_view s);

}  // namespace credbroker::http
