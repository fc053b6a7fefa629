// The identity header forms real front servers send, each through the front to the handlers:
// plain Authorization: Bearer, AWS ALB x-amzn-oidc-data (ES256, padded base64url), Google IAP
// x-goog-iap-jwt-assertion (ES256) and Cloudflare Access cf-access-jwt-assertion (RS256).
#define BOOST_TEST_MODULE integration_header_forms
#include <boost/test/unit_test.hpp>

#include "shared/util/clock.h"
#include "shared/util/strings.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";

struct Suite : SuiteInstance<Suite> {
  Suite() {}
  RedisServer redis;
  TestIssuer issuer;
};
CREDBROKER_TEST_SUITE(Suite)

std::string token_with(const SigningKey& key, std::string_view user, bool padded) {
  return mint(key, S().issuer.claims(user).exp(system_clock().now_seconds() + 600), padded);
}

void expect_user_served(Front& stack, std::string_view header, const std::string& token,
                        std::string_view user) {
  const auto a = stack.request("GET", kList, {{std::string(header), token}});
  BOOST_TEST(a.status == 200);
  BOOST_TEST(stack.log().find(R"("status":200,"user":")" + std::string(user) + "\"") !=
             std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_CASE(x_amzn_oidc_data_outside_the_alb_mode_refuses_padded_segments) {
  auto stack = start_front(S().issuer,
                           {.redis_url = S().redis.url(), .identity_header = "x-amzn-oidc-data"});
  const auto token = token_with(S().issuer.key(), "alb-user", /*padded=*/true);
  BOOST_TEST(token.find('=') != std::string::npos);
  BOOST_TEST(stack->request("GET", kList, {{"X-Amzn-Oidc-Data", token}}).status == 401);
  expect_user_served(*stack, "X-Amzn-Oidc-Data", token_with(S().issuer.key(), "alb-user", false),
                     "alb-user");
  // The configured header is the only source: a Bearer token is not looked at.
  BOOST_TEST(stack->get(kList, S().issuer.token("alb-user")).status == 401);
  // Nor is a spelling with '_', which CGI would name HTTP_X_AMZN_OIDC_DATA all the same: a front
  // that strips the client's X-Amzn-Oidc-Data must not be passed by X_Amzn_Oidc_Data.
  BOOST_TEST(stack->request("GET", kList, {{"X_Amzn_Oidc_Data", token}}).status == 401);
}

BOOST_AUTO_TEST_CASE(google_iap_x_goog_iap_jwt_assertion) {
  auto stack = start_front(
      S().issuer, {.redis_url = S().redis.url(), .identity_header = "x-goog-iap-jwt-assertion"});
  expect_user_served(*stack, "x-goog-iap-jwt-assertion",
                     token_with(S().issuer.key(), "iap-user", false), "iap-user");
}

BOOST_AUTO_TEST_CASE(cloudflare_access_cf_access_jwt_assertion_rs256) {
  auto stack = start_front(
      S().issuer, {.redis_url = S().redis.url(), .identity_header = "cf-access-jwt-assertion"});
  expect_user_served(*stack, "Cf-Access-Jwt-Assertion",
                     token_with(S().issuer.rsa_key(), "cf-user", false), "cf-user");
}

BOOST_AUTO_TEST_CASE(plain_authorization_bearer) {
  auto stack = start_front(S().issuer, {.redis_url = S().redis.url()});
  expect_user_served(*stack, "Authorization",
                     "Bearer " + token_with(S().issuer.rsa_key(), "bearer-user", false),
                     "bearer-user");
}

BOOST_AUTO_TEST_CASE(an_identity_header_sent_twice_is_a_401_logged_as_a_duplicate_on_every_front) {
  // However the front delivers the repetition (nginx 1.22: two FastCGI params, or its own 400 for
  // Authorization; lighttpd and Apache: one value joined with ", "; the Lambda emulator as API
  // Gateway 2.0: joined with ","), the handler refuses it rather than pick a copy.
  for (const std::string header : {"Authorization", "X-Amzn-Oidc-Data"}) {
    BOOST_TEST_CONTEXT(header) {
      auto stack = start_front(S().issuer,
                               {.redis_url = S().redis.url(), .identity_header = to_lower(header)});
      const bool bearer = header == "Authorization";
      const auto value = [&](std::string_view user) {
        const auto token = token_with(S().issuer.key(), user, false);
        return bearer ? "Bearer " + token : token;
      };
      for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
               {value("alice"), value("mallory")}, {value("alice"), value("alice")}}) {
        const auto a = stack->request("GET", kList, {{header, first}, {header, second}});
        if (bearer && stack->kind() == "nginx") {
          // nginx knows Authorization as a single-valued field and refuses a second one itself
          // ("client sent duplicate header line"): its JSON 400, the handler never asked.
          BOOST_TEST(a.status == 400);
          BOOST_TEST(a.body.find("Malformed request") != std::string::npos, a.body);
          continue;
        }
        BOOST_TEST(a.status == 401);
        BOOST_TEST(a.body.find("Authentication required") != std::string::npos, a.body);
        BOOST_TEST(stack->log().find(R"("reason":"duplicate_identity_header")") !=
                   std::string::npos);
      }
      // One copy still works.
      expect_user_served(*stack, header, value("alice"), "alice");
    }
  }
}

BOOST_AUTO_TEST_CASE(
    alb_mode_accepts_real_shaped_tokens_for_our_signer_and_refuses_another_account) {
  constexpr std::string_view kKid = "5b1f3e0c-6a2d-4c8e-9f7a-0d1e2f3a4b5c";
  const std::string ours =
      "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/ours/50dc6c495c0c9188";
  const SigningKey& key = S().issuer.key();
  HttpServer keys([&](const RecordedRequest& r) {
    if (r.target != "/keys/" + std::string(kKid)) return ScriptedResponse{.status = 404};
    return ScriptedResponse{.status = 200, .body = public_key_pem(key)};
  });
  auto stack = start_front(
      S().issuer, {.redis_url = S().redis.url(),
                   .identity_header = "x-amzn-oidc-data",
                   .alb_json = R"({"signer_arns": [")" + ours + R"("], "key_url_pattern": ")" +
                               keys.url("/keys/{kid}") + R"("})"});
  const auto token = [&](std::string_view signer) {
    const auto exp = std::to_string(system_clock().now_seconds() + 120);
    return sign(key,
                R"({"typ":"JWT","kid":")" + std::string(kKid) + R"(","alg":"ES256","iss":")" +
                    std::string(kTestIssuer) + R"(","client":"app-client","signer":")" +
                    std::string(signer) + R"(","exp":)" + exp + "}",
                R"({"sub":"alb-user","email":"alb-user@example.com","exp":)" + exp + R"(,"iss":")" +
                    std::string(kTestIssuer) + R"("})",
                /*padded=*/true);
  };
  const auto good = token(ours);
  BOOST_TEST(good.find('=') != std::string::npos);
  expect_user_served(*stack, "X-Amzn-Oidc-Data", good, "alb-user");
  const auto a = stack->request(
      "GET", kList,
      {{"X-Amzn-Oidc-Data",
        token("arn:aws:elasticloadbalancing:eu-west-1:444455556666:loadbalancer/app/theirs/1")}});
  BOOST_TEST(a.status == 401);
  BOOST_TEST(stack->log().find(R"("reason":"alb_wrong_signer")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_20_kib_identity_header_is_refused_as_too_large_and_never_as_missing) {
  // Over the handlers' 16 KiB and under the servers' 32 KiB: the front passes it on (or, Apache
  // mod_proxy_fcgi, whose FastCGI records hold 16 KiB, says it could not) and the handler refuses
  // it as too large, never as a request without credentials.
  for (const std::string header : {"Authorization", "X-Amzn-Oidc-Data"}) {
    BOOST_TEST_CONTEXT(header) {
      auto stack = start_front(S().issuer,
                               {.redis_url = S().redis.url(), .identity_header = to_lower(header)});
      const std::string marker = "OVERSIZE-IDENTITY-7d41";
      const std::string filler = marker + std::string(20 * 1024, 'A');
      const auto a = stack->request(
          "GET", kList, {{header, header == "Authorization" ? "Bearer " + filler : filler}});
      BOOST_TEST(stack->log().find(marker) == std::string::npos);
      if (stack->kind() == "lambda") {
        // API Gateway never invokes a function with it (an HTTP API takes 10 KiB of request line
        // and headers); the emulator's HTTP server refuses it itself.
        BOOST_TEST(a.status == 431);
        continue;
      }
      BOOST_TEST(a.status == 401);
      BOOST_TEST(a.body.find("Authentication required") != std::string::npos, a.body);
      BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"");
      BOOST_TEST(stack->log().find(R"("reason":"identity_header_too_large")") != std::string::npos);
    }
  }
}
