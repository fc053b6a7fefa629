#pragma once
// One-time migration of data written before the per-user hash tags (shared/store/user_keys.h):
// credentials move from "<prefix>cred:{<user>}" to "<prefix>u:{<tag>}:cred:<user>" (README.md
// "Upgrading"; `credbroker-admin migrate-keys`). Pending flows, refresh locks and rate counters
// under the old names are short-lived and left to expire. For credbroker-admin; nothing in the
// handlers calls it.

#include <cstdint>
#include <string_view>

#include "shared/audit/log.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

struct MigrationReport {
  std::int64_t users = 0;       // old credential hashes moved (and deleted)
  std::int64_t records = 0;     // fields copied to the new hashes
  std::int64_t kept_newer = 0;  // fields left out because the new hash already held one
};

/**
 * Moves every old credential hash under `prefix` to its new key, field by field (HSETNX, so a
 * record written under the new layout meanwhile wins), then deletes the old hash. Sealed records
 * are bound to user and server key, not to the key name, so they open unchanged. Safe to run
 * again (a second run finds nothing) and to interrupt (a rerun finishes). Run it once every
 * handler runs the new layout: an old handler would write under the old key again.
 */
Result<MigrationReport, StoreError> migrate_legacy_credentials(Redis& redis,
                                                               std::string_view prefix,
                                                               audit::Log& log);

}  // namespace credbroker::store
