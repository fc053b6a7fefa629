#pragma once
// Helpers shared by the libFuzzer targets: reading the fuzzer's bytes as choices and strings, and
// checking the properties each target asserts beyond "does not crash".

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace credbroker::fuzz {

/** The fuzzer's input, consumed front to back. */
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  /** The next byte (0 when none is left). */
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  /** Up to the next `sep` (consumed, not returned), or everything left. */
  std::string_view until(char sep) {
    const auto at = rest_.find(sep);
    const std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

/** A property the code under test promises; breaking it is a finding like a crash. */
inline void require(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "fuzz: property broken: %s\n", property);
    std::abort();
  }
}

}  // namespace credbroker::fuzz
