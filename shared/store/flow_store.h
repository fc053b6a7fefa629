#pragma once
// Pending authorization-code flows between connect and callback, which may run in different
// processes or machines (docs/architecture.md "Data in Redis"):
//   <prefix>flow:<sha256hex(state)>  string, sealed flow, SET NX EX ttl, consumed by GETDEL
//   <prefix>flows:{<user>}           sorted set of that user's live flow ids by creation time
//                                    (the Redis server's TIME, microseconds), used to hold the
//                                    per-user cap (oldest dropped first)
// Redis stores only the state's hash; the state itself exists only in the browser's URL.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/credential_store.h"
#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

/** What connect leaves for callback. The verifier is a secret: it never leaves the store but to
 *  the token endpoint. */
struct PendingFlow {
  std::string user;
  std::string server_key;
  std::string verifier;
  std::string redirect_uri;
  std::string issuer;
  std::int64_t created_at = 0;
};

std::string encode_flow(const PendingFlow& flow);
std::optional<PendingFlow> decode_flow(std::string_view json);

struct FlowLimits {
  std::int64_t ttl_seconds = 600;
  std::int64_t max_per_user = 16;
};

class FlowStore {
 public:
  FlowStore(Redis& redis, const crypto::Keyring& keyring, std::string key_prefix,
            crypto::Random& random, audit::Log& log);

  bool enabled() const { return !keyring_.empty(); }

  /**
   * Stores `flow` under `state` with the TTL and drops the user's oldest other flows beyond the
   * cap, in one atomic server-side script (EVALSHA of scripts::kPutFlow; ordered by the Redis
   * server's clock). The record is sealed with associated data naming its own key, so it cannot
   * be replayed under another state. kUnavailable also when the state's key already exists.
   */
  Result<Unit, StoreError> put(std::string_view state, const PendingFlow& flow,
                               const FlowLimits& limits);

  /**
   * Atomically takes the flow for `state` (GETDEL): of racing callers exactly one gets it.
   * nullopt when absent, expired, already taken, or unopenable.
   */
  Result<std::optional<PendingFlow>, StoreError> take(std::string_view state);

  /** "<prefix>flow:<sha256hex(state)>" */
  std::string flow_key(std::string_view state) const;
  /** "<prefix>flows:{<user>}" */
  std::string index_key(std::string_view user) const;

 private:
  Redis& redis_;
  const crypto::Keyring& keyring_;
  std::string prefix_;
  crypto::Random& random_;
  audit::Log& log_;
};

}  // namespace credbroker::store
