#include "shared/http/grammar.h"

#include "shared/util/strings.h"

namespace credbroker::http {

bool is_token(std::string_view s) {
  return is_alnum_or(s, "!#$%&'*+-.^_`|~");
}

bool is_field_value(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace credbroker::http
