#include "shared/crypto/pkce.h"
#include "shared/http/url.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"

namespace credbroker::routes {

namespace {

/** RFC 6749 §3.1: an endpoint URI may carry a query, which must be kept. */
std::string append_query(std::string_view endpoint, std::string_view query) {
  std::string out(endpoint);
  const auto q = out.find('?');
  if (q == std::string::npos) {
    out.push_back('?');
  } else if (q != out.size() - 1 && out.back() != '&') {
    out.push_back('&');
  }
  out.append(query);
  return out;
}

}  // namespace

std::string callback_uri(const config::Config& config, const config::Server& server) {
  return config.public_base_url + std::string(kCredentialsPath) + "/" +
         http::percent_encode(server.name) + "/callback";
}

http::Response connect(const http::Request& request, Context& context, RequestNote& note) {
  auto call = begin_server_call(request, context, note, "connect", "GET");
  if (!call) return call.error();
  const std::string& user = call->user;
  const config::Server& server = *call->server;
  const config::AuthBroker& broker = *server.auth_broker;
  if (broker.mode != config::BrokerMode::kOAuthConnect) {
    note.reason = "not_oauth_connect";
    return http::json_error(
        400, with_quoted("Server ", server.name) + " does not use the OAuth connect flow");
  }
  if (!context.flows.enabled()) {
    note.reason = "store_disabled";
    return http::json_error(503, "Credential broker is not enabled");
  }

  // Counted before anything is stored: each connect can end in a request to the token endpoint
  // under the organisation's client credentials, which an upstream may throttle for everyone.
  const auto counted =
      count_attempt(context, user, "connect", context.config.limits.connects_per_minute);
  if (!counted) return store_failure(counted.error(), note);
  if (!counted->allowed) {
    note.reason = "rate_limited";
    auto r = http::json_error(429, "Too many connect attempts");
    r.set_header("Retry-After", std::to_string(counted->retry_after_seconds));
    return r;
  }

  const std::string state = context.flows.new_state(user);
  store::PendingFlow flow{.user = user,
                          .server_key = server.key,
                          .verifier = crypto::make_code_verifier(context.random),
                          .redirect_uri = callback_uri(context.config, server),
                          .issuer = broker.issuer,
                          .created_at = context.clock.now_seconds()};
  const auto stored =
      context.flows.put(state, flow,
                        {.ttl_seconds = context.config.flow_ttl_seconds,
                         .max_per_user = context.config.max_pending_flows_per_user});
  if (!stored) {
    note.reason = "store_unavailable";
    return http::json_error(503, "Credential store is unavailable");
  }

  std::vector<std::pair<std::string, std::string>> params = {
      {"response_type", "code"},
      {"client_id", broker.client_id},
      {"redirect_uri", flow.redirect_uri},
      {"state", state},
      {"code_challenge", crypto::s256_challenge(flow.verifier)},
      {"code_challenge_method", "S256"}};
  if (!broker.scopes.empty()) {
    std::string scope;
    for (const auto& s : broker.scopes) {
      if (!scope.empty()) scope.push_back(' ');
      scope += s;
    }
    params.emplace_back("scope", scope);
  }
  if (!broker.resource.empty()) params.emplace_back("resource", broker.resource);
  for (const auto& extra : broker.authorization_params) params.push_back(extra);

  context.log.info("connect_started",
                   {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
  context.audit.record({.kind = audit::EventKind::kConnectStarted,
                        .user = user,
                        .server = server.name,
                        .outcome = "ok"});
  // model: connect.redirect
  return http::redirect(append_query(broker.authorization_endpoint, http::build_query(params)));
}

}  // namespace credbroker::routes
