#pragma once
// The server-side scripts (EVAL) the stores run: each is one atomic step on one key, or on two
// keys of one user that share the "{<user>}" hash tag (so on one Cluster slot). One home for their
// text; tests/support/fakes/fakes.cc implements the same semantics by matching this text, and
// tests/unit/fake_redis_test.cc holds the two to a real redis-server.

#include <string_view>

namespace credbroker::store::scripts {

// The credential scripts. KEYS[1] is the user's credential hash, KEYS[2] the user's generation
// hash (same hash tag, so one slot); both are keyed by server key. A generation is absent (= "0")
// until the first delete of that server's record, which bumps it; a record sealed under an older
// generation does not open (docs/architecture.md "Data in Redis", freshness).

// One record and its generation: ARGV[1] field. Returns {record or nil, generation or nil}.
inline constexpr std::string_view kLoadCredential =
    "return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HGET', KEYS[2], ARGV[1])}";

// Every record of the user and every generation: {HGETALL of KEYS[1], HGETALL of KEYS[2]}.
inline constexpr std::string_view kLoadCredentials =
    "return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}";

// A write sealed under generation ARGV[2] (decimal): ARGV[1] field, ARGV[3] new value. Returns 1
// when written, 0 when the generation moved (a delete ran since it was read): nothing written.
inline constexpr std::string_view kPutCredential =
    "if (redis.call('HGET', KEYS[2], ARGV[1]) or '0') ~= ARGV[2] then return 0 end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1";

// Compare-and-set of one record: ARGV[1] field, ARGV[2] expected value ("" = absent), ARGV[3]
// expected generation, ARGV[4] new value. Returns 1 when written, 0 when the field held something
// else or the generation moved, so neither a stale writer nor one that raced a delete (even if
// the old value was put back since) writes.
inline constexpr std::string_view kPutIf =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if (redis.call('HGET', KEYS[2], ARGV[1]) or '0') == ARGV[3] and "
    "((cur == false and ARGV[2] == '') or cur == ARGV[2]) then "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) return 1 end "
    "return 0";

// Delete of one record: ARGV[1] field. When a record was removed, its generation is bumped in the
// same step; returns the new generation, or 0 when there was nothing to remove. HDEL runs first:
// Redis refuses a script's memory-growing command when out of memory only if the script has not
// written yet, so a delete still completes, bump included, on a full Redis.
inline constexpr std::string_view kRemoveCredential =
    "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end "
    "return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)";

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
