#pragma once
// Per-user credentials in Redis: one hash per user, key "<prefix>u:{<tag>}:cred:<user>" (the user's
// hash tag, shared/store/user_keys.h, keeps all of a user's data in one Cluster slot; the id after
// it lets credbroker-admin name the user of a hash it finds), field = server key, value = sealed
// credential record; and beside it "<prefix>u:{<tag>}:gen:<user>", field = server key, value = the
// record's generation, bumped by every delete and sealed into each record, so an old record put
// back after a delete stays shut.

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
 * fresh random nonce, so any write makes a new version, and "" means no record. `generation` is
 * the server's generation read with it (0 before any delete). put_if() writes only over the
 * version and generation it was given (compare-and-set).
 */
struct VersionedCredential {
  std::string version;
  std::int64_t generation = 0;
  std::optional<Credential> credential;  // nullopt: absent, or present but unopenable (or stale)
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

  /** Every credential of `user` that opens, by server key, in one round trip (a script: HGETALL
   *  of the records and of the generations). A record that fails to open (stale included) is left
   *  out and logged with user, server key and reason only. */
  Result<std::map<std::string, Credential>, StoreError> load_all(std::string_view user);
  /** The one credential, or nullopt when absent or unopenable. */
  Result<std::optional<Credential>, StoreError> load(std::string_view user,
                                                     std::string_view server_key);
  /** Seals under the current generation and stores, replacing an older record. Two round trips
   *  (the generation, then a script that writes only if it has not moved); a delete in between
   *  makes it seal again under the new one, at most three times, then kUnavailable. */
  Result<Unit, StoreError> put(std::string_view user, std::string_view server_key,
                               const Credential& credential);
  /** The record with its version and generation, in one round trip (a script of two HGETs). */
  Result<VersionedCredential, StoreError> load_versioned(std::string_view user,
                                                         std::string_view server_key);
  /**
   * Seals `credential` under `expected.generation` and stores it only if the record's version is
   * still `expected.version` ("" = only if there is none) and the generation has not moved,
   * atomically (one server-side script). The new version on success, nullopt when the record
   * changed or was deleted meanwhile (nothing written).
   */
  Result<std::optional<std::string>, StoreError> put_if(std::string_view user,
                                                        std::string_view server_key,
                                                        const Credential& credential,
                                                        const VersionedCredential& expected);
  /** Removes the record and bumps its generation in one step; removing nothing is success. */
  Result<Unit, StoreError> remove(std::string_view user, std::string_view server_key);

  /** "<prefix>u:{<user_tag(user)>}:cred". */
  std::string hash_key(std::string_view user) const;
  /** "<prefix>u:{<tag>}:gen:<user>": derived like hash_key, so it shares its hash tag (and slot).
   */
  std::string generation_key(std::string_view user) const;

  // For the admin tool (admin/): key rotation, statistics, off-boarding.

  /** A SCAN MATCH pattern for every user's hash (hash_key() with the user a wildcard). */
  std::string scan_pattern() const;
  /** The user whose hash `key` is, or nullopt when `key` is no hash_key(). */
  std::optional<std::string> user_of(std::string_view key) const;
  /** The server keys `user` has a record under (HKEYS), opened or not. */
  Result<std::vector<std::string>, StoreError> server_keys(std::string_view user);

  enum class Reseal {
    kCurrent,     // already sealed under the first key (and opens): untouched
    kResealed,    // opened and sealed again under the first key (compare-and-set)
    kGone,        // no record (deleted meanwhile)
    kChanged,     // the record changed between read and write: nothing written, try again
    kUnopenable,  // under no key this keyring holds, or tampered: left as it is
  };
  /**
   * Key rotation of one record: read it; if it is not under the first key (or is in the format
   * before generations), open it and seal it again under the first key and the same generation
   * with put_if() on the value read, so a record written or deleted meanwhile is never
   * overwritten with stale content nor brought back.
   */
  Result<Reseal, StoreError> reseal(std::string_view user, std::string_view server_key);
  /** Removes every record of `user`, each with remove() (its generation moves on); the server
   *  keys it held. */
  Result<std::vector<std::string>, StoreError> remove_all(std::string_view user);

 private:
  /** Opens and decodes one record sealed under `generation` into `out` (a fresh Credential); on
   *  failure logs credential_unreadable and returns false (`out` is then to be dropped). */
  bool open_record(std::string_view user, std::string_view server_key, std::int64_t generation,
                   std::string_view record, Credential& out);
  /** Seals `credential` for this place and generation. */
  std::string seal_record(std::string_view user, std::string_view server_key,
                          std::int64_t generation, const Credential& credential);
  /** Logs redis_unavailable (operation, failure kind, Redis's own detail) → kUnavailable. */
  Err<StoreError> unavailable(std::string_view op, const RedisFailure& failure);

  Redis& redis_;
  const crypto::Keyring& keyring_;
  crypto::Random& random_;
  std::string prefix_;
  audit::Log& log_;
};

}  // namespace credbroker::store
