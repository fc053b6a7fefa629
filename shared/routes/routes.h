#pragma once
// One function per route (one file each). Each matches its own path shape, checks the method,
// authenticates, then maps the request to a response.

#include "shared/routes/context.h"

namespace credbroker::routes {

/** GET /api/v1/user/credentials — every brokered upstream with the caller's status. */
http::Response list(const http::Request& request, Context& context, RequestNote& note);

/** DELETE /api/v1/user/credentials/{server} — disconnect the caller's own credential. */
http::Response disconnect(const http::Request& request, Context& context, RequestNote& note);

/** GET /api/v1/user/credentials/{server}/connect — start authorization code + PKCE. */
http::Response connect(const http::Request& request, Context& context, RequestNote& note);

/** GET /api/v1/user/credentials/{server}/callback — finish it and store the credential. */
http::Response callback(const http::Request& request, Context& context, RequestNote& note);

inline constexpr std::string_view kResolvePath = "/api/v1/internal/credentials/resolve";

/** POST /api/v1/internal/credentials/resolve — a gateway (authenticated by the `resolve` config
 *  block) obtains a signed-in user's fresh upstream credential (shared/broker/resolver.h). */
http::Response resolve(const http::Request& request, Context& context, RequestNote& note);

/**
 * <authorize.path_prefix><server>/<rest> — the front authorizer: verifies the user's identity
 * header, resolves their credential for <server> (shared/broker/resolver.h) and answers 200 with
 * the header to inject and the upstream URL as FastCGI authorizer variables, or the refusal.
 */
http::Response authorize(const http::Request& request, Context& context, RequestNote& note);

inline constexpr std::string_view kHealthPath = "/api/v1/healthz";

/** GET /api/v1/healthz — no authentication: 200 when Redis answers PING, 503 naming what fails. */
http::Response health(const http::Request& request, Context& context, RequestNote& note);

/** The redirect URI registered for `server`: public_base_url +
 * "/api/v1/user/credentials/<name>/callback". */
std::string callback_uri(const config::Config& config, const config::Server& server);

}  // namespace credbroker::routes
