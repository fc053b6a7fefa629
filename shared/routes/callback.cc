#include "shared/broker/lifecycle.h"
#include "shared/http/url.h"
#include "shared/oauth/token_client.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"
#include "shared/util/strings.h"

namespace credbroker::routes {

namespace {

/** RFC 6749 §4.1.2.1 error codes (and OIDC's) passed on as they are; anything else is folded. */
constexpr std::string_view kKnownAuthorizationErrors[] = {"access_denied",
                                                          "invalid_scope",
                                                          "server_error",
                                                          "temporarily_unavailable",
                                                          "interaction_required",
                                                          "login_required",
                                                          "account_selection_required",
                                                          "consent_required"};

std::string_view authorization_error_label(std::string_view error) {
  for (auto known : kKnownAuthorizationErrors) {
    if (error == known) return known;
  }
  return "authorization_denied";
}

/** The audit event of a callback's outcome: completed, refused (a mismatch: someone else's flow,
 *  or another issuer's answer), or failed with its label. */
audit::EventKind callback_event(std::string_view label) {
  if (label.empty()) return audit::EventKind::kConnectCompleted;
  if (label == "user_mismatch" || label == "issuer_mismatch") {
    return audit::EventKind::kCallbackRefused;
  }
  return audit::EventKind::kConnectFailed;
}

/** Every outcome goes back to the configured UI; never to anything the request names. Each is
 *  recorded as one audit event. */
http::Response back_to_ui(const Context& context, std::string_view user,
                          const config::Server& server, std::string_view label, RequestNote& note) {
  context.audit.record({.kind = callback_event(label),
                        .user = user,
                        .server = server.name,
                        .outcome = label.empty() ? std::string_view("ok") : label});
  std::string location = context.config.ui_redirect;
  location.push_back(location.find('?') == std::string::npos ? '?' : '&');
  location += "credential_server=" + http::percent_encode(server.name);
  if (label.empty()) {
    location += "&credential_connected=1";
  } else {
    note.reason = std::string(label);
    location += "&credential_error=";
    location.append(label);
  }
  return http::redirect(std::move(location));
}

/** All values of `name`; the query was already parsed. */
std::vector<std::string_view> values(const std::vector<std::pair<std::string, std::string>>& query,
                                     std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.push_back(v);
  }
  return out;
}

/** The single non-empty value of `name`, or nullopt when absent, empty or repeated. */
std::optional<std::string_view> single(const std::vector<std::pair<std::string, std::string>>& q,
                                       std::string_view name) {
  const auto all = values(q, name);
  if (all.size() != 1 || all.front().empty()) return std::nullopt;
  return all.front();
}

}  // namespace

namespace {

/**
 * An anonymous (or unauthenticated) callback spends the flow its state names before the 401: a
 * leaked callback URL (logs, history, a shared screen) could otherwise be redeemed later by the
 * user who started the flow. Nothing else is done with it: no exchange, no redirect.
 */
void spend_flow_of(const http::Request& request, Context& context) {
  const auto query = http::parse_query(request.query);
  if (!query || !context.flows.enabled()) return;
  if (const auto state = single(*query, "state")) (void)context.flows.take(*state);
}

}  // namespace

http::Response callback(const http::Request& request, Context& context, RequestNote& note) {
  auto call = begin_server_call(request, context, note, "callback", "GET");
  if (!call) {
    if (call.error().status == 401) spend_flow_of(request, context);
    return call.error();
  }
  const std::string& user = call->user;
  const config::Server& server = *call->server;
  const config::AuthBroker& broker = *server.auth_broker;
  if (broker.mode != config::BrokerMode::kOAuthConnect) {
    return back_to_ui(context, user, server, "invalid_state", note);
  }

  const auto query = http::parse_query(request.query);
  if (!query) return back_to_ui(context, user, server, "invalid_state", note);
  const auto state = single(*query, "state");
  if (!state) return back_to_ui(context, user, server, "invalid_state", note);
  if (!context.flows.enabled()) return back_to_ui(context, user, server, "unavailable", note);

  // One atomic GETDEL: of racing callbacks with one state exactly one gets past this line.
  auto taken = context.flows.take(*state);
  if (!taken) return back_to_ui(context, user, server, "unavailable", note);
  if (!taken->has_value()) return back_to_ui(context, user, server, "invalid_state", note);
  const store::PendingFlow& flow = **taken;
  if (flow.server_key != server.key) {
    return back_to_ui(context, user, server, "invalid_state", note);
  }
  // The caller must be who started the flow; otherwise a victim lured into consenting on an
  // attacker's authorize link would hand over their upstream account (docs/security.md).
  // model: callback.user_check
  if (!constant_time_equals(flow.user, user)) {
    context.log.warn("callback_user_mismatch", {{"user", std::string_view(user)},
                                                {"flow_user", std::string_view(flow.user)},
                                                {"server", std::string_view(server.name)}});
    return back_to_ui(context, user, server, "user_mismatch", note);
  }
  if (const auto errors = values(*query, "error"); !errors.empty()) {
    return back_to_ui(context, user, server, authorization_error_label(errors.front()), note);
  }
  // RFC 9207: an "iss" that is present must be the issuer we expect.
  if (const auto iss = values(*query, "iss"); !iss.empty() && !flow.issuer.empty()) {
    if (iss.size() != 1 || iss.front() != flow.issuer) {
      return back_to_ui(context, user, server, "issuer_mismatch", note);
    }
  }
  const auto code = single(*query, "code");
  if (!code) return back_to_ui(context, user, server, "connect_failed", note);

  // Counted only here, where the code would go to the token endpoint, and before it does. The
  // flow is already spent and stays so: no code is ever exchanged over the limit, and the UI page
  // loads now (a Retry-After on this redirect would ask the browser to wait before following it,
  // RFC 9110 §10.2.3).
  const auto counted = count_attempt(context, user, "code_exchange",
                                     context.config.limits.code_exchanges_per_minute);
  if (!counted) return back_to_ui(context, user, server, "unavailable", note);
  if (!counted->allowed) return back_to_ui(context, user, server, "rate_limited", note);

  // model: callback.exchange
  auto token = oauth::exchange_code(context.http, broker,
                                    {.code = std::string(*code),
                                     .redirect_uri = flow.redirect_uri,
                                     .code_verifier = flow.verifier});
  if (!token) {
    const std::string cause = oauth::label(token.error());
    context.log.warn("token_exchange_failed",
                     {{"user", std::string_view(user)},
                      {"server", std::string_view(server.name)},
                      {"cause", std::string_view(cause)},
                      {"http_status", static_cast<std::int64_t>(token.error().http_status)},
                      {"oauth_error", std::string_view(token.error().oauth_error)}});
    return back_to_ui(context, user, server, "connect_failed", note);
  }
  const std::int64_t now = context.clock.now_seconds();
  // model: callback.write
  if (!context.credentials.put(user, server.key, broker::from_code_exchange(*token, broker, now))) {
    return back_to_ui(context, user, server, "unavailable", note);
  }
  context.log.info("credential_connected",
                   {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
  return back_to_ui(context, user, server, "", note);
}

}  // namespace credbroker::routes
