#include "shared/oauth/token_client.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"

namespace credbroker::routes {

namespace {

/**
 * RFC 7009 at the server's revocation endpoint, best effort: the refresh token first (revoking it
 * may take its access tokens along, §2.1), then the access token, each only when the record holds
 * one. The kinds the endpoint accepted, in that order. An endpoint that did not answer is not
 * asked a second time, so a hung one delays the answer by one outbound timeout, not two.
 */
std::vector<oauth::TokenKind> revoke_tokens(Context& context, const std::string& user,
                                            const config::Server& server,
                                            const store::Credential& credential) {
  const config::AuthBroker& broker = *server.auth_broker;
  std::vector<oauth::TokenKind> accepted;
  if (broker.revocation_endpoint.empty()) return accepted;
  const std::pair<oauth::TokenKind, const std::string*> tokens[] = {
      {oauth::TokenKind::kRefreshToken, &credential.refresh_token},
      {oauth::TokenKind::kAccessToken, &credential.access_token}};
  bool unreachable = false;
  for (const auto& [kind, token] : tokens) {
    if (token->empty()) continue;
    const std::string_view hint = oauth::token_kind_name(kind);
    std::string outcome = "skipped";
    if (!unreachable) {
      auto revoked = oauth::revoke(context.http, broker, *token, kind);
      if (revoked) {
        accepted.push_back(kind);
        outcome = "accepted";
      } else {
        unreachable = revoked.error().kind == oauth::TokenErrorKind::kTransport;
        outcome = oauth::failure_label(revoked.error());
        const std::string cause = oauth::label(revoked.error());
        context.log.warn("credential_revocation_failed",
                         {{"user", std::string_view(user)},
                          {"server", std::string_view(server.name)},
                          {"token_type_hint", hint},
                          {"cause", std::string_view(cause)},
                          {"http_status", static_cast<std::int64_t>(revoked.error().http_status)},
                          {"oauth_error", std::string_view(revoked.error().oauth_error)}});
      }
    }
    context.audit.record({.kind = audit::EventKind::kRevoked,
                          .user = user,
                          .server = server.name,
                          .outcome = outcome,
                          .token_type_hint = hint});
  }
  return accepted;
}

}  // namespace

http::Response disconnect(const http::Request& request, Context& context, RequestNote& note) {
  auto call = begin_server_call(request, context, note, "", "DELETE");
  if (!call) return call.error();
  const std::string& user = call->user;
  const config::Server& server = *call->server;
  // Read before deleting: the tokens to revoke upstream are only in the record.
  auto record = context.credentials.load(user, server.key);
  if (!record) return store_failure(record.error(), note);
  if (auto removed = context.credentials.remove(user, server.key); !removed) {
    return store_failure(removed.error(), note);
  }
  context.log.info("credential_disconnected",
                   {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
  context.audit.record({.kind = audit::EventKind::kDisconnected,
                        .user = user,
                        .server = server.name,
                        .outcome = "ok"});
  // The record is gone whatever the upstream says next: a revocation endpoint that is down must
  // not keep a user from disconnecting.
  std::vector<oauth::TokenKind> revoked;
  if (record->has_value()) revoked = revoke_tokens(context, user, server, **record);
  std::string list;
  for (const auto kind : revoked) {
    if (!list.empty()) list.push_back(',');
    list += http::json_quote(oauth::token_kind_name(kind));
  }
  return http::json_response(
      200,
      "{\"message\":" + http::json_quote(with_quoted("Disconnected credential for ", server.name)) +
          ",\"revoked\":[" + list + "]}");
}

}  // namespace credbroker::routes
