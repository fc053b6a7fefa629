// One log label per value of each error enum: snake_case, distinct, and the function logs use.
#define BOOST_TEST_MODULE labels
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shared/crypto/seal.h"
#include "shared/http/client.h"
#include "shared/identity/authenticator.h"
#include "shared/oauth/token_client.h"
#include "shared/runtime/lambda_event.h"
#include "shared/store/redis.h"

using namespace credbroker;

namespace {

bool snake_case(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

/** Every label snake_case and no two alike. */
void check(const std::vector<std::string>& labels) {
  std::set<std::string> seen;
  for (const auto& l : labels) {
    BOOST_TEST(snake_case(l), l);
    BOOST_TEST(seen.insert(l).second, "repeated: " << l);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(redis_errors) {
  check({std::string(store::label(store::RedisError::kUnreachable)),
         std::string(store::label(store::RedisError::kRejected))});
  BOOST_TEST(store::label(store::RedisError::kUnreachable) == "unreachable");
}

BOOST_AUTO_TEST_CASE(seal_errors) {
  using crypto::OpenError;
  std::vector<std::string> labels;
  for (auto e : {OpenError::kMalformed, OpenError::kUnknownKeyId, OpenError::kAuthFailed}) {
    labels.emplace_back(crypto::label(e));
  }
  check(labels);
  BOOST_TEST(crypto::label(OpenError::kAuthFailed) == "auth_failed");
}

BOOST_AUTO_TEST_CASE(fetch_errors) {
  using http::FetchError;
  std::vector<std::string> labels;
  for (auto e : {FetchError::kTimeout, FetchError::kConnect, FetchError::kTls,
                 FetchError::kTooLarge, FetchError::kOther}) {
    labels.emplace_back(http::label(e));
    BOOST_TEST(http::label(e) != http::describe(e));  // the label, not the English
  }
  check(labels);
}

BOOST_AUTO_TEST_CASE(token_errors_name_the_transport_failure) {
  using oauth::TokenErrorKind;
  std::vector<std::string> labels;
  for (auto k :
       {TokenErrorKind::kHttpStatus, TokenErrorKind::kBadBody, TokenErrorKind::kNoAccessToken}) {
    labels.push_back(oauth::label(oauth::TokenError{.kind = k}));
  }
  check(labels);
  const oauth::TokenError timeout{.kind = TokenErrorKind::kTransport,
                                  .fetch = http::FetchError::kTimeout};
  BOOST_TEST(oauth::label(timeout) == "transport:timeout");
  BOOST_TEST(oauth::failure_label(timeout) == "transport:timeout");
  oauth::TokenError named{.kind = TokenErrorKind::kHttpStatus, .http_status = 400};
  named.oauth_error = "invalid_grant";
  BOOST_TEST(oauth::label(named) == "http_status");
  BOOST_TEST(oauth::failure_label(named) == "invalid_grant");
}

BOOST_AUTO_TEST_CASE(authentication_errors) {
  using identity::AuthErrorKind;
  std::vector<std::string> labels;
  for (auto k : {AuthErrorKind::kMissing, AuthErrorKind::kTooLarge, AuthErrorKind::kDuplicate,
                 AuthErrorKind::kKeysUnavailable}) {
    labels.emplace_back(identity::label(identity::AuthError{.kind = k}));
  }
  // A refused token is logged with the JWT's own label.
  labels.emplace_back(identity::label(
      identity::AuthError{.kind = AuthErrorKind::kInvalid, .jwt = identity::JwtError::kExpired}));
  check(labels);
  BOOST_TEST(labels.back() == identity::label(identity::JwtError::kExpired));
}

BOOST_AUTO_TEST_CASE(lambda_event_errors) {
  using runtime::EventError;
  std::vector<std::string> labels;
  for (auto e : {EventError::kTooLarge, EventError::kNotJson, EventError::kUnknownFormat,
                 EventError::kBadField, EventError::kBadBody}) {
    labels.emplace_back(runtime::label(e));
  }
  check(labels);
}
