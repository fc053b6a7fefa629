// The handlers as Lambda functions, beyond what the black-box suites check through the emulated
// HTTP API (tests/support/fronts/lambda_front.h): payload 1.0 events (REST API, ALB), events the
// runtime cannot read, start-up failures reported to init/error, and the opt-in trust in API
// Gateway's JWT authorizer. Real redis-server, real handler processes, the Runtime API over real
// HTTP.
#define BOOST_TEST_MODULE integration_lambda_runtime
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "shared/store/user_keys.h"
#include "shared/util/clock.h"
#include "tests/support/fronts/lambda_front.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kAccessSentinel = "LAMBDA-ACCESS-SENTINEL-3e9d";

struct Suite : SuiteInstance<Suite> {
  Suite()
      : lambda(issuer, {.redis_url = redis.url()}),
        trusting(issuer, {.redis_url = redis.url(),
                          .keys = lambda.keys(),
                          .extra_identity = R"(, "trust_api_gateway_authorizer": true)"}) {}
  RedisServer redis;
  TestIssuer issuer;
  LambdaFront lambda;
  LambdaFront trusting;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
  }
};

rapidjson::Document json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << text);
  return d;
}

std::string str(const rapidjson::Value& v, const char* key) {
  BOOST_TEST_REQUIRE((v.IsObject() && v.HasMember(key) && v[key].IsString()), "no string " << key);
  return v[key].GetString();
}

/** A payload 2.0 event for `path`; `authorizer` is the requestContext member, if any. */
std::string v2_event(std::string_view path, std::string_view headers_json,
                     std::string_view authorizer = "") {
  return R"({"version":"2.0","routeKey":"ANY /api/{proxy+}","rawPath":")" + std::string(path) +
         R"(","rawQueryString":"","headers":)" + std::string(headers_json) +
         R"(,"requestContext":{"http":{"method":"GET","path":")" + std::string(path) +
         R"("},"requestId":"r1","stage":"$default")" + std::string(authorizer) +
         R"(},"isBase64Encoded":false})";
}

std::string claims_authorizer(std::string_view sub, std::string_view iss = kTestIssuer) {
  return R"(,"authorizer":{"jwt":{"claims":{"sub":")" + std::string(sub) + R"(","iss":")" +
         std::string(iss) + R"(","exp":"4102444800"},"scopes":null}})";
}

void seed_github(std::string_view user) {
  store::Credential c;
  c.access_token = std::string(kAccessSentinel);
  c.token_type = "Bearer";
  c.expires_at = system_clock().now_seconds() + 3600;
  c.updated_at = system_clock().now_seconds();
  seed_credential(S().redis.url(), S().lambda.keys(), user, default_server_key("github"), c);
}

/** The status of "github" in a list payload (the function's raw 2.0 response). */
std::string github_status(const Answer& invoked) {
  BOOST_TEST_REQUIRE(invoked.status == 200);
  BOOST_TEST_REQUIRE(!invoked.header("x-amz-function-error"), "function failed: " << invoked.body);
  const auto payload = json(invoked.body);
  BOOST_TEST_REQUIRE(payload["statusCode"].GetInt() == 200, "answered " << invoked.body);
  const auto list = json(str(payload, "body"));
  for (const auto& e : list["credentials"].GetArray()) {
    if (std::string(e["server"].GetString()) == "github") return str(e, "status");
  }
  BOOST_FAIL("no github entry");
  return "";
}

/** Waits (bounded) until `function`'s first handler process has exited; its wait status. */
std::optional<int> wait_for_exit(LambdaFront& front, std::string_view function) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (front.running(function) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return front.exit_status(function);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(payload_1_0, Clean)

BOOST_AUTO_TEST_CASE(rest_api_event_gets_a_1_0_answer) {
  seed_github("alice");
  const auto a = S().lambda.invoke(
      "list",
      R"({"resource":"/api/{proxy+}","path":"/api/v1/user/credentials","httpMethod":"GET",)"
      R"("headers":{"Authorization":"Bearer )" +
          S().issuer.token("alice") +
          R"("},"multiValueHeaders":null,"queryStringParameters":null,)"
          R"("requestContext":{"stage":"prod","requestId":"r2"},"body":null,"isBase64Encoded":false})");
  BOOST_TEST_REQUIRE(!a.header("x-amz-function-error"), a.body);
  const auto payload = json(a.body);
  BOOST_TEST(payload["statusCode"].GetInt() == 200);
  BOOST_TEST(str(payload["headers"], "Content-Type") == "application/json");
  BOOST_TEST(str(payload["headers"], "Cache-Control") == "no-store");
  BOOST_TEST(!payload.HasMember("multiValueHeaders"));
  BOOST_TEST(payload["isBase64Encoded"].GetBool() == false);
  BOOST_TEST(str(payload, "body")
                 .find(R"({"server":"github","mode":"oauth_connect","status":"connected")") !=
             std::string::npos);
  BOOST_TEST(a.body.find(kAccessSentinel) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(rest_api_path_keeps_its_encoding_and_reaches_the_route) {
  seed_github("alice");
  const auto a = S().lambda.invoke(
      "delete", R"({"path":"/api/v1/user/credentials/%20GitHub%20","httpMethod":"DELETE",)"
                R"("headers":{"authorization":"Bearer )" +
                    S().issuer.token("alice") + R"("}})");
  const auto payload = json(a.body);
  BOOST_TEST(payload["statusCode"].GetInt() == 200);
  BOOST_TEST(str(payload, "body") ==
             R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
  BOOST_TEST(S().redis.cli({"HLEN", store::credential_key("credbroker:", "alice")}).integer == 0);
}

BOOST_AUTO_TEST_CASE(alb_event_with_multi_value_headers_gets_them_back_and_a_status_line) {
  const auto a = S().lambda.invoke(
      "list", R"({"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:x"}},)"
              R"("httpMethod":"GET","path":"/api/v1/user/credentials",)"
              R"("multiValueQueryStringParameters":{},"multiValueHeaders":{"authorization":)"
              R"(["Bearer )" +
                  S().issuer.token("alice") + R"("]},"body":"","isBase64Encoded":false})");
  const auto payload = json(a.body);
  BOOST_TEST(payload["statusCode"].GetInt() == 200);
  BOOST_TEST(str(payload, "statusDescription") == "200 OK");
  BOOST_TEST(payload["headers"].ObjectEmpty());
  BOOST_TEST(payload["multiValueHeaders"]["Content-Type"][0].GetString() ==
             std::string("application/json"));
}

BOOST_AUTO_TEST_CASE(body_over_the_cap_is_413_without_running_the_route) {
  const auto a = S().lambda.invoke(
      "delete", R"({"path":"/api/v1/user/credentials/github","httpMethod":"DELETE","body":")" +
                    std::string(70 * 1024, 'x') + R"("})");
  const auto payload = json(a.body);
  BOOST_TEST(payload["statusCode"].GetInt() == 413);
  BOOST_TEST(str(payload, "body").find("Request body too large") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(unreadable_events, Clean)

BOOST_AUTO_TEST_CASE(malformed_event_is_posted_as_an_error_and_the_process_keeps_serving) {
  const std::string token = S().issuer.token("alice");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", "this is not an event {"},
      {"unknown shape", R"({"hello":"world"})"},
      {"path without slash", R"({"httpMethod":"GET","path":"api","headers":{"authorization":)"
                             R"("Bearer )" +
                                 token + R"("}})"},
      {"bad base64 body",
       R"({"httpMethod":"GET","path":"/api","body":"*","isBase64Encoded":true})"},
  };
  for (const auto& [what, event] : cases) {
    BOOST_TEST_CONTEXT(what) {
      const auto a = S().lambda.invoke("list", event);
      BOOST_TEST(a.header("x-amz-function-error").value_or("") == "Unhandled");
      const auto error = json(a.body);
      BOOST_TEST(str(error, "errorType") == "InvalidEvent");
      BOOST_TEST(str(error, "errorMessage").starts_with("invocation event"));
      BOOST_TEST(a.body.find(token) == std::string::npos);
    }
  }
  const std::string recorded = S().lambda.runtime_errors();
  BOOST_TEST(
      recorded.find(R"("function":"list","call":"invocation/error","error_type":"InvalidEvent")") !=
      std::string::npos);
  BOOST_TEST(recorded.find(token) == std::string::npos);
  BOOST_TEST(S().lambda.log().find(token) == std::string::npos);
  // Each refusal is logged with its label (runtime::label(EventError)), never an English phrase.
  const std::string log = S().lambda.log();
  BOOST_TEST(log.find(R"("event":"lambda_event_rejected")") != std::string::npos);
  for (const char* cause : {"not_json", "unknown_format", "bad_field", "bad_body"}) {
    BOOST_TEST(log.find(std::string(R"("cause":")") + cause + "\"") != std::string::npos, cause);
  }

  // The same (only) list process answers the next request.
  BOOST_TEST(S().lambda.running("list"));
  BOOST_TEST(S().lambda.get("/api/v1/user/credentials", token).status == 200);
  BOOST_TEST(S().lambda.running("list"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(start_up_failures)

BOOST_AUTO_TEST_CASE(bad_config_is_posted_to_init_error_and_the_process_exits_78) {
  LambdaFront broken(S().issuer, {.redis_url = S().redis.url(), .extra_config = R"(,"bogus": 1)"});
  BOOST_TEST_REQUIRE(wait_for_exit(broken, "list").has_value());
  const int status = *broken.exit_status("list");
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 78);
  const std::string recorded = broken.runtime_errors();
  BOOST_TEST(recorded.find(
                 R"("function":"list","call":"init/error","error_type":"Runtime.ConfigError")") !=
             std::string::npos);
  BOOST_TEST(recorded.find("bogus: unknown field") != std::string::npos);

  // Through the gateway: the init error fails the invocation at once, as a 502.
  const auto a = broken.request("GET", "/api/v1/user/credentials");
  BOOST_TEST(a.status == 502);
  BOOST_TEST(a.body == R"({"message":"Bad Gateway","function_error":"Runtime.ConfigError"})");
}

BOOST_AUTO_TEST_CASE(bad_keyring_is_reported_without_the_key) {
  constexpr std::string_view kKeySentinel = "S2V5U2VudGluZWwtOWY0YQ";  // base64, not 32 bytes
  LambdaFront broken(S().issuer,
                     {.redis_url = S().redis.url(), .keys = "k1:" + std::string(kKeySentinel)});
  const auto status = wait_for_exit(broken, "delete");
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(WEXITSTATUS(*status) == 78);
  const std::string recorded = broken.runtime_errors();
  BOOST_TEST(recorded.find(R"("function":"delete","call":"init/error")") != std::string::npos);
  BOOST_TEST(recorded.find("CREDBROKER_KEYS entry 1") != std::string::npos);
  BOOST_TEST(recorded.find(kKeySentinel) == std::string::npos);
  BOOST_TEST(broken.log().find(kKeySentinel) == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(api_gateway_authorizer, Clean)

BOOST_AUTO_TEST_CASE(off_by_default_claims_alone_do_not_authenticate) {
  seed_github("claims-user");
  const auto a = S().lambda.invoke(
      "list", v2_event("/api/v1/user/credentials", "{}", claims_authorizer("claims-user")));
  const auto payload = json(a.body);
  BOOST_TEST(payload["statusCode"].GetInt() == 401);
  // With a token, the token decides, not the claims.
  const auto b = S().lambda.invoke(
      "list", v2_event("/api/v1/user/credentials",
                       R"({"authorization":"Bearer )" + S().issuer.token("alice") + R"("})",
                       claims_authorizer("claims-user")));
  BOOST_TEST(github_status(b) == "not_connected");
}

BOOST_AUTO_TEST_CASE(on_the_user_comes_from_the_authorizer_claims) {
  seed_github("claims-user");
  const auto a = S().trusting.invoke(
      "list", v2_event("/api/v1/user/credentials", "{}", claims_authorizer("claims-user")));
  BOOST_TEST(github_status(a) == "connected");
  BOOST_TEST(S().trusting.log().find(R"("status":200,"user":"claims-user")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(on_claims_of_another_issuer_are_refused) {
  seed_github("claims-user");
  const auto a = S().trusting.invoke(
      "list", v2_event("/api/v1/user/credentials", "{}",
                       claims_authorizer("claims-user", "https://other-issuer.test")));
  BOOST_TEST(json(a.body)["statusCode"].GetInt() == 401);
}

BOOST_AUTO_TEST_CASE(on_without_claims_the_bearer_token_is_still_verified) {
  seed_github("alice");
  BOOST_TEST(S().trusting.get("/api/v1/user/credentials", S().issuer.token("alice")).status == 200);
  BOOST_TEST(S().trusting.get("/api/v1/user/credentials", "not.a.jwt").status == 401);
  BOOST_TEST(S().trusting.request("GET", "/api/v1/user/credentials").status == 401);
}

BOOST_AUTO_TEST_SUITE_END()
