#pragma once
// Who is calling: reads the configured identity header, verifies the JWT, caches verified tokens
// per process until their exp (bounded), and keeps the key set fresh (JWKS URL re-fetched on an
// unknown kid at most once per 60 s).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shared/config/config.h"
#include "shared/http/client.h"
#include "shared/http/request.h"
#include "shared/identity/jwt.h"
#include "shared/identity/key_source.h"
#include "shared/util/clock.h"
#include "shared/util/result.h"

namespace credbroker::identity {

enum class AuthErrorKind {
  kMissing,          // no identity header, or "Authorization" without the Bearer scheme
  kTooLarge,         // header over 16 KiB: refused before parsing
  kDuplicate,        // the identity header more than once, as separate fields or comma-joined
  kInvalid,          // the token was refused (see jwt)
  kKeysUnavailable,  // the key set could not be loaded (JWKS URL unreachable): a 503, not a 401
};

struct AuthError {
  AuthErrorKind kind;
  JwtError jwt = JwtError::kMalformed;  // meaningful when kind == kInvalid
};

/** The log label of a refusal: "no_credentials", "identity_header_too_large",
 *  "duplicate_identity_header", "identity_keys_unavailable", or label(JwtError) when kInvalid. */
std::string_view label(const AuthError& e);

/**
 * The raw token the identity header `header` carries: the Bearer credential (RFC 6750 §2.1) when
 * it is "Authorization", else the whole value, trimmed. kMissing when absent or empty, kTooLarge
 * beyond 16 KiB. The Authenticator reads the header with it, and the front authorizer to pass the
 * token on as the subject of a token exchange.
 */
Result<std::string_view, AuthErrorKind> extract_token(const http::Request& request,
                                                      std::string_view header);

class Authenticator {
 public:
  Authenticator(const config::Identity& identity, KeySource& keys, const Clock& clock,
                std::size_t cache_capacity = 4096);
  /** The verified caller, or why not. With identity.trust_api_gateway_authorizer on, a request
   *  carrying gateway_claims is decided by verify_gateway_claims() instead (gateway_claims.h). */
  Result<VerifiedToken, AuthError> authenticate(const http::Request& request);
  /** Verifies a token that arrived some other way than the identity header (the resolve route's
   *  subject_token), with the same policy, size limit and cache. */
  Result<VerifiedToken, AuthError> verify(std::string_view token);

  std::size_t cache_size() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace credbroker::identity
