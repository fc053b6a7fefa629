#pragma once
// The server-side scripts (EVAL) the stores run: each is one atomic step on one key (so on one
// Cluster slot). One home for their text; tests/support/fakes.cc implements the same semantics by
// matching this text, and tests/unit/fake_redis_test.cc holds the two to a real redis-server.

#include <string_view>

namespace credbroker::store::scripts {

// Compare-and-set of one hash field: KEYS[1] hash, ARGV[1] field, ARGV[2] expected value ("" =
// absent), ARGV[3] new value. Returns 1 when written, 0 when the field held something else, so a
// stale writer never overwrites a newer record.
inline constexpr std::string_view kPutIf =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if (cur == false and ARGV[2] == '') or cur == ARGV[2] then "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end "
    "return 0";

// Compare-and-delete of a lock: KEYS[1] lock, ARGV[1] owner token. Returns 1 when deleted. A GET
// then a DEL could remove a lock that expired in between and now belongs to another process.
inline constexpr std::string_view kRelease =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

// One counted attempt of a fixed-window rate limit: KEYS[1] the window's counter, ARGV[1] its TTL
// in seconds. Returns the count including this attempt. The TTL is set with the first increment
// in the same step, so no counter is ever left without one.
inline constexpr std::string_view kCountHit =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

}  // namespace credbroker::store::scripts
