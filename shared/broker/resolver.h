#pragma once
// The credential resolver: for one verified user and one brokered server, a credential that can
// be used now. A stored one is handed out as it is; one near its expiry is refreshed
// (oauth_connect) or obtained again by token exchange / on-behalf-of first, by exactly one
// process across every instance (store/refresh_lock.h) while the others wait for its result; a
// write only ever replaces the version it renewed (CredentialStore::put_if), so a slow renewal
// never overwrites a newer record. The resolve route and the front authorizer both call this.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "shared/audit/events.h"
#include "shared/audit/log.h"
#include "shared/config/config.h"
#include "shared/http/client.h"
#include "shared/store/credential_store.h"
#include "shared/store/refresh_lock.h"
#include "shared/util/clock.h"
#include "shared/util/result.h"

namespace credbroker::broker {

/** The user a credential is resolved for, as their verified token says. */
struct Subject {
  std::string user;
  std::string token;            // the JWT itself: the subject of a token exchange or OBO
  std::int64_t expires_at = 0;  // its "exp": an exchanged credential never outlives it
};

/** A credential ready to use. */
struct Resolved {
  std::string access_token;
  std::string token_type;       // "Bearer" unless the upstream named another type
  std::int64_t expires_at = 0;  // Unix seconds; 0 = no expiry known
};

enum class ResolveError {
  kReconnectRequired,  // oauth_connect: nothing stored, refresh refused, or expired for good
  kUpstreamFailed,     // token endpoint down, slow, garbage or refusing (upstream_error says how)
  kBusy,               // another instance is renewing it and did not finish within the wait
  kStoreDisabled,      // no sealing key configured
  kStoreUnavailable,   // Redis unreachable or refusing
};

struct ResolveFailure {
  ResolveError kind;
  std::string upstream_error;  // the RFC 6749 §5.2 code the upstream answered, when it named one
};

/** How long a renewal may hold the lock and how long the others wait for it. */
struct ResolverOptions {
  std::int64_t lock_ttl_ms = 6000;  // beyond the token endpoint's total timeout
  std::int64_t poll_interval_ms = 25;
  std::int64_t max_wait_ms = 6500;  // a waiter gives up (kBusy) after this
};

/** Blocks the calling thread; injected so tests can act between a waiter's polls. */
using Sleep = std::function<void(std::chrono::milliseconds)>;
Sleep real_sleep();

/**
 * Options derived from the configured timeouts: the lock outlives everything its owner does while
 * holding it (a re-read, one token request, one write, each Redis step with a reconnect), so a
 * renewal's lease cannot end while it is still working (docs/architecture.md, "Refresh once").
 */
ResolverOptions resolver_options(const config::Config& config);

class Resolver {
 public:
  Resolver(store::CredentialStore& credentials, store::RefreshLock& lock, http::HttpClient& http,
           const Clock& clock, audit::Log& log, audit::Events& events, ResolverOptions options,
           Sleep sleep);

  /** `server` must be brokered. */
  Result<Resolved, ResolveFailure> resolve(const Subject& subject, const config::Server& server);

 private:
  struct Call;
  Result<Resolved, ResolveFailure> renew_as_owner(Call& call);
  Result<Resolved, ResolveFailure> wait_for_owner(Call& call, std::string seen_version);
  /** After our write lost its compare-and-set: the newer record answers. */
  Result<Resolved, ResolveFailure> settle_newer(Call& call, std::string_view grant);

  store::CredentialStore& credentials_;
  store::RefreshLock& lock_;
  http::HttpClient& http_;
  const Clock& clock_;
  audit::Log& log_;
  audit::Events& events_;
  ResolverOptions options_;
  Sleep sleep_;
};

}  // namespace credbroker::broker
