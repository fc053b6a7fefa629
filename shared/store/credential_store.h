#pragma once
// Per-user credentials in Redis: one hash per user, key "<prefix>u:{<tag>}:cred" (the user's hash
// tag, shared/store/user_keys.h, keeps a user's data in one Cluster slot), field = server key,
// value = sealed credential record.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

/** What we keep for one user and one upstream. Tokens never leave this struct except upstream. */
struct Credential {
  std::string type = "oauth2";
  std::string access_token;
  std::string refresh_token;
  std::string token_type = "Bearer";
  std::int64_t expires_at = 0;  // Unix seconds; 0 = no expiry known
  std::vector<std::string> scopes;
  std::string audience;
  std::string obtained_via;  // "connect_flow", "token_exchange", "entra_obo"
  std::int64_t updated_at = 0;
  // The upstream refused the refresh token (invalid_grant): tokens are gone, only a new connect
  // brings the credential back.
  bool reconnect_required = false;

  // Every copy clears its tokens when it goes (cleanse() below). Declaring it leaves the struct an
  // aggregate but makes a move a copy: both copies are then cleansed, which is the point.
  ~Credential();
};

/** Overwrites and empties the tokens (crypto::cleanse); the rest of the record stays. */
void cleanse(Credential& credential) noexcept;

/**
 * A record as it is in Redis right now. `version` is the sealed value itself: every seal has a
 * fresh random nonce, so any write makes a new version, and "" means no record. put_if() writes
 * only over the version it was given (compare-and-set).
 */
struct VersionedCredential {
  std::string version;
  std::optional<Credential> credential;  // nullopt: absent, or present but unopenable
};

/** JSON form inside the seal. decode returns nullopt on anything malformed. */
std::string encode_credential(const Credential& c);
std::optional<Credential> decode_credential(std::string_view json);

enum class StoreError {
  kDisabled,     // no sealing key configured
  kUnavailable,  // Redis unreachable or refused the command
};

class CredentialStore {
 public:
  CredentialStore(Redis& redis, const crypto::Keyring& keyring, crypto::Random& random,
                  std::string key_prefix, audit::Log& log);

  bool enabled() const { return !keyring_.empty(); }

  /** Every credential of `user` that opens, by server key, in one round trip (HGETALL). A record
   *  that fails to open is left out and logged with user, server key and reason only. */
  Result<std::map<std::string, Credential>, StoreError> load_all(std::string_view user);
  /** The one credential, or nullopt when absent or unopenable. */
  Result<std::optional<Credential>, StoreError> load(std::string_view user,
                                                     std::string_view server_key);
  /** Seals and stores, replacing an older record. */
  Result<Unit, StoreError> put(std::string_view user, std::string_view server_key,
                               const Credential& credential);
  /** The record with its version, in one round trip (HGET). */
  Result<VersionedCredential, StoreError> load_versioned(std::string_view user,
                                                         std::string_view server_key);
  /**
   * Seals and stores `credential` only if the record's version is still `expected` ("" = only if
   * there is none), atomically (one server-side script). The new version on success, nullopt when
   * the record changed meanwhile (nothing written).
   */
  Result<std::optional<std::string>, StoreError> put_if(std::string_view user,
                                                        std::string_view server_key,
                                                        const Credential& credential,
                                                        std::string_view expected);
  /** Removes the record; removing nothing is success. */
  Result<Unit, StoreError> remove(std::string_view user, std::string_view server_key);

  /** "<prefix>u:{<user_tag(user)>}:cred". */
  std::string hash_key(std::string_view user) const;

 private:
  /** Opens and decodes one record; on failure logs credential_unreadable and returns nullopt. */
  std::optional<Credential> open_record(std::string_view user, std::string_view server_key,
                                        std::string_view record);
  /** Logs redis_unavailable (operation, failure kind, Redis's own detail) → kUnavailable. */
  Err<StoreError> unavailable(std::string_view op, const RedisFailure& failure);

  Redis& redis_;
  const crypto::Keyring& keyring_;
  crypto::Random& random_;
  std::string prefix_;
  audit::Log& log_;
};

}  // namespace credbroker::store
