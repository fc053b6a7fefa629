#include "shared/identity/gateway_claims.h"

#include <charconv>

namespace credbroker::identity {

namespace {

const std::string* find_claim(const GatewayClaims& claims, std::string_view name) {
  for (const auto& [k, v] : claims) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

Result<VerifiedToken, AuthError> verify_gateway_claims(const GatewayClaims& claims,
                                                       const VerifyPolicy& policy) {
  if (!policy.issuer.empty()) {
    const std::string* iss = find_claim(claims, "iss");
    if (iss == nullptr || *iss != policy.issuer) {
      return Err(AuthError{AuthErrorKind::kInvalid, JwtError::kWrongIssuer});
    }
  }
  const std::string* user = find_claim(claims, policy.user_claim);
  if (user == nullptr || user->empty()) {
    return Err(AuthError{AuthErrorKind::kInvalid, JwtError::kMissingUserClaim});
  }
  VerifiedToken out{*user, 0};
  if (const std::string* exp = find_claim(claims, "exp")) {
    std::int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(exp->data(), exp->data() + exp->size(), n);
    if (ec == std::errc() && ptr == exp->data() + exp->size()) out.expires_at = n;
  }
  return out;
}

}  // namespace credbroker::identity
