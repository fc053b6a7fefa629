#pragma once
// credbroker-admin: the operator's tool (README "credbroker-admin", docs/operations.md). Each
// subcommand is a core here that works through the same small interfaces the handlers use
// (store::Redis, http::HttpClient, Clock, crypto::Random) and writes to an Output; admin/cli.cc
// parses the command line and builds the real parts, admin/main.cc is one call to it.
// Nothing written to an Output is ever a secret: no token, key, client secret or Redis password.

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "shared/audit/events.h"
#include "shared/config/config.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/http/client.h"
#include "shared/store/credential_store.h"
#include "shared/store/flow_store.h"
#include "shared/store/rate_limiter.h"
#include "shared/store/redis.h"
#include "shared/store/refresh_lock.h"
#include "shared/util/clock.h"

namespace credbroker::admin {

/** Exit statuses, the same for every subcommand (README, "credbroker-admin"). */
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a check failed, or the work is partial (see its output)
inline constexpr int kExitUsage = 2;   // bad command line
inline constexpr int kExitRedis = 3;   // Redis unreachable or refusing commands
inline constexpr int kExitConfig = 4;  // config or CREDBROKER_KEYS unusable for the subcommand

/** Where a subcommand writes; `terminal` is whether `out` is a terminal (progress bar or lines). */
struct Output {
  std::ostream& out;
  std::ostream& err;
  bool terminal = false;
};

// gen-key --------------------------------------------------------------------------------------

/** A new keyring entry "<id>:<base64 of 32 random bytes>"; the id is "k<YYYYMMDD>-<6 hex>" from
 *  `clock` and `random` unless `id` is given (then it must be a valid key id). */
Result<std::string, std::string> gen_key(crypto::Random& random, const Clock& clock,
                                         std::string_view id = {});

// check-config ---------------------------------------------------------------------------------

struct CheckRow {
  std::string
      check;  // "config", "keys", "redis", "identity_keys", "resolve_keys", "token_endpoint"
  std::string target;  // the file, the server's name, ...; never a secret
  bool ok = false;
  std::string detail;  // what worked or why not; never a secret
};

/** Everything check-config reaches, built from the config by the caller. */
struct CheckParts {
  store::Redis& redis;
  http::HttpClient& http;
  const Clock& clock;
};

/** The checks after the config parsed: keyring, Redis (PING), the identity (and resolve) keys,
 *  every brokered server's token endpoint (probe_token_endpoint: no grant is sent). */
std::vector<CheckRow> check_config(const config::Config& config,
                                   const Result<crypto::Keyring, std::string>& keyring,
                                   CheckParts parts);

/** The rows as an aligned table; the exit status: kExitOk when every row is ok. */
int print_checks(const std::vector<CheckRow>& rows, Output& io);

// rotate ---------------------------------------------------------------------------------------

struct RotateReport {
  std::int64_t users = 0;
  std::int64_t records = 0;
  std::int64_t resealed = 0;
  std::int64_t current = 0;     // already under the first key
  std::int64_t gone = 0;        // deleted while the rotation ran
  std::int64_t retried = 0;     // changed while the rotation ran, read again
  std::int64_t busy = 0;        // still changing after every retry: not resealed this run
  std::int64_t unopenable = 0;  // under no key held (or tampered): left as they are
  bool redis_failed = false;
};

/** Attempts per record when it keeps changing under the rotation (each a fresh read). */
inline constexpr int kResealAttempts = 5;

/**
 * Seals every credential record under the keyring's first key: SCAN over every primary for the
 * users' hashes, then CredentialStore::reseal() per record. Resumable and idempotent (records
 * already under the first key are skipped), safe while handlers run (compare-and-set). Progress on
 * `io.out`: a bar on a terminal, else one line per `line_every` users and a summary.
 */
RotateReport rotate(store::CredentialStore& credentials, store::Redis& redis, Output& io,
                    std::int64_t line_every = 1000);
/** kExitOk when every record is now under the first key, kExitRedis, else kExitFailed. */
int rotate_status(const RotateReport& report);

// stats ----------------------------------------------------------------------------------------

struct ServerStats {
  std::string name;  // the configured name, or "(unconfigured <server key>)"
  std::int64_t connected = 0;
  std::int64_t expired = 0;  // the list's "expired": the user must connect again (or, for the
                             // exchange modes, the next resolve exchanges again)
  std::int64_t reconnect_required = 0;  // of those, refused by the upstream (invalid_grant)
  std::int64_t unopenable = 0;
};

struct Stats {
  std::int64_t users = 0;                      // with at least one record
  std::int64_t records = 0;                    // every record, opened or not
  std::map<std::string, ServerStats> servers;  // by server key
  bool redis_failed = false;
};

/** Counts by server and status (broker::list_status, as the list route names them); no user id,
 *  no token. */
Stats stats(const config::Config& config, store::CredentialStore& credentials, store::Redis& redis,
            const Clock& clock);
int print_stats(const Stats& stats, Output& io);

// purge-user -----------------------------------------------------------------------------------

struct PurgeParts {
  store::CredentialStore& credentials;
  store::FlowStore& flows;
  store::RefreshLock& locks;
  store::RateLimiter& rates;
  store::Redis& redis;
  audit::Events& events;
};

struct PurgeReport {
  std::vector<std::string> servers;  // the names (or server keys) of the records removed
  std::int64_t flows = 0;
  std::int64_t locks = 0;
  std::int64_t counters = 0;
  bool redis_failed = false;
};

/** Removes every record, pending flow (and its index), refresh lock and rate counter of `user`,
 *  then records one audit event "purged" per removed record, or one with server "*" when there
 *  was none. */
PurgeReport purge_user(const config::Config& config, std::string_view user, PurgeParts parts);
int print_purge(std::string_view user, const PurgeReport& report, Output& io);

}  // namespace credbroker::admin
