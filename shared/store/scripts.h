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

// Pending flows (shared/store/flow_store.cc), run by EVALSHA (shared/store/script.h). The flow keys
// and the index share the user's hash tag (shared/store/user_keys.h), so each script touches one
// Cluster slot; kPutFlow also deletes the flows it drops, whose keys it builds from ARGV[5] and the
// index's members (same tag, so same slot).
// Stores one flow and holds the user's cap in one atomic step: KEYS[1] the flow key, KEYS[2] the
// user's index; ARGV[1] the sealed flow, ARGV[2] the TTL in seconds, ARGV[3] the cap, ARGV[4] the
// flow's id (its index member), ARGV[5] the flow keys' prefix (prefix .. id = a flow key). Returns
// -1 when the flow key exists (nothing written), else how many older flows it dropped. Ordered by
// the server's TIME, so hosts whose clocks disagree cannot reorder flows; the flow just stored is
// never dropped (on equal microseconds Redis orders by member, hence the skip). A script is not
// undone by an error half-way, so the index's type is checked before anything is written.
inline constexpr std::string_view kPutFlow =
    "local kind = redis.call('TYPE', KEYS[2]).ok "
    "if kind ~= 'none' and kind ~= 'zset' then "
    "return redis.error_reply('WRONGTYPE the flow index is not a sorted set') end "
    "if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return -1 end "
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local ttl = tonumber(ARGV[2]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - ttl * 1000000)) "
    "redis.call('ZADD', KEYS[2], string.format('%d', now), ARGV[4]) "
    "local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]) "
    "local dropped = 0 "
    "if excess > 0 then "
    "for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess)) do "
    "if dropped < excess and m ~= ARGV[4] then "
    "redis.call('ZREM', KEYS[2], m) redis.call('DEL', ARGV[5] .. m) dropped = dropped + 1 "
    "end end end "
    "redis.call('EXPIRE', KEYS[2], ARGV[2]) "
    "return dropped";

// Takes one flow: KEYS[1] the flow key, KEYS[2] the user's index, ARGV[1] the flow's id. GETDEL
// of the flow and ZREM of its index entry in one step; returns the sealed flow, or nil.
inline constexpr std::string_view kTakeFlow =
    "local v = redis.call('GETDEL', KEYS[1]) "
    "redis.call('ZREM', KEYS[2], ARGV[1]) "
    "return v";

}  // namespace credbroker::store::scripts
