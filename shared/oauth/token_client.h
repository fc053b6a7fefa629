#pragma once
// Every grant credbroker sends to an upstream's token endpoint: the authorization-code exchange
// (RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636 §4.5), the refresh (RFC 6749 §6), the token
// exchange (RFC 8693 §2.1) and Microsoft Entra's on-behalf-of grant (a JWT bearer assertion,
// RFC 7523 §2.1, with requested_token_use=on_behalf_of), and the revocation of a stored token
// (RFC 7009 §2.1) at the revocation endpoint. All use the server's one client authentication.
// Whatever the endpoint answers, only its HTTP status and, when it is one of RFC 6749 §5.2's codes,
// its "error" code ever reach a log line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"
#include "shared/http/client.h"
#include "shared/util/result.h"

namespace credbroker::oauth {

struct CodeExchange {
  std::string code;
  std::string redirect_uri;
  std::string code_verifier;
};

/** What a resolve sends to obtain a credential without the user's browser. */
struct Grant {
  enum class Kind {
    kRefresh,        // grant_type=refresh_token with `token` as the refresh token
    kTokenExchange,  // RFC 8693 with `token` as the subject token
    kOnBehalfOf,     // Entra OBO with `token` as the assertion
  };
  Kind kind;
  std::string token;

  ~Grant();  // cleanses `token`; see store::Credential
};

/** Overwrites and empties the token. */
void cleanse(Grant& grant) noexcept;

/** A successful token response (RFC 6749 §5.1). */
struct TokenResponse {
  std::string access_token;
  std::string refresh_token;
  std::string token_type;
  std::optional<std::int64_t> expires_in;
  std::optional<std::vector<std::string>> scopes;  // from "scope", space-separated

  // Every copy clears its tokens when it goes (cleanse() below); see store::Credential.
  ~TokenResponse();
};

/** Overwrites and empties both tokens. */
void cleanse(TokenResponse& response) noexcept;

enum class TokenErrorKind {
  kTransport,      // timeout, refused, TLS, body over the cap (see fetch)
  kHttpStatus,     // anything but 200 (redirects are not followed)
  kBadBody,        // neither a JSON object nor a form-encoded body
  kNoAccessToken,  // parsed, but no "access_token" of 1*VSCHAR (RFC 6749 §A.12), or a
                   // "refresh_token" that is not 1*VSCHAR (§A.17)
};

struct TokenError {
  TokenErrorKind kind = TokenErrorKind::kBadBody;
  int http_status = 0;
  http::FetchError fetch = http::FetchError::kOther;  // kind == kTransport
  std::string oauth_error;  // RFC 6749 §5.2 code when the body names one, else empty
};

/** The fixed label for logs: "transport:timeout" (…:connect, :tls, :too_large, :other),
 *  "http_status", "bad_body", "no_access_token". */
std::string label(const TokenError& e);

/** What a failure is recorded as (audit events): the RFC 6749 §5.2 / RFC 7009 §2.2.1 code the
 *  endpoint named, else label(). */
std::string failure_label(const TokenError& e);

/** The request the exchange sends: method, URL, headers, form body (exposed for tests). */
http::OutboundRequest build_code_exchange(const config::AuthBroker& broker,
                                          const CodeExchange& exchange);

/**
 * Parses a token endpoint body: JSON object, or application/x-www-form-urlencoded (some older
 * servers answer so). Pure.
 */
Result<TokenResponse, TokenError> parse_token_response(std::string_view content_type,
                                                       std::string_view body);

/** The refresh, token-exchange or on-behalf-of request (exposed for tests). */
http::OutboundRequest build_grant(const config::AuthBroker& broker, const Grant& grant);

/** Which token a revocation names (RFC 7009 §2.1 "token_type_hint"). */
enum class TokenKind { kRefreshToken, kAccessToken };
/** "refresh_token", "access_token": the hint on the wire, also the label in answers and logs. */
std::string_view token_kind_name(TokenKind kind);

/** The revocation request for `token` (exposed for tests); `broker.revocation_endpoint` is set. */
http::OutboundRequest build_revocation(const config::AuthBroker& broker, std::string_view token,
                                       TokenKind kind);

/**
 * POSTs a revocation. RFC 7009 §2.2: 200 means accepted (also for a token the server no longer
 * knows); any other status is kHttpStatus (with the §2.2.1 or §5.2 code when the body names a known
 * one), no answer kTransport.
 */
Result<Unit, TokenError> revoke(http::HttpClient& client, const config::AuthBroker& broker,
                                std::string_view token, TokenKind kind);

/**
 * Whether the token endpoint answers like one, without sending a grant (credbroker-admin
 * check-config): a POST with the server's client authentication and no grant_type. An OAuth 2.0
 * server answers 400 invalid_request or unsupported_grant_type (RFC 6749 §5.2): success. Anything
 * else is the error: kTransport, or kHttpStatus with the code named (invalid_client: the client
 * authentication was refused).
 */
Result<Unit, TokenError> probe_token_endpoint(http::HttpClient& client,
                                              const config::AuthBroker& broker);

/** POSTs the exchange and parses the answer. */
Result<TokenResponse, TokenError> exchange_code(http::HttpClient& client,
                                                const config::AuthBroker& broker,
                                                const CodeExchange& exchange);

/** POSTs a refresh, token exchange or on-behalf-of grant and parses the answer. */
Result<TokenResponse, TokenError> request_grant(http::HttpClient& client,
                                                const config::AuthBroker& broker,
                                                const Grant& grant);

}  // namespace credbroker::oauth
