#pragma once
// The authorization-code exchange at an upstream's token endpoint (RFC 6749 §4.1.3, with the
// PKCE verifier of RFC 7636 §4.5). Whatever the endpoint answers, only its HTTP status and, when
// it is one of RFC 6749 §5.2's codes, its "error" code ever reach a log line.

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

/** A successful token response (RFC 6749 §5.1). */
struct TokenResponse {
  std::string access_token;
  std::string refresh_token;
  std::string token_type;
  std::optional<std::int64_t> expires_in;
  std::optional<std::vector<std::string>> scopes;  // from "scope", space-separated
};

enum class TokenErrorKind {
  kTransport,      // timeout, refused, TLS, body over the cap (see fetch)
  kHttpStatus,     // anything but 200 (redirects are not followed)
  kBadBody,        // neither a JSON object nor a form-encoded body
  kNoAccessToken,  // parsed, but no non-empty "access_token"
};

struct TokenError {
  TokenErrorKind kind = TokenErrorKind::kBadBody;
  int http_status = 0;
  http::FetchError fetch = http::FetchError::kOther;  // kind == kTransport
  std::string oauth_error;  // RFC 6749 §5.2 code when the body names one, else empty
};

/** The fixed label for logs: "transport:timeout" (…:connect, :tls, :too_large, :other),
 *  "http_status", "bad_body", "no_access_token". */
std::string describe(const TokenError& e);

/** The request the exchange sends: method, URL, headers, form body (exposed for tests). */
http::OutboundRequest build_code_exchange(const config::AuthBroker& broker,
                                          const CodeExchange& exchange);

/**
 * Parses a token endpoint body: JSON object, or application/x-www-form-urlencoded (some older
 * servers answer so). Pure.
 */
Result<TokenResponse, TokenError> parse_token_response(std::string_view content_type,
                                                       std::string_view body);

/** POSTs the exchange and parses the answer. */
Result<TokenResponse, TokenError> exchange_code(http::HttpClient& client,
                                                const config::AuthBroker& broker,
                                                const CodeExchange& exchange);

}  // namespace credbroker::oauth
