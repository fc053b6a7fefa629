#include "shared/util/clock.h"

#include <algorithm>
#include <cstdio>

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
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return buf;
}

}  // namespace credbroker
