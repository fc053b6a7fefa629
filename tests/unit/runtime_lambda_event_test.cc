#define BOOST_TEST_MODULE runtime_lambda_event
#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "shared/runtime/lambda_event.h"
#include "shared/runtime/runtime.h"

namespace credbroker::runtime {
namespace {

LambdaEvent parse_ok(const std::string& json) {
  auto e = parse_event(json);
  BOOST_REQUIRE_MESSAGE(e.ok(), "refused: " << (e.ok() ? "" : describe(e.error())) << " " << json);
  return std::move(e).value();
}

EventError parse_error(const std::string& json) {
  auto e = parse_event(json);
  BOOST_REQUIRE_MESSAGE(!e.ok(), "accepted: " << json);
  return e.error();
}

/** A payload 2.0 event as API Gateway's HTTP API sends it; `extra` adds top-level members. */
std::string v2(const std::string& raw_path, const std::string& extra = "",
               const std::string& method = "GET") {
  return R"({"version":"2.0","routeKey":"$default","rawPath":")" + raw_path +
         R"(","rawQueryString":"code=a%2Bb&state=xyz",)"
         R"("headers":{"authorization":"Bearer t0k","x-forwarded-for":"1.2.3.4, 5.6.7.8"},)"
         R"("requestContext":{"accountId":"123","http":{"method":")" +
         method +
         R"(","path":"/ignored","sourceIp":"1.2.3.4"},"stage":"$default"},)"
         R"("isBase64Encoded":false)" +
         extra + "}";
}

std::string header(const http::Request& r, std::string_view name) {
  return std::string(r.header(name).value_or("<none>"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(payload_2_0)

BOOST_AUTO_TEST_CASE(method_path_query_headers_and_body) {
  const auto e = parse_ok(v2("/api/v1/user/credentials", R"(,"body":"{\"a\":1}")", "DELETE"));
  BOOST_TEST((e.source == EventSource::kHttpApiV2));
  BOOST_TEST(e.request.method == "DELETE");
  BOOST_TEST(e.request.path == "/api/v1/user/credentials");
  BOOST_TEST(e.request.query == "code=a%2Bb&state=xyz");
  BOOST_TEST(header(e.request, "Authorization") == "Bearer t0k");
  // Duplicates arrive comma-joined and stay one header.
  BOOST_TEST(header(e.request, "x-forwarded-for") == "1.2.3.4, 5.6.7.8");
  BOOST_TEST(e.request.body == R"({"a":1})");
  BOOST_TEST(!e.request.gateway_claims.has_value());
}

BOOST_AUTO_TEST_CASE(an_http_api_raw_path_is_decoded_so_it_is_encoded_again_percent_included) {
  const auto e = parse_ok(v2("/api/v1/user/credentials/Docs Wiki/connect"));
  BOOST_TEST((e.path_form == PathForm::kDecoded));
  BOOST_TEST(e.request.path == "/api/v1/user/credentials/Docs%20Wiki/connect");
  // The client sent "100%2541": the HTTP API decoded it once to "100%41", and the route decodes
  // once more, so the name must reach it as "100%2541" (not "100A", a second decoding).
  BOOST_TEST(parse_ok(v2("/api/v1/user/credentials/100%41")).request.path ==
             "/api/v1/user/credentials/100%2541");
  BOOST_TEST(parse_ok(v2("/api/v1/user/credentials/100%")).request.path ==
             "/api/v1/user/credentials/100%25");
  BOOST_TEST(parse_ok(v2("/api/v1/user/credentials/a?b#c")).request.path ==
             "/api/v1/user/credentials/a%3Fb%23c");
  BOOST_TEST(parse_ok(v2("/api/v1/user/credentials/caf\u00e9")).request.path ==
             "/api/v1/user/credentials/caf%C3%A9");
  BOOST_TEST(parse_ok(v2(R"(/x/\"<>\\^`{|}\t)")).request.path ==
             "/x/%22%3C%3E%5C%5E%60%7B%7C%7D%09");
}

BOOST_AUTO_TEST_CASE(a_function_url_raw_path_is_still_encoded_and_kept) {
  const auto url = [](const std::string& raw_path,
                      std::string_view domain = "abcdefghij.lambda-url.eu-west-1.on.aws") {
    return R"({"version":"2.0","rawPath":")" + raw_path +
           R"(","rawQueryString":"","headers":{},"requestContext":{"accountId":"anonymous",)"
           R"("domainName":")" +
           std::string(domain) + R"(","http":{"method":"GET"}}})";
  };
  const auto e = parse_ok(url("/api/v1/user/credentials/Docs%20Wiki/connect"));
  BOOST_TEST((e.path_form == PathForm::kEncoded));
  BOOST_TEST(e.request.path == "/api/v1/user/credentials/Docs%20Wiki/connect");
  BOOST_TEST(parse_ok(url("/api/v1/user/credentials/100%2541")).request.path ==
             "/api/v1/user/credentials/100%2541");
  BOOST_TEST(parse_ok(url("/api/v1/user/credentials/%zz")).request.path ==
             "/api/v1/user/credentials/%zz");
  // A custom domain that only mentions lambda-url is an HTTP API's.
  BOOST_TEST(parse_ok(url("/x/100%41", "a.lambda-url.example.com")).request.path == "/x/100%2541");
}

BOOST_AUTO_TEST_CASE(cookies_become_one_cookie_header) {
  const auto e = parse_ok(v2("/api", R"(,"cookies":["a=1","b=2"])"));
  BOOST_TEST(header(e.request, "cookie") == "a=1; b=2");
}

BOOST_AUTO_TEST_CASE(base64_body_is_decoded) {
  std::string event = v2("/api", R"(,"body":"AAEC/w==")");
  event.replace(event.find(R"("isBase64Encoded":false)"), 23, R"("isBase64Encoded":true)");
  BOOST_TEST(parse_ok(event).request.body == std::string("\x00\x01\x02\xff", 4));
  event.replace(event.find("AAEC/w=="), 8, "not base64!");
  BOOST_TEST((parse_error(event) == EventError::kBadBody));
}

BOOST_AUTO_TEST_CASE(jwt_authorizer_claims_are_carried_as_text) {
  std::string event = v2("/api");
  event.replace(event.find(R"("stage")"), 7,
                R"("authorizer":{"jwt":{"claims":{"sub":"alice","exp":1800000000,)"
                R"("email_verified":true,"groups":["x"],"iss":"https://idp"},)"
                R"("scopes":["openid"]}},"stage")");
  const auto e = parse_ok(event);
  BOOST_REQUIRE(e.request.gateway_claims.has_value());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"sub", "alice"}, {"exp", "1800000000"}, {"email_verified", "true"}, {"iss", "https://idp"}};
  BOOST_TEST((*e.request.gateway_claims == expected));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(payload_1_0)

BOOST_AUTO_TEST_CASE(rest_api_event_with_single_value_fields) {
  const auto e = parse_ok(
      R"({"resource":"/{proxy+}","path":"/api/v1/user/credentials/Docs%20Wiki",)"
      R"("httpMethod":"DELETE","headers":{"Authorization":"Bearer t","Host":"x"},)"
      R"("multiValueHeaders":null,"queryStringParameters":{"scope":"openid profile","s":"a/b"},)"
      R"("multiValueQueryStringParameters":null,"requestContext":{"stage":"prod"},)"
      R"("body":null,"isBase64Encoded":false})");
  BOOST_TEST((e.source == EventSource::kRestApiV1));
  BOOST_TEST(!e.multi_value_headers);
  BOOST_TEST(e.request.method == "DELETE");
  BOOST_TEST(e.request.path == "/api/v1/user/credentials/Docs%20Wiki");
  BOOST_TEST(e.request.query == "scope=openid%20profile&s=a%2Fb");
  BOOST_TEST(header(e.request, "authorization") == "Bearer t");
  BOOST_TEST(e.request.body.empty());
}

BOOST_AUTO_TEST_CASE(a_rest_api_path_is_encoded_and_an_http_api_1_0_path_decoded) {
  const auto event = [](std::string_view version, const std::string& path) {
    return "{" + std::string(version) + R"("path":")" + path +
           R"(","httpMethod":"GET","headers":{},"requestContext":{"stage":"prod"}})";
  };
  const auto rest = parse_ok(event("", "/api/v1/user/credentials/100%2541"));
  BOOST_TEST((rest.path_form == PathForm::kEncoded));
  BOOST_TEST(rest.request.path == "/api/v1/user/credentials/100%2541");
  const auto http_api = parse_ok(event(R"("version":"1.0",)", "/api/v1/user/credentials/100%41"));
  BOOST_TEST((http_api.path_form == PathForm::kDecoded));
  BOOST_TEST(http_api.request.path == "/api/v1/user/credentials/100%2541");
}

BOOST_AUTO_TEST_CASE(an_alb_path_is_encoded_and_kept) {
  const auto e =
      parse_ok(R"({"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:x"}},)"
               R"("httpMethod":"GET","path":"/api/v1/user/credentials/100%2541","headers":{}})");
  BOOST_TEST((e.path_form == PathForm::kEncoded));
  BOOST_TEST(e.request.path == "/api/v1/user/credentials/100%2541");
}

BOOST_AUTO_TEST_CASE(multi_value_fields_win_and_keep_every_value) {
  const auto e =
      parse_ok(R"({"path":"/api","httpMethod":"GET","headers":{"accept":"b"},)"
               R"("multiValueHeaders":{"accept":["a","b"]},"queryStringParameters":{"x":"2"},)"
               R"("multiValueQueryStringParameters":{"x":["1","2"],"y":["&"]}})");
  BOOST_TEST(e.multi_value_headers);
  BOOST_TEST(e.request.headers.size() == 2u);
  BOOST_TEST(e.request.headers[0].second == "a");
  BOOST_TEST(e.request.headers[1].second == "b");
  BOOST_TEST(e.request.query == "x=1&x=2&y=%26");
}

BOOST_AUTO_TEST_CASE(alb_query_values_arrive_encoded_and_are_kept) {
  const auto e =
      parse_ok(R"({"requestContext":{"elb":{"targetGroupArn":"arn:aws:elasticloadbalancing:x"}},)"
               R"("httpMethod":"GET","path":"/api/v1/user/credentials/github/callback",)"
               R"("queryStringParameters":{"code":"a%2Bb","state":"s%3D"},"headers":{},)"
               R"("body":"","isBase64Encoded":false})");
  BOOST_TEST((e.source == EventSource::kAlb));
  BOOST_TEST(e.request.query == "code=a%2Bb&state=s%3D");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hostile_input)

BOOST_AUTO_TEST_CASE(not_an_event) {
  BOOST_TEST((parse_error("") == EventError::kNotJson));
  BOOST_TEST((parse_error("[]") == EventError::kNotJson));
  BOOST_TEST((parse_error(R"({"version":"2.0"} x)") == EventError::kNotJson));
  BOOST_TEST((parse_error(std::string("{\"a\":1}\0", 8)) == EventError::kNotJson));
  BOOST_TEST((parse_error("{\"rawPath\":\"/\xff\"}") == EventError::kNotJson));
  BOOST_TEST((parse_error("{}") == EventError::kUnknownFormat));
  BOOST_TEST((parse_error(R"({"version":"3.0","rawPath":"/"})") == EventError::kUnknownFormat));
}

BOOST_AUTO_TEST_CASE(oversized_event_is_refused_before_parsing) {
  const std::string big = v2("/api", R"(,"pad":")" + std::string(kMaxEventBytes, 'x') + "\"");
  BOOST_TEST((parse_error(big) == EventError::kTooLarge));
}

BOOST_AUTO_TEST_CASE(deep_nesting_does_not_exhaust_the_stack) {
  const int depth = 200000;
  const std::string deep = std::string(depth, '[') + std::string(depth, ']');
  BOOST_TEST(parse_ok(v2("/api", ",\"extra\":" + deep)).request.path == "/api");
  BOOST_TEST((parse_error(std::string(depth, '[')) == EventError::kNotJson));
}

BOOST_AUTO_TEST_CASE(malformed_fields) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"path without slash", v2("api")},
      {"empty path", v2("")},
      {"NUL in path", v2("/a\\u0000b")},
      {"method with a space", v2("/api", "", "GE T")},
      {"empty method", v2("/api", "", "")},
      {"duplicate rawPath", v2("/api", R"(,"rawPath":"/other")")},
      {"body not a string", v2("/api", R"(,"body":{"a":1})")},
      {"cookies not an array", v2("/api", R"(,"cookies":"a=1")")},
      {"cookie with CRLF", v2("/api", R"(,"cookies":["a=1\r\nx: y"])")},
      {"no requestContext.http",
       R"({"version":"2.0","rawPath":"/api","requestContext":{"stage":"$default"}})"},
      {"headers not an object", R"({"version":"2.0","rawPath":"/","headers":"x",)"
                                R"("requestContext":{"http":{"method":"GET"}}})"},
      {"duplicate header", R"({"version":"2.0","rawPath":"/","headers":{"a":"1","a":"2"},)"
                           R"("requestContext":{"http":{"method":"GET"}}})"},
      {"header value not a string", R"({"version":"2.0","rawPath":"/","headers":{"a":1},)"
                                    R"("requestContext":{"http":{"method":"GET"}}})"},
      {"header name not a token", R"({"version":"2.0","rawPath":"/","headers":{"a b":"1"},)"
                                  R"("requestContext":{"http":{"method":"GET"}}})"},
      {"header value with LF", R"({"version":"2.0","rawPath":"/","headers":{"a":"1\nb: 2"},)"
                               R"("requestContext":{"http":{"method":"GET"}}})"},
      {"duplicate claim", R"({"version":"2.0","rawPath":"/","requestContext":{"http":)"
                          R"({"method":"GET"},"authorizer":{"jwt":{"claims":)"
                          R"({"sub":"a","sub":"b"}}}}})"},
      {"isBase64Encoded not a bool", R"({"httpMethod":"GET","path":"/","isBase64Encoded":"yes"})"},
      {"multiValueHeaders value not an array",
       R"({"httpMethod":"GET","path":"/","multiValueHeaders":{"a":"b"}})"},
      {"query value not a string",
       R"({"httpMethod":"GET","path":"/","queryStringParameters":{"a":["b"]}})"},
      {"httpMethod not a string", R"({"httpMethod":1,"path":"/"})"},
      {"duplicate in a member nothing reads", v2("/api", R"(,"pathParameters":{"a":"1","a":"2"})")},
      {"duplicate in an unread claim", R"({"version":"2.0","rawPath":"/","requestContext":{"http":)"
                                       R"({"method":"GET"},"authorizer":{"jwt":{"claims":)"
                                       R"({"x":{"y":1,"y":2}}}}}})"},
      {"duplicate version", R"({"version":"2.0","version":"1.0","httpMethod":"GET","path":"/"})"},
  };
  for (const auto& [what, json] : cases) {
    BOOST_TEST_CONTEXT(what) {
      auto e = parse_event(json);
      BOOST_TEST(!e.ok());
      if (!e.ok()) BOOST_TEST((e.error() == EventError::kBadField));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(responses)

LambdaEvent event_of(EventSource source, bool multi = false) {
  LambdaEvent e;
  e.source = source;
  e.multi_value_headers = multi;
  return e;
}

/** A JSON error with two of its headers only (the codec's cases, not json_error's headers). */
http::Response sample() {
  http::Response r;
  r.status = 404;
  r.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  r.body = R"({"error":"Not Found","message":"Not found","status_code":404})";
  r.headers.emplace_back("Vary", "a");
  r.headers.emplace_back("vary", "b");
  return r;
}

BOOST_AUTO_TEST_CASE(payload_2_0_answer) {
  BOOST_TEST(format_response(sample(), event_of(EventSource::kHttpApiV2)) ==
             R"({"statusCode":404,"headers":{"Content-Type":"application/json",)"
             R"("Cache-Control":"no-store","Vary":"a, b"},)"
             R"("body":"{\"error\":\"Not Found\",\"message\":\"Not found\",\"status_code\":404}",)"
             R"("isBase64Encoded":false})");
}

BOOST_AUTO_TEST_CASE(set_cookie_goes_to_cookies_and_line_breaks_never_pass) {
  http::Response r = http::redirect("/ui/");
  r.headers.emplace_back("Set-Cookie", "a=1");
  r.headers.emplace_back("Set-Cookie", "b=2");
  r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: c=3");
  BOOST_TEST(format_response(r, event_of(EventSource::kHttpApiV2)) ==
             R"({"statusCode":302,"headers":{"Location":"/ui/","Cache-Control":"no-store"},)"
             R"("cookies":["a=1","b=2"],"body":"","isBase64Encoded":false})");
}

BOOST_AUTO_TEST_CASE(payload_1_0_answers_single_and_multi_value) {
  BOOST_TEST(
      format_response(sample(), event_of(EventSource::kRestApiV1))
          .find(R"("headers":{"Content-Type":"application/json","Cache-Control":"no-store"},)"
                R"("multiValueHeaders":{"Vary":["a","b"]},)") != std::string::npos);
  BOOST_TEST(format_response(sample(), event_of(EventSource::kRestApiV1, true))
                 .find(R"("headers":{},"multiValueHeaders":{"Content-Type":["application/json"],)"
                       R"("Cache-Control":["no-store"],"Vary":["a","b"]},)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(payload_1_0_without_repeated_headers_has_no_multi_value_member) {
  BOOST_TEST(format_response(http::redirect("/ui/"), event_of(EventSource::kRestApiV1)) ==
             R"({"statusCode":302,"headers":{"Location":"/ui/","Cache-Control":"no-store"},)"
             R"("body":"","isBase64Encoded":false})");
}

BOOST_AUTO_TEST_CASE(alb_answer_has_a_status_description) {
  BOOST_TEST(format_response(http::json_response(200, "{}"), event_of(EventSource::kAlb))
                 .starts_with(R"({"statusCode":200,"statusDescription":"200 OK","headers":{)"));
}

BOOST_AUTO_TEST_CASE(header_bytes_that_are_not_utf8_are_replaced) {
  http::Response r;
  r.headers.emplace_back("X-Bytes", "a\xff");
  BOOST_TEST(format_response(r, event_of(EventSource::kHttpApiV2)) ==
             "{\"statusCode\":200,\"headers\":{\"X-Bytes\":\"a\xEF\xBF\xBD\"},\"body\":\"\","
             "\"isBase64Encoded\":false}");
}

BOOST_AUTO_TEST_CASE(binary_body_is_base64) {
  http::Response r;
  r.body = std::string("\xff\x00", 2);
  BOOST_TEST(format_response(r, event_of(EventSource::kHttpApiV2)) ==
             R"({"statusCode":200,"headers":{},"body":"/wA=","isBase64Encoded":true})");
}

BOOST_AUTO_TEST_CASE(error_body_for_the_runtime_api) {
  BOOST_TEST(
      format_error("InvalidEvent", "invocation event is not a JSON object") ==
      R"({"errorMessage":"invocation event is not a JSON object","errorType":"InvalidEvent"})");
  BOOST_TEST(format_error("T", "a\"b\xff") == R"({"errorMessage":"a\"b)"
                                              "\xEF\xBF\xBD"
                                              R"(","errorType":"T"})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transport_choice)

BOOST_AUTO_TEST_CASE(the_runtime_api_variable_selects_lambda_unless_listen_is_given) {
  ::setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001", 1);
  auto c = choose_transport({});
  BOOST_REQUIRE(c.ok);
  BOOST_TEST((c.transport.kind == Transport::Kind::kLambda));
  BOOST_TEST(c.transport.runtime_api == "127.0.0.1:9001");
  c = choose_transport({"--listen", "127.0.0.1:9"});
  BOOST_REQUIRE(c.ok);
  BOOST_TEST((c.transport.kind == Transport::Kind::kFastCgiListen));
  ::setenv("AWS_LAMBDA_RUNTIME_API", "", 1);
  c = choose_transport({});
  BOOST_TEST((!c.ok || c.transport.kind != Transport::Kind::kLambda));
  ::unsetenv("AWS_LAMBDA_RUNTIME_API");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::runtime
