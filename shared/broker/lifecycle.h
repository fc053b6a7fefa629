#pragma once
// The rules of a stored credential's life, pure (no I/O, `now` passed in): what a token endpoint
// answer becomes as a record, whether a record can be handed out, must be renewed first or needs
// the user to connect again, and how the list route names its state. The one home of these rules:
// callback, list and the resolver all ask here.

#include <cstdint>
#include <string>
#include <string_view>

#include "shared/config/config.h"
#include "shared/oauth/token_client.h"
#include "shared/store/credential_store.h"

namespace credbroker::broker {

/** What a resolve does with a stored record. */
enum class Standing {
  kUsable,     // hand it out as it is
  kRenew,      // refresh it (oauth_connect with a refresh token) or exchange again
  kReconnect,  // oauth_connect: refused by the upstream, or expired with nothing to refresh it
};

/**
 * A record is renewed once it is within the server's refresh_window_seconds of its expiry; for a
 * short-lived credential the window shrinks to half its lifetime (expires_at - updated_at), so a
 * 30-second token is not renewed on every use. No expiry: always usable.
 */
Standing standing(const store::Credential& credential, const config::AuthBroker& broker,
                  std::int64_t now);

/** The list route's status of a stored record: "connected" while it is usable or an
 *  oauth_connect refresh token can renew it, "expired" once the user must connect again (or, for
 *  the exchange modes, until the next resolve exchanges again). */
std::string_view list_status(const store::Credential& credential, const config::AuthBroker& broker,
                             std::int64_t now);

/** "expires_in" (RFC 6749 §5.1) as an instant: absent or 0 means no expiry (as the reference
 *  gateway reads it), else now + expires_in. */
std::int64_t expiry_from(const oauth::TokenResponse& token, std::int64_t now);

/** The record a code exchange (connect/callback) yields. */
store::Credential from_code_exchange(const oauth::TokenResponse& token,
                                     const config::AuthBroker& broker, std::int64_t now);

/** The record after a refresh: a rotated refresh token replaces the old one, an answer without
 *  one keeps it (RFC 6749 §6); scopes likewise. */
store::Credential after_refresh(const store::Credential& old, const oauth::TokenResponse& token,
                                std::int64_t now);

/** The record after the upstream refused the refresh token: tokens dropped, reconnect_required. */
store::Credential refused(const store::Credential& old, std::int64_t now);

/** The record a token exchange or on-behalf-of grant yields; it never outlives the subject token
 *  it was obtained with (`subject_expires_at`). No refresh token is kept: it is exchanged again. */
store::Credential from_exchange(const oauth::TokenResponse& token, const config::AuthBroker& broker,
                                std::int64_t now, std::int64_t subject_expires_at);

/** The header value a credential is presented in: header_format with "{token}" replaced. */
std::string header_value(const config::AuthBroker& broker, std::string_view access_token);

/** The path that starts a connect for `server`: "/api/v1/user/credentials/<name>/connect". */
std::string connect_path(const config::Server& server);

}  // namespace credbroker::broker
