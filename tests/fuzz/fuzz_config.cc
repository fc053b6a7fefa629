// Fuzzes config parsing and validation (config::parse) with an empty environment: a config file
// is operator input, but a parser that crashes on a typo is a parser that fails at 3 a.m.

#include <cstdint>

#include "shared/config/config.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const config::EnvLookup no_env = [](std::string_view) { return std::optional<std::string>(); };
  const auto parsed = config::parse(text, no_env);
  if (parsed) {
    for (const auto* server : parsed->brokered()) {
      fuzz::require(server->auth_broker.has_value(), "brokered servers have an auth_broker");
      fuzz::require(parsed->find_brokered(server->name) != nullptr, "brokered servers are found");
    }
  } else {
    const auto& e = parsed.error();
    fuzz::require(!e.empty() && e.find('\n') == std::string::npos, "one-line error");
  }
  return 0;
}
