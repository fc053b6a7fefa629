#include "shared/store/refresh_lock.h"

#include "shared/crypto/base64.h"
#include "shared/store/keyspace.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"

namespace credbroker::store {

namespace {}  // namespace

RefreshLock::RefreshLock(Redis& redis, crypto::Random& random, std::string key_prefix,
                         audit::Log& log)
    : redis_(redis), random_(random), prefix_(std::move(key_prefix)), log_(log) {}

std::string RefreshLock::lock_key(std::string_view user, std::string_view server_key) const {
  return user_key(prefix_, user, "lock:" + std::string(server_key));
}

std::string RefreshLock::user_pattern(std::string_view user) const {
  return glob_escape(lock_key(user, "")) + "*";
}

Result<std::optional<std::string>, StoreError> RefreshLock::try_acquire(std::string_view user,
                                                                        std::string_view server_key,
                                                                        std::int64_t ttl_ms) {
  std::string owner = crypto::base64url_encode(random_.bytes(16));
  auto reply = redis_.command(
      {"SET", lock_key(user, server_key), owner, "NX", "PX", std::to_string(ttl_ms)});
  if (!reply) return unavailable("lock", reply.error());
  if (reply->type == Reply::Type::kNil) return std::optional<std::string>();
  if (reply->type != Reply::Type::kStatus) {
    return unavailable("lock", {RedisError::kRejected, "unexpected reply to SET"});
  }
  return std::optional<std::string>(std::move(owner));
}

// model: refresh.compare_and_delete
Result<bool, StoreError> RefreshLock::release(std::string_view user, std::string_view server_key,
                                              std::string_view owner) {
  static const Script kReleaseScript(scripts::kRelease);
  auto reply = kReleaseScript.run(redis_, {lock_key(user, server_key)}, {std::string(owner)});
  if (!reply) return unavailable("unlock", reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return unavailable("unlock", {RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  return reply->integer == 1;
}

Result<bool, StoreError> RefreshLock::held(std::string_view user, std::string_view server_key) {
  auto reply = redis_.command({"EXISTS", lock_key(user, server_key)});
  if (!reply) return unavailable("lock_held", reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return unavailable("lock_held", {RedisError::kRejected, "unexpected reply to EXISTS"});
  }
  return reply->integer == 1;
}

Err<StoreError> RefreshLock::unavailable(std::string_view op, const RedisFailure& failure) {
  log_.warn("redis_unavailable",
            {{"op", op}, {"kind", label(failure.kind)}, {"detail", failure.detail}});
  return Err(StoreError::kUnavailable);
}

}  // namespace credbroker::store
