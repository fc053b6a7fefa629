#pragma once
// Wall-clock time behind an interface, so tests pin it.

#include <chrono>
#include <cstdint>
#include <string>

namespace credbroker {

/** The source of "now" for every time-dependent rule (token expiry, record timestamps). */
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  std::int64_t now_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
};

/** The real clock. */
Clock& system_clock();

/** A clock that reads what the test set. */
class FixedClock final : public Clock {
 public:
  explicit FixedClock(std::int64_t seconds) : t_(std::chrono::seconds(seconds)) {}
  std::chrono::system_clock::time_point now() const override { return t_; }
  void set(std::int64_t seconds) {
    t_ = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  }
  void advance(std::int64_t seconds) { t_ += std::chrono::seconds(seconds); }

 private:
  std::chrono::system_clock::time_point t_;
};

/**
 * "2026-11-30T11:08:27Z" for a Unix time, UTC, seconds precision (RFC 3339). Times outside the
 * years 0000..9999, which RFC 3339 cannot write, are clamped to the nearest end of that range.
 */
std::string format_rfc3339(std::int64_t unix_seconds);

}  // namespace credbroker
