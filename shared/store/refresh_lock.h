#pragma once
// A short lock per (user, server) so that across every process and machine one resolve renews a
// credential while the others wait for its result (docs/architecture.md "Refresh once"):
//   <prefix>u:{<tag>}:lock:<server key>   string, random owner token, SET NX PX ttl
// The key carries the user's hash tag, so it shares the Cluster slot of the user's credentials.
// It expires on its own when its owner dies; only its owner removes it (compare-and-delete).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/audit/log.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

class RefreshLock {
 public:
  RefreshLock(Redis& redis, crypto::Random& random, std::string key_prefix, audit::Log& log);

  /** One attempt (SET NX PX): the owner token when taken, nullopt while another holds it. */
  Result<std::optional<std::string>, StoreError> try_acquire(std::string_view user,
                                                             std::string_view server_key,
                                                             std::int64_t ttl_ms);
  /** Removes the lock only while `owner` still holds it (one server-side script); true when it
   *  did. A lock that expired and was taken by another stays theirs. */
  Result<bool, StoreError> release(std::string_view user, std::string_view server_key,
                                   std::string_view owner);
  /** Whether anyone holds the lock now. */
  Result<bool, StoreError> held(std::string_view user, std::string_view server_key);

  /** "<prefix>u:{<user_tag(user)>}:lock:<server key>" */
  std::string lock_key(std::string_view user, std::string_view server_key) const;
  /** A SCAN MATCH pattern for every lock of `user` (admin purge-user). */
  std::string user_pattern(std::string_view user) const;

 private:
  Err<StoreError> unavailable(std::string_view op, const RedisFailure& failure);

  Redis& redis_;
  crypto::Random& random_;
  std::string prefix_;
  audit::Log& log_;
};

}  // namespace credbroker::store
