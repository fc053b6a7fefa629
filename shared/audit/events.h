#pragma once
// Audit events: one record per step of a credential's life that a security team asks about (who
// connected, refreshed, used, disconnected and revoked what), apart from the request log. Each
// goes to the log (event "audit") and, when audit.redis_stream is configured, to that Redis stream
// (XADD … MAXLEN ~ audit.max_len). The fields are fixed and never a secret: time, request id,
// instance, event, user, server, caller, outcome, and for a revocation which kind of token.
// Appending is best effort: a failure is counted and logged, never the user's problem.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shared/audit/log.h"
#include "shared/config/config.h"
#include "shared/crypto/random.h"
#include "shared/store/redis.h"
#include "shared/util/clock.h"

namespace credbroker::audit {

enum class EventKind {
  kConnectStarted,     // connect: a flow was stored, the browser goes to the upstream
  kConnectCompleted,   // callback: the credential is stored
  kConnectFailed,      // callback: any other outcome; the outcome is the callback's label
  kCallbackRefused,    // callback: user_mismatch or issuer_mismatch (the outcome says which)
  kRefreshDone,        // resolver: a refresh was stored
  kRefreshFailed,      // resolver: the upstream refused or failed; RFC 6749 code or failure label
  kReconnectRequired,  // resolver: the refresh token was refused, the record is marked
  kExchangeDone,       // resolver: a token exchange / on-behalf-of result was stored
  kExchangeFailed,     // resolver: it failed; RFC 6749 code or failure label
  kResolveServed,      // resolve route: a credential asked for by a caller, per use
  kAuthorizeServed,    // front authorizer route: likewise
  kDisconnected,       // delete route: the record is gone
  kRevoked,            // delete route: one revocation at the upstream, per token kind
  kPurged,             // credbroker-admin purge-user: every record of the user removed
};

/** The event's name in the log and the stream: "connect_started", …, "revoked". */
std::string_view event_name(EventKind kind);

/** One event. All views only need to live for the call to record(). */
struct Event {
  EventKind kind;
  std::string_view user;
  std::string_view server;  // the server's configured name
  // A fixed label: "ok", a callback label ("access_denied", …), a resolve refusal
  // ("reconnect_required", …), a revocation's "accepted" or failure ("http_status", …).
  std::string_view outcome;
  std::string_view caller = {};           // the calling service on internal routes
  std::string_view token_type_hint = {};  // kRevoked: "refresh_token" or "access_token"
};

/**
 * The id a request is known by: the front's X-Request-Id when it is 1 to 64 characters of
 * [A-Za-z0-9._-] (a UUID, nginx's $request_id, …), else 16 random bytes, base64url. Nothing
 * else a client sends in that header reaches a log or the stream.
 */
std::string request_id(std::optional<std::string_view> header, crypto::Random& random);

class Events {
 public:
  /** `instance` names this process ("<host>:<pid>", instance_name()); `random` draws request
   *  ids. With an empty `config.redis_stream` events go to the log only. */
  Events(Log& log, const Clock& clock, crypto::Random& random, std::string instance,
         const config::Audit& config, store::Redis& redis);

  /** Called by routes::dispatch at the start of each request with its X-Request-Id header:
   *  request_id() is then that request's id, which every event carries. */
  void start_request(std::optional<std::string_view> x_request_id) {
    request_id_ = audit::request_id(x_request_id, random_);
  }
  const std::string& request_id() const { return request_id_; }

  /** Writes the event to the log and appends it to the stream when one is configured. */
  void record(const Event& event);

  /** Appends to the stream that failed since start (each also logged audit_append_failed). */
  std::int64_t append_failures() const { return append_failures_; }

 private:
  Log& log_;
  const Clock& clock_;
  crypto::Random& random_;
  std::string instance_;
  const config::Audit& config_;
  store::Redis& redis_;
  std::string request_id_;
  std::int64_t append_failures_ = 0;
};

/** "<hostname>:<pid>" of this process. */
std::string instance_name();

}  // namespace credbroker::audit
