#pragma once
// Randomness behind an interface so tests can pin it.

#include <cstddef>
#include <string>

namespace credbroker::crypto {

/** Source of cryptographically strong random bytes. */
class Random {
 public:
  virtual ~Random() = default;
  /** `n` random bytes. Aborts the process if the system CSPRNG fails (nothing safe to do). */
  virtual std::string bytes(std::size_t n) = 0;
};

/** OpenSSL RAND_bytes. */
Random& system_random();

}  // namespace credbroker::crypto
