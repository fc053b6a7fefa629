#include "shared/util/clock.h"

#include <algorithm>
#include <string>

namespace credbroker {

namespace {
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};
}  // namespace

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

std::string format_rfc3339(std::int64_t unix_seconds) {
  // RFC 3339 §5.6 has four-digit years only, so clamp to 0000-01-01T00:00:00Z ..
  // 9999-12-31T23:59:59Z (also keeps the arithmetic below in range for any input).
  constexpr std::int64_t kFirst = -62167219200;
  constexpr std::int64_t kLast = 253402300799;
  const std::chrono::sys_seconds t{std::chrono::seconds(std::clamp(unix_seconds, kFirst, kLast))};
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss time(t - day);
  // Digits written directly: snprintf cost more than the rest of a list entry.
  std::string out = "0000-00-00T00:00:00Z";
  const auto put = [&out](std::size_t at, unsigned value, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, static_cast<unsigned>(static_cast<int>(date.year())), 4);  // 0..9999 after the clamp
  put(5, static_cast<unsigned>(date.month()), 2);
  put(8, static_cast<unsigned>(date.day()), 2);
  put(11, static_cast<unsigned>(time.hours().count()), 2);
  put(14, static_cast<unsigned>(time.minutes().count()), 2);
  put(17, static_cast<unsigned>(time.seconds().count()), 2);
  return out;
}

}  // namespace credbroker
