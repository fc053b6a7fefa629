#include "shared/store/rate_limiter.h"

#include "shared/store/keyspace.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"

namespace credbroker::store {

RateLimiter::RateLimiter(Redis& redis, std::string key_prefix, audit::Log& log)
    : redis_(redis), prefix_(std::move(key_prefix)), log_(log) {}

std::string RateLimiter::key(std::string_view user, std::string_view action,
                             std::int64_t window_start) const {
  std::string rest = "rate:";
  rest.append(action).push_back(':');
  rest += std::to_string(window_start);
  return user_key(prefix_, user, rest);
}

std::string RateLimiter::user_pattern(std::string_view user) const {
  // key() with an empty action and window 0: "<prefix>rate:{<user>}::0"; up to the user's
  // closing "}:" it is literal, the rest a wildcard.
  const std::string any = key(user, "", 0);
  return glob_escape(any.substr(0, any.size() - 2)) + "*";
}

Result<RateDecision, StoreError> RateLimiter::hit(std::string_view user, std::string_view action,
                                                  std::int64_t limit, std::int64_t now) {
  const std::int64_t window_start =
      now - ((now % kWindowSeconds) + kWindowSeconds) % kWindowSeconds;
  // The TTL runs from the first hit, so the key outlives its window (by less than one window)
  // whichever host's clock started it.
  static const Script kCount(scripts::kCountHit);
  auto reply =
      kCount.run(redis_, {key(user, action, window_start)}, {std::to_string(kWindowSeconds)});
  if (!reply || reply->type != Reply::Type::kInteger) {
    log_.warn("redis_unavailable",
              {{"op", std::string_view("rate_limit")},
               {"detail", reply ? std::string_view("unexpected reply to EVALSHA")
                                : std::string_view(reply.error().detail)}});
    return Err{StoreError::kUnavailable};
  }
  if (reply->integer <= limit) return RateDecision{};
  return RateDecision{.allowed = false, .retry_after_seconds = window_start + kWindowSeconds - now};
}

}  // namespace credbroker::store
