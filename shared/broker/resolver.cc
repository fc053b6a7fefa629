#include "shared/broker/resolver.h"

#include <optional>
#include <thread>

#include "shared/broker/lifecycle.h"
#include "shared/oauth/token_client.h"
#include "shared/util/strings.h"

namespace credbroker::broker {

namespace {

using Outcome = Result<Resolved, ResolveFailure>;

Err<ResolveFailure> failed(ResolveError kind, std::string upstream_error = {}) {
  return Err(ResolveFailure{kind, std::move(upstream_error)});
}

Err<ResolveFailure> store_failed(store::StoreError e) {
  return failed(e == store::StoreError::kDisabled ? ResolveError::kStoreDisabled
                                                  : ResolveError::kStoreUnavailable);
}

Resolved resolved_from(const store::Credential& c) {
  // RFC 6749 §7.1: the type is case-insensitive; "bearer" (GitHub) is presented as "Bearer".
  const bool bearer = c.token_type.empty() || iequals(c.token_type, "bearer");
  return Resolved{c.access_token, bearer ? "Bearer" : c.token_type, c.expires_at};
}

}  // namespace

Sleep real_sleep() {
  return [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

ResolverOptions resolver_options(const config::Config& config) {
  // The owner's critical section: HGET, the token request, put_if; each Redis step may have to
  // reconnect first. One second of slack on top for scheduling.
  const std::int64_t redis_step = config.redis.connect_timeout_ms + config.redis.command_timeout_ms;
  ResolverOptions o;
  o.lock_ttl_ms = config.http.timeout_ms + 2 * redis_step + 1000;
  o.max_wait_ms = o.lock_ttl_ms + 500;
  return o;
}

/** One resolve: who, for which server, and what a record's standing means for it. */
struct Resolver::Call {
  const Subject& subject;
  const config::Server& server;
  const config::AuthBroker& broker;
  std::int64_t now;

  bool exchanges() const { return broker.mode != config::BrokerMode::kOAuthConnect; }

  /** The answer a record settles, or nullopt when it must be renewed first. */
  std::optional<Outcome> settle(const store::VersionedCredential& record) const {
    if (!record.credential) {
      // Nothing stored (or unopenable): connect again, or exchange for a first credential.
      if (exchanges()) return std::nullopt;
      return Outcome(failed(ResolveError::kReconnectRequired));
    }
    switch (standing(*record.credential, broker, now)) {
      case Standing::kUsable:
        return Outcome(resolved_from(*record.credential));
      case Standing::kReconnect:
        return Outcome(failed(ResolveError::kReconnectRequired));
      case Standing::kRenew:
        return std::nullopt;
    }
    return std::nullopt;
  }
};

Resolver::Resolver(store::CredentialStore& credentials, store::RefreshLock& lock,
                   http::HttpClient& http, const Clock& clock, audit::Log& log,
                   audit::Events& events, ResolverOptions options, Sleep sleep)
    : credentials_(credentials),
      lock_(lock),
      http_(http),
      clock_(clock),
      log_(log),
      events_(events),
      options_(options),
      sleep_(std::move(sleep)) {}

Outcome Resolver::resolve(const Subject& subject, const config::Server& server) {
  Call call{subject, server, *server.auth_broker, clock_.now_seconds()};
  // model: refresh.first_read
  auto first = credentials_.load_versioned(subject.user, server.key);
  if (!first) return store_failed(first.error());
  if (auto done = call.settle(*first)) return std::move(*done);

  // model: refresh.lock
  auto owner = lock_.try_acquire(subject.user, server.key, options_.lock_ttl_ms);
  if (!owner) return store_failed(owner.error());
  if (!owner->has_value()) return wait_for_owner(call, std::move(first->version));
  auto outcome = renew_as_owner(call);
  // Best effort: a lock we fail to release expires by itself.
  // model: refresh.release
  (void)lock_.release(subject.user, server.key, **owner);
  return outcome;
}

Outcome Resolver::renew_as_owner(Call& call) {
  const std::string& user = call.subject.user;
  const config::Server& server = call.server;
  // Another process may have renewed between our read and our lock: look again.
  // model: refresh.reread
  auto current = credentials_.load_versioned(user, server.key);
  if (!current) return store_failed(current.error());
  if (auto done = call.settle(*current)) return std::move(*done);

  const oauth::Grant grant =
      call.exchanges()
          ? oauth::Grant{call.broker.mode == config::BrokerMode::kEntraObo
                             ? oauth::Grant::Kind::kOnBehalfOf
                             : oauth::Grant::Kind::kTokenExchange,
                         call.subject.token}
          : oauth::Grant{oauth::Grant::Kind::kRefresh, current->credential->refresh_token};
  const std::string_view what = call.exchanges() ? "exchange" : "refresh";
  // model: refresh.request
  auto token = oauth::request_grant(http_, call.broker, grant);
  const std::int64_t now = clock_.now_seconds();
  if (!token) {
    const std::string cause = oauth::label(token.error());
    log_.warn(call.exchanges() ? "credential_exchange_failed" : "credential_refresh_failed",
              {{"user", std::string_view(user)},
               {"server", std::string_view(server.name)},
               {"cause", std::string_view(cause)},
               {"http_status", static_cast<std::int64_t>(token.error().http_status)},
               {"oauth_error", std::string_view(token.error().oauth_error)}});
    events_.record({.kind = call.exchanges() ? audit::EventKind::kExchangeFailed
                                             : audit::EventKind::kRefreshFailed,
                    .user = user,
                    .server = server.name,
                    .outcome = oauth::failure_label(token.error())});
    // RFC 6749 §5.2: the refresh token is invalid, expired or revoked; only a connect helps.
    if (!call.exchanges() && token.error().oauth_error == "invalid_grant") {
      // model: refresh.invalid_grant
      auto marked =
          credentials_.put_if(user, server.key, refused(*current->credential, now), *current);
      if (!marked) return store_failed(marked.error());
      // Another renewal wrote meanwhile (with a newer refresh token, perhaps): that record
      // decides, not our refusal.
      if (!marked->has_value()) return settle_newer(call, what);
      log_.warn("credential_reconnect_required",
                {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
      events_.record({.kind = audit::EventKind::kReconnectRequired,
                      .user = user,
                      .server = server.name,
                      .outcome = "invalid_grant"});
      return failed(ResolveError::kReconnectRequired);
    }
    return failed(ResolveError::kUpstreamFailed, token.error().oauth_error);
  }

  const store::Credential renewed =
      call.exchanges() ? from_exchange(*token, call.broker, now, call.subject.expires_at)
                       : after_refresh(*current->credential, *token, now);
  // model: refresh.granted_write
  auto written = credentials_.put_if(user, server.key, renewed, *current);
  if (!written) return store_failed(written.error());
  // Our lock expired and another renewal wrote first: theirs is newer, ours is dropped.
  if (!written->has_value()) return settle_newer(call, what);
  log_.info(call.exchanges() ? "credential_exchanged" : "credential_refreshed",
            {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
  events_.record(
      {.kind = call.exchanges() ? audit::EventKind::kExchangeDone : audit::EventKind::kRefreshDone,
       .user = user,
       .server = server.name,
       .outcome = "ok"});
  return resolved_from(renewed);
}

// model: refresh.settle_newer
Outcome Resolver::settle_newer(Call& call, std::string_view grant) {
  log_.warn("credential_renewal_superseded", {{"user", std::string_view(call.subject.user)},
                                              {"server", std::string_view(call.server.name)},
                                              {"grant", grant}});
  auto newer = credentials_.load_versioned(call.subject.user, call.server.key);
  if (!newer) return store_failed(newer.error());
  call.now = clock_.now_seconds();
  if (auto done = call.settle(*newer)) return std::move(*done);
  return failed(ResolveError::kBusy);
}

// model: refresh.waiter
Outcome Resolver::wait_for_owner(Call& call, std::string seen_version) {
  const std::string& user = call.subject.user;
  const std::string& key = call.server.key;
  const std::int64_t polls =
      std::max<std::int64_t>(1, options_.max_wait_ms / options_.poll_interval_ms);
  for (std::int64_t i = 0; i < polls; ++i) {
    sleep_(std::chrono::milliseconds(options_.poll_interval_ms));
    // The lock first, then the record: an owner writes before it releases, so a record read
    // after the lock was seen gone already holds whatever the owner wrote.
    auto held = lock_.held(user, key);
    if (!held) return store_failed(held.error());
    auto record = credentials_.load_versioned(user, key);
    if (!record) return store_failed(record.error());
    if (record->version != seen_version) {
      call.now = clock_.now_seconds();
      if (auto done = call.settle(*record)) return std::move(*done);
      seen_version = std::move(record->version);
    }
    // Released with nothing usable written: the owner's renewal failed. Waiters never call the
    // upstream themselves, so one failure is one request, not one per waiter.
    if (!*held) return failed(ResolveError::kUpstreamFailed);
  }
  return failed(ResolveError::kBusy);
}

}  // namespace credbroker::broker
