// Fuzzes token endpoint response parsing (oauth::parse_token_response, RFC 6749 §5.1/§5.2): the
// body an upstream authorization server controls, as JSON and as form encoding. The first byte
// picks the Content-Type the body arrives with.

#include <cstdint>
#include <iterator>

#include "shared/oauth/token_client.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

namespace {

constexpr std::string_view kContentTypes[] = {
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded;charset=UTF-8",
    "text/plain",
    "text/html",
    "",
};

constexpr std::string_view kKnownErrors[] = {"",
                                             "invalid_request",
                                             "invalid_client",
                                             "invalid_grant",
                                             "unauthorized_client",
                                             "unsupported_grant_type",
                                             "invalid_scope"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const auto type = kContentTypes[in.byte() % std::size(kContentTypes)];
  const auto parsed = oauth::parse_token_response(type, in.rest());
  if (parsed) {
    fuzz::require(!parsed->access_token.empty(), "a token response has an access token");
    if (parsed->expires_in) {
      fuzz::require(*parsed->expires_in >= 0 && *parsed->expires_in <= 10LL * 365 * 24 * 3600,
                    "expires_in within ten years");
    }
  } else {
    // Only RFC 6749's fixed codes may reach a log line; anything else the AS says is dropped.
    const auto& e = parsed.error().oauth_error;
    bool known = false;
    for (auto k : kKnownErrors) known = known || e == k;
    fuzz::require(known, "only RFC 6749 error codes are kept");
    fuzz::require(!oauth::label(parsed.error()).empty(), "every failure has a label");
  }
  return 0;
}
