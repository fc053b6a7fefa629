#pragma once
// Walking the keyspace, for the admin tool (admin/): SCAN with MATCH on every primary. The store
// classes own the key formats and give glob patterns built from them; this file only escapes and
// iterates. Handlers never scan.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

/** `text` with Redis glob's special characters (* ? [ ] ^ \) backslash-escaped, so a pattern
 *  built from a key prefix or a user id matches that text literally. */
std::string glob_escape(std::string_view text);

/**
 * The nodes a scan must visit: every primary of the deployment. One Redis node (or a replicated
 * primary) is the only topology the client speaks today, so this is `redis` itself; a Cluster
 * client answers its primaries here and every scan follows.
 */
std::vector<Redis*> primaries(Redis& redis);

/**
 * SCAN 0 MATCH `pattern` COUNT `count` until the cursor is 0 again, on every primary, calling
 * `each` with every key returned (a key may come twice, as SCAN allows: callers are idempotent).
 * `each` returning false stops the walk. Any Redis failure ends it with that failure.
 */
Result<Unit, RedisFailure> scan_keys(Redis& redis, std::string_view pattern,
                                     const std::function<bool(const std::string& key)>& each,
                                     int count = 500);

}  // namespace credbroker::store
