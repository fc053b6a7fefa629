#pragma once
// Pending authorization-code flows between connect and callback, which may run in different
// processes or machines (docs/architecture.md "Data in Redis"), under the user's hash tag
// (shared/store/user_keys.h):
//   <prefix>u:{<tag>}:flow:<sha256hex(state)>  string, sealed flow, consumed by GETDEL
//   <prefix>u:{<tag>}:flows                    sorted set of that user's live flow ids by creation
//                                              time (the Redis server's TIME, microseconds), used
//                                              to hold the per-user cap (oldest dropped first)
// The state is "<random>.<sealed tag>" (new_state): the callback finds the flow's keys from the
// state alone, and the state reveals nothing of the user (not even that two states share one).
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
   * be replayed under another state. kUnavailable also when the state's key already exists, or
   * when `state` is not one new_state(flow.user) made.
   */
  Result<Unit, StoreError> put(std::string_view state, const PendingFlow& flow,
                               const FlowLimits& limits);

  /**
   * Atomically takes the flow for `state` and its index entry (one script: GETDEL, ZREM): of
   * racing callers exactly one gets it. nullopt when absent, expired, already taken, unopenable,
   * or when the state's tag does not open (then without asking Redis).
   */
  Result<std::optional<PendingFlow>, StoreError> take(std::string_view state);

  /**
   * A fresh state for a flow of `user`: 256 random bits, base64url, then '.' and the user's tag
   * (user_tag) sealed with the keyring under associated data naming the random part. Precondition:
   * enabled().
   */
  std::string new_state(std::string_view user);

  /** "<prefix>u:{<tag>}:flow:<sha256hex(state)>"; for a state without a tag (one handed out
   *  before the tags) the old "<prefix>flow:<sha256hex(state)>". */
  std::string flow_key(std::string_view state) const;
  /** "<prefix>u:{<tag>}:flows" */
  std::string index_key(std::string_view user) const;

  /** Off-boarding (admin purge-user): removes every pending flow in `user`'s index and the
   *  index itself; the number of flows removed. */
  Result<std::int64_t, StoreError> purge_user(std::string_view user);

 private:
  /** The user tag sealed in `state`, or nullopt (no tag, or it does not open). */
  std::optional<std::string> tag_of(std::string_view state) const;
  std::string legacy_flow_key(std::string_view state) const;

  Redis& redis_;
  const crypto::Keyring& keyring_;
  std::string prefix_;
  crypto::Random& random_;
  audit::Log& log_;
};

}  // namespace credbroker::store
