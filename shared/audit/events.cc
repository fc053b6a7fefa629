#include "shared/audit/events.h"

#include <unistd.h>

#include <climits>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/util/strings.h"

namespace credbroker::audit {

std::string_view event_name(EventKind kind) {
  switch (kind) {
    case EventKind::kConnectStarted:
      return "connect_started";
    case EventKind::kConnectCompleted:
      return "connect_completed";
    case EventKind::kConnectFailed:
      return "connect_failed";
    case EventKind::kCallbackRefused:
      return "callback_refused";
    case EventKind::kRefreshDone:
      return "refresh_done";
    case EventKind::kRefreshFailed:
      return "refresh_failed";
    case EventKind::kReconnectRequired:
      return "reconnect_required";
    case EventKind::kExchangeDone:
      return "exchange_done";
    case EventKind::kExchangeFailed:
      return "exchange_failed";
    case EventKind::kResolveServed:
      return "resolve_served";
    case EventKind::kAuthorizeServed:
      return "authorize_served";
    case EventKind::kDisconnected:
      return "disconnected";
    case EventKind::kRevoked:
      return "revoked";
    case EventKind::kPurged:
      return "purged";
  }
  return "unknown";
}

Events::Events(Log& log, const Clock& clock, crypto::Random& random, std::string instance,
               const config::Audit& config, store::Redis& redis)
    : log_(log),
      clock_(clock),
      random_(random),
      instance_(std::move(instance)),
      config_(config),
      redis_(redis) {}

void Events::record(const Event& event) {
  const std::string_view name = event_name(event.kind);
  log_.info("audit", {{"audit_event", name},
                      {"request_id", std::string_view(request_id_)},
                      {"instance", std::string_view(instance_)},
                      {"user", event.user},
                      {"server", event.server},
                      {"caller", event.caller},
                      {"outcome", event.outcome},
                      {"token_type_hint", event.token_type_hint}});
  if (config_.redis_stream.empty()) return;

  // Approximate trimming (~) lets Redis drop whole nodes only: cheap, and never below max_len.
  std::vector<std::string> argv = {"XADD",
                                   config_.redis_stream,
                                   "MAXLEN",
                                   "~",
                                   std::to_string(config_.max_len),
                                   "*",
                                   "time",
                                   format_rfc3339(clock_.now_seconds()),
                                   "request_id",
                                   request_id_,
                                   "instance",
                                   instance_,
                                   "event",
                                   std::string(name),
                                   "user",
                                   std::string(event.user),
                                   "server",
                                   std::string(event.server),
                                   "outcome",
                                   std::string(event.outcome)};
  if (!event.caller.empty()) {
    argv.emplace_back("caller");
    argv.emplace_back(event.caller);
  }
  if (!event.token_type_hint.empty()) {
    argv.emplace_back("token_type_hint");
    argv.emplace_back(event.token_type_hint);
  }
  auto added = redis_.command(argv);
  if (added && added->type == store::Reply::Type::kString) return;
  ++append_failures_;
  const std::string_view cause = !added ? store::label(added.error().kind) : "unexpected_reply";
  log_.warn("audit_append_failed",
            {{"audit_event", name},
             {"request_id", std::string_view(request_id_)},
             {"cause", cause},
             {"detail", added ? std::string_view() : std::string_view(added.error().detail)},
             {"failures", append_failures_}});
}

std::string instance_name() {
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host) + ":" + std::to_string(::getpid());
}

std::string request_id(std::optional<std::string_view> header, crypto::Random& random) {
  constexpr std::size_t kMaxLength = 64;
  if (header && header->size() <= kMaxLength && is_alnum_or(*header, "._-")) {
    return std::string(*header);
  }
  return crypto::base64url_encode(random.bytes(16));
}

}  // namespace credbroker::audit
