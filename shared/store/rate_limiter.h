#pragma once
// Per-user rate limits (issue #11 item 6): a fixed one-minute window per (user, action),
//   <prefix>u:{<tag>}:rate:<action>:<window start>   string, a counter, INCR + EXPIRE 60
// The key carries the user's hash tag, so it shares the Cluster slot of the user's other keys,
// and the window's start, so a key never needs resetting: the next window is another key, and
// each key expires once its window is over.

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/audit/log.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

/** What one counted attempt may do. */
struct RateDecision {
  bool allowed = true;
  /** When refused: whole seconds until the window ends (1 to RateLimiter::kWindowSeconds). */
  std::int64_t retry_after_seconds = 0;
};

class RateLimiter {
 public:
  /** Windows start at multiples of this many seconds since the epoch. */
  static constexpr std::int64_t kWindowSeconds = 60;

  RateLimiter(Redis& redis, std::string key_prefix, audit::Log& log);

  /** Counts one `action` by `user` at `now` (seconds) in one atomic step; allowed while the
   *  window's count is at most `limit`. A refused attempt is counted too (it was attempted). */
  Result<RateDecision, StoreError> hit(std::string_view user, std::string_view action,
                                       std::int64_t limit, std::int64_t now);

  /** "<prefix>u:{<user_tag(user)>}:rate:<action>:<window start>" */
  std::string key(std::string_view user, std::string_view action, std::int64_t window_start) const;
  /** A SCAN MATCH pattern for every counter of `user` (admin purge-user). */
  std::string user_pattern(std::string_view user) const;

 private:
  Redis& redis_;
  std::string prefix_;
  audit::Log& log_;
};

}  // namespace credbroker::store
