#pragma once
// The caller as API Gateway's JWT authorizer already verified it (opt-in:
// identity.trust_api_gateway_authorizer). Pure: claims in, user out; no signature is checked here
// because API Gateway checked it, which is exactly why this is only safe when every route that can
// invoke the function has that authorizer (docs/deploy/lambda.md, "Trusting the authorizer").

#include <string>
#include <utility>
#include <vector>

#include "shared/identity/authenticator.h"

namespace credbroker::identity {

using GatewayClaims = std::vector<std::pair<std::string, std::string>>;

/**
 * The user named by `policy.user_claim` in `claims` (kInvalid/kMissingUserClaim when absent or
 * empty). When `policy.issuer` is set, the "iss" claim must equal it (kInvalid/kWrongIssuer): an
 * authorizer pointed at another issuer must not sign users in. The audience is left to the
 * authorizer: for access tokens it checks "client_id" where there is no "aud" (Cognito).
 * expires_at is "exp" when it is a decimal number, else 0.
 */
Result<VerifiedToken, AuthError> verify_gateway_claims(const GatewayClaims& claims,
                                                       const VerifyPolicy& policy);

}  // namespace credbroker::identity
