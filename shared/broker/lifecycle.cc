#include "shared/broker/lifecycle.h"

#include <algorithm>

#include "shared/http/url.h"
#include "shared/util/strings.h"

namespace credbroker::broker {

namespace {

std::int64_t effective_window(const store::Credential& c, const config::AuthBroker& broker) {
  const std::int64_t lifetime = c.updated_at > 0 ? c.expires_at - c.updated_at : 0;
  if (lifetime <= 0) return broker.refresh_window_seconds;
  return std::min(broker.refresh_window_seconds, lifetime / 2);
}

}  // namespace

Standing standing(const store::Credential& c, const config::AuthBroker& broker, std::int64_t now) {
  if (c.reconnect_required) return Standing::kReconnect;
  if (c.expires_at == 0 || c.expires_at - now > effective_window(c, broker)) {
    return Standing::kUsable;
  }
  if (broker.mode != config::BrokerMode::kOAuthConnect) return Standing::kRenew;
  if (!c.refresh_token.empty()) return Standing::kRenew;
  // Nothing to refresh it with: still handed out while it is valid at all.
  return c.expires_at > now ? Standing::kUsable : Standing::kReconnect;
}

std::string_view list_status(const store::Credential& c, const config::AuthBroker& broker,
                             std::int64_t now) {
  if (c.reconnect_required) return "expired";
  const bool past = c.expires_at > 0 && c.expires_at <= now;
  const bool refreshable =
      broker.mode == config::BrokerMode::kOAuthConnect && !c.refresh_token.empty();
  return past && !refreshable ? "expired" : "connected";
}

std::int64_t expiry_from(const oauth::TokenResponse& token, std::int64_t now) {
  return token.expires_in && *token.expires_in > 0 ? now + *token.expires_in : 0;
}

store::Credential from_code_exchange(const oauth::TokenResponse& token,
                                     const config::AuthBroker& broker, std::int64_t now) {
  store::Credential c;
  c.type = "oauth2";
  c.access_token = token.access_token;
  c.refresh_token = token.refresh_token;
  c.token_type = token.token_type.empty() ? "Bearer" : token.token_type;
  c.expires_at = expiry_from(token, now);
  c.scopes = token.scopes ? *token.scopes : broker.scopes;
  c.audience = broker.resource;
  c.obtained_via = "connect_flow";
  c.updated_at = now;
  return c;
}

store::Credential after_refresh(const store::Credential& old, const oauth::TokenResponse& token,
                                std::int64_t now) {
  store::Credential c = old;
  c.access_token = token.access_token;
  if (!token.refresh_token.empty()) c.refresh_token = token.refresh_token;
  if (!token.token_type.empty()) c.token_type = token.token_type;
  c.expires_at = expiry_from(token, now);
  if (token.scopes) c.scopes = *token.scopes;
  c.updated_at = now;
  c.reconnect_required = false;
  return c;
}

store::Credential refused(const store::Credential& old, std::int64_t now) {
  store::Credential c = old;
  c.access_token.clear();
  c.refresh_token.clear();
  c.updated_at = now;
  c.reconnect_required = true;
  return c;
}

store::Credential from_exchange(const oauth::TokenResponse& token, const config::AuthBroker& broker,
                                std::int64_t now, std::int64_t subject_expires_at) {
  store::Credential c;
  c.type = "oauth2";
  c.access_token = token.access_token;
  c.token_type = token.token_type.empty() ? "Bearer" : token.token_type;
  const std::int64_t own = expiry_from(token, now);
  c.expires_at = own == 0 ? subject_expires_at : std::min(own, subject_expires_at);
  c.scopes = token.scopes ? *token.scopes : broker.scopes;
  c.audience = broker.audience.empty() ? broker.resource : broker.audience;
  c.obtained_via = std::string(config::mode_name(broker.mode));
  c.updated_at = now;
  return c;
}

std::string header_value(const config::AuthBroker& broker, std::string_view access_token) {
  std::string out;
  std::string_view format = broker.header_format;
  constexpr std::string_view kPlaceholder = "{token}";
  for (auto at = format.find(kPlaceholder); at != std::string_view::npos;
       at = format.find(kPlaceholder)) {
    out.append(format.substr(0, at)).append(access_token);
    format.remove_prefix(at + kPlaceholder.size());
  }
  out.append(format);
  return out;
}

std::string connect_path(const config::Server& server) {
  return "/api/v1/user/credentials/" + http::percent_encode(server.name) + "/connect";
}

}  // namespace credbroker::broker
