// Fuzzes the request-path and query codecs: http::percent_decode, http::parse_query and the
// routes' {server} segment (routes::server_segment, routes::decode_server_name), with the
// round-trip properties their callers rely on.

#include <cstdint>

#include "shared/http/url.h"
#include "shared/routes/common.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  for (const bool plus_as_space : {false, true}) {
    const auto decoded = http::percent_decode(text, plus_as_space);
    if (decoded) {
      fuzz::require(decoded->size() <= text.size(), "decoding never grows");
      fuzz::require(decoded->find('\0') == std::string::npos, "no NUL survives decoding");
      fuzz::require(http::percent_decode(http::percent_encode(*decoded)) == *decoded,
                    "percent_encode round-trips");
      fuzz::require(http::percent_decode(http::form_encode(*decoded), true) == *decoded,
                    "form_encode round-trips");
    }
  }

  const auto query = http::parse_query(text);
  if (query) {
    for (const auto& [name, value] : *query) {
      fuzz::require(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
                    "no NUL in query parameters");
    }
    fuzz::require(http::parse_query(http::build_query(*query)) == *query,
                  "build_query round-trips");
  }

  for (const std::string_view suffix : {"", "connect", "callback"}) {
    const auto segment = routes::server_segment(text, suffix);
    if (!segment) continue;
    fuzz::require(segment->find('/') == std::string_view::npos, "a segment has no '/'");
    const auto name = routes::decode_server_name(*segment);
    if (name) {
      fuzz::require(name->find('\0') == std::string::npos, "no NUL in a server name");
      fuzz::require(name->empty() || (name->front() != ' ' && name->back() != ' '),
                    "server names are trimmed");
    }
  }
  return 0;
}
