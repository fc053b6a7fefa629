#include "shared/routes/routes.h"

namespace credbroker::routes {

http::Response disconnect(const http::Request& request, Context& context, RequestNote& note) {
  auto call = begin_server_call(request, context, note, "", "DELETE");
  if (!call) return call.error();
  const std::string& user = call->user;
  const config::Server& server = *call->server;
  if (auto removed = context.credentials.remove(user, server.key); !removed) {
    return store_failure(removed.error(), note);
  }
  context.log.info("credential_disconnected",
                   {{"user", std::string_view(user)}, {"server", std::string_view(server.name)}});
  return http::json_response(
      200, "{\"message\":" +
               http::json_quote(with_quoted("Disconnected credential for ", server.name)) + "}");
}

}  // namespace credbroker::routes
