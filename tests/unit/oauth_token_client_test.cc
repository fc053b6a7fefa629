// The token endpoint client: the exact request per client authentication method (RFC 6749
// §2.3.1, §4.1.3), the revocation request and its outcomes (RFC 7009 §2.1, §2.2), parsing of JSON
// and form bodies (RFC 6749 §5.1, §5.2) including hostile ones, and the mapping of what a (fake)
// HttpClient answers onto TokenError.
#define BOOST_TEST_MODULE oauth_token_client
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shared/oauth/token_client.h"
#include "tests/support/fakes/fakes.h"

namespace credbroker::oauth {
namespace {

namespace bdata = boost::unit_test::data;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";  // RFC 7636 App. B
constexpr char kRedirectUri[] = "https://cb.test/api/v1/user/credentials/github/callback";
constexpr char kEncodedRedirectUri[] =
    "https%3A%2F%2Fcb.test%2Fapi%2Fv1%2Fuser%2Fcredentials%2Fgithub%2Fcallback";

config::AuthBroker broker(config::ClientAuthMethod method) {
  config::AuthBroker b{.mode = config::BrokerMode::kOAuthConnect};
  b.token_endpoint = "https://as.test/oauth/token?tenant=acme";
  b.client_id = "gh-client";
  b.client_secret = "s3cr3t";
  b.token_endpoint_auth_method = method;
  return b;
}

CodeExchange exchange() {
  return {.code = "c0de/+= x", .redirect_uri = kRedirectUri, .code_verifier = kVerifier};
}

const std::string kCommonForm =
    std::string("grant_type=authorization_code&code=c0de%2F%2B%3D%20x") +
    "&redirect_uri=" + kEncodedRedirectUri + "&code_verifier=" + kVerifier;

TokenResponse parsed_ok(std::string_view content_type, std::string_view body) {
  auto r = parse_token_response(content_type, body);
  BOOST_TEST_REQUIRE(r.ok(), "expected a token response from: " << body.substr(0, 200));
  return r.value();
}

TokenError parsed_error(std::string_view content_type, std::string_view body) {
  auto r = parse_token_response(content_type, body);
  BOOST_TEST_REQUIRE(!r.ok(), "expected an error from: " << body.substr(0, 200));
  return r.error();
}

std::optional<std::int64_t> expires_in_of(std::string_view raw_json_value) {
  const std::string body =
      R"({"access_token":"at","expires_in":)" + std::string(raw_json_value) + "}";
  return parsed_ok("application/json", body).expires_in;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(code_exchange_request)

BOOST_AUTO_TEST_CASE(client_secret_post_puts_id_and_secret_in_the_form) {
  const auto r =
      build_code_exchange(broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.url == "https://as.test/oauth/token?tenant=acme");
  const Headers want = {{"Content-Type", kFormType}, {"Accept", "application/json"}};
  BOOST_TEST((r.headers == want));
  BOOST_TEST(r.body == kCommonForm + "&client_id=gh-client&client_secret=s3cr3t");
}

BOOST_AUTO_TEST_CASE(client_secret_basic_form_encodes_id_and_secret_before_base64) {
  // RFC 6749 §2.3.1: both are application/x-www-form-urlencoded, then joined with ':'.
  auto b = broker(config::ClientAuthMethod::kClientSecretBasic);
  b.client_id = "wiki client";
  b.client_secret = "p@ss:w rd+%";
  const auto r = build_code_exchange(b, exchange());
  // base64("wiki+client:p%40ss%3Aw+rd%2B%25")
  const Headers want = {{"Content-Type", kFormType},
                        {"Accept", "application/json"},
                        {"Authorization", "Basic d2lraStjbGllbnQ6cCU0MHNzJTNBdytyZCUyQiUyNQ=="}};
  BOOST_TEST((r.headers == want));
  BOOST_TEST(r.body == kCommonForm, "neither client_id nor client_secret in the body");
}

BOOST_AUTO_TEST_CASE(none_sends_only_the_client_id) {
  auto b = broker(config::ClientAuthMethod::kNone);
  b.client_secret.clear();
  const auto r = build_code_exchange(b, exchange());
  const Headers want = {{"Content-Type", kFormType}, {"Accept", "application/json"}};
  BOOST_TEST((r.headers == want));
  BOOST_TEST(r.body == kCommonForm + "&client_id=gh-client");
}

BOOST_AUTO_TEST_CASE(none_never_sends_a_secret_even_when_one_is_configured) {
  const auto r = build_code_exchange(broker(config::ClientAuthMethod::kNone), exchange());
  BOOST_TEST(r.body.find("s3cr3t") == std::string::npos);
  for (const auto& [k, v] : r.headers) BOOST_TEST(v.find("s3cr3t") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_json)

BOOST_AUTO_TEST_CASE(full_response_keeps_every_field) {
  const auto t = parsed_ok("application/json; charset=utf-8",
                           R"({"access_token":"at-1","refresh_token":"rt-1","token_type":"Bearer",)"
                           R"("expires_in":3600,"scope":"repo read:org","id_token":"ignored"})");
  BOOST_TEST(t.access_token == "at-1");
  BOOST_TEST(t.refresh_token == "rt-1");
  BOOST_TEST(t.token_type == "Bearer");
  BOOST_TEST_REQUIRE(t.expires_in.has_value());
  BOOST_TEST(*t.expires_in == 3600);
  BOOST_TEST_REQUIRE(t.scopes.has_value());
  BOOST_TEST(*t.scopes == (std::vector<std::string>{"repo", "read:org"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(minimal_response_leaves_optional_fields_unset) {
  const auto t = parsed_ok("application/json", R"({"access_token":"at"})");
  BOOST_TEST(t.access_token == "at");
  BOOST_TEST(t.refresh_token.empty());
  BOOST_TEST(t.token_type.empty());
  BOOST_TEST(!t.expires_in.has_value());
  BOOST_TEST(!t.scopes.has_value(), "absent scope means: as requested (RFC 6749 §5.1)");
}

BOOST_AUTO_TEST_CASE(json_without_a_content_type_is_parsed) {
  BOOST_TEST(parsed_ok("", R"({"access_token":"at"})").access_token == "at");
}

BOOST_AUTO_TEST_CASE(json_labelled_text_plain_or_form_is_still_json) {
  // Some servers label their JSON answer text/plain (or even form-encoded).
  for (const char* type : {"text/plain", "text/plain; charset=utf-8", kFormType}) {
    const auto t = parsed_ok(type, R"( {"access_token":"at","expires_in":60})");
    BOOST_TEST(t.access_token == "at", type);
    BOOST_TEST(t.expires_in.value_or(-1) == 60, type);
  }
}

BOOST_AUTO_TEST_CASE(scope_is_split_on_spaces_and_empty_parts_dropped) {
  BOOST_TEST(*parsed_ok("application/json", R"({"access_token":"a","scope":"  a  b c "})").scopes ==
                 (std::vector<std::string>{"a", "b", "c"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_empty_scope_is_present_and_empty) {
  const auto t = parsed_ok("application/json", R"({"access_token":"a","scope":""})");
  BOOST_TEST_REQUIRE(t.scopes.has_value());
  BOOST_TEST(t.scopes->empty());
}

BOOST_AUTO_TEST_CASE(non_string_members_are_ignored) {
  const auto t =
      parsed_ok("application/json",
                R"({"access_token":"a","refresh_token":7,"token_type":null,"scope":["x"]})");
  BOOST_TEST(t.refresh_token.empty());
  BOOST_TEST(t.token_type.empty());
  BOOST_TEST(!t.scopes.has_value());
}

BOOST_AUTO_TEST_CASE(expires_in_as_an_integer_or_a_digit_string_is_kept) {
  BOOST_TEST(expires_in_of("3600").value_or(-1) == 3600);
  BOOST_TEST(expires_in_of("\"3600\"").value_or(-1) == 3600);
  BOOST_TEST(expires_in_of("0").value_or(-1) == 0);
  BOOST_TEST(expires_in_of("315360000").value_or(-1) == 315360000, "ten years");
  BOOST_TEST(expires_in_of("\"315360000\"").value_or(-1) == 315360000);
}

BOOST_AUTO_TEST_CASE(expires_in_as_a_float_is_truncated) {
  BOOST_TEST(expires_in_of("3600.9").value_or(-1) == 3600);
  BOOST_TEST(expires_in_of("3.6e3").value_or(-1) == 3600);
}

BOOST_DATA_TEST_CASE(nonsense_expires_in_is_ignored_but_the_token_kept,
                     bdata::make({"-1",
                                  "-0.5",
                                  "315360001",
                                  "1e300",
                                  "-1e300",
                                  "99999999999999999999",
                                  "18446744073709551615",
                                  "\"-5\"",
                                  "\"+5\"",
                                  "\" 5\"",
                                  "\"5 \"",
                                  "\"1e3\"",
                                  "\"3600.0\"",
                                  "\"\"",
                                  "\"abc\"",
                                  "\"999999999999999\"",
                                  "\"315360001\"",
                                  "null",
                                  "true",
                                  "[3600]",
                                  "{\"v\":3600}"}),
                     raw) {
  BOOST_TEST(!expires_in_of(raw).has_value(), raw);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_form)

BOOST_AUTO_TEST_CASE(form_body_is_decoded) {
  const auto t = parsed_ok("application/x-www-form-urlencoded; charset=utf-8",
                           "access_token=gho_a%2Fb&token_type=bearer&scope=repo+gist&expires_in="
                           "28800&refresh_token=r%20t\r\n");
  BOOST_TEST(t.access_token == "gho_a/b");
  BOOST_TEST(t.token_type == "bearer");
  BOOST_TEST(*t.scopes == (std::vector<std::string>{"repo", "gist"}),
             boost::test_tools::per_element());
  BOOST_TEST(t.expires_in.value_or(-1) == 28800);
  BOOST_TEST(t.refresh_token == "r t");
}

BOOST_AUTO_TEST_CASE(form_body_labelled_text_plain_is_decoded) {
  BOOST_TEST(parsed_ok("text/plain", "access_token=at&expires_in=60").access_token == "at");
}

BOOST_AUTO_TEST_CASE(form_expires_in_follows_the_json_rules) {
  BOOST_TEST(!parsed_ok(kFormType, "access_token=a&expires_in=-1").expires_in.has_value());
  BOOST_TEST(!parsed_ok(kFormType, "access_token=a&expires_in=1e3").expires_in.has_value());
  BOOST_TEST(!parsed_ok(kFormType, "access_token=a&expires_in=").expires_in.has_value());
}

BOOST_AUTO_TEST_CASE(form_error_code_is_kept) {
  const auto e = parsed_error(kFormType, "error=invalid_client&error_description=nope");
  BOOST_TEST((e.kind == TokenErrorKind::kNoAccessToken));
  BOOST_TEST(e.oauth_error == "invalid_client");
}

BOOST_AUTO_TEST_CASE(malformed_form_that_is_not_json_is_a_bad_body) {
  BOOST_TEST((parsed_error(kFormType, "access_token=%zz").kind == TokenErrorKind::kBadBody));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parse_failures)

BOOST_AUTO_TEST_CASE(missing_or_empty_access_token_without_error_code) {
  for (const char* body : {R"({})", R"({"access_token":""})", R"({"access_token":5})",
                           R"({"access_token":null})", R"({"token_type":"Bearer"})"}) {
    const auto e = parsed_error("application/json", body);
    BOOST_TEST((e.kind == TokenErrorKind::kNoAccessToken), body);
    BOOST_TEST(e.oauth_error.empty(), body);
  }
}

BOOST_DATA_TEST_CASE(each_rfc6749_error_code_is_kept,
                     bdata::make({"invalid_request", "invalid_client", "invalid_grant",
                                  "unauthorized_client", "unsupported_grant_type",
                                  "invalid_scope"}),
                     code) {
  const auto e = parsed_error(
      "application/json", R"({"error":")" + std::string(code) + R"(","error_description":"x"})");
  BOOST_TEST((e.kind == TokenErrorKind::kNoAccessToken));
  BOOST_TEST(e.oauth_error == code);
}

BOOST_DATA_TEST_CASE(any_other_error_is_dropped,
                     bdata::make({"\"slow_down\"", "\"Invalid_Grant\"", "\"invalid_grant \"",
                                  "\"access_denied\"", "\"<script>\"", "\"\"", "7", "null",
                                  "[\"invalid_grant\"]"}),
                     raw) {
  const auto e = parsed_error("application/json", R"({"error":)" + std::string(raw) + "}");
  BOOST_TEST((e.kind == TokenErrorKind::kNoAccessToken));
  BOOST_TEST(e.oauth_error.empty(), raw);
}

BOOST_DATA_TEST_CASE(bodies_that_are_no_object_are_bad,
                     bdata::make({"", " ", "not json", "[1,2]", "\"access_token\"", "null", "42",
                                  "{", R"({"access_token":"a")", R"({"access_token":"a"} x)",
                                  "<html>502</html>"}),
                     body) {
  BOOST_TEST((parsed_error("application/json", body).kind == TokenErrorKind::kBadBody), body);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_a_bad_body_without_overflowing_the_stack) {
  const std::size_t depth = 1'000'000;
  const std::string open(depth, '['), close(depth, ']');
  BOOST_TEST((parsed_error("application/json", open).kind == TokenErrorKind::kBadBody));
  BOOST_TEST((parsed_error("application/json", open + close).kind == TokenErrorKind::kBadBody));
  BOOST_TEST(
      (parsed_error("application/json", R"({"x":)" + open + close + R"(,"access_token":"a"})")
           .kind == TokenErrorKind::kBadBody));
  std::string objects;
  for (std::size_t i = 0; i < 200'000; ++i) objects += R"({"a":)";
  BOOST_TEST((parsed_error("application/json", objects).kind == TokenErrorKind::kBadBody));
}

BOOST_AUTO_TEST_CASE(shallow_nesting_next_to_the_token_is_fine) {
  const auto t =
      parsed_ok("application/json", R"({"authorization_details":[{"type":"x","locations":["a"]}],)"
                                    R"("access_token":"a"})");
  BOOST_TEST(t.access_token == "a");
}

BOOST_AUTO_TEST_CASE(a_member_named_twice_is_a_bad_body) {
  // Two readers of one body must not see two different tokens.
  BOOST_TEST((parsed_error("application/json", R"({"access_token":"a","access_token":"b"})").kind ==
              TokenErrorKind::kBadBody));
}

BOOST_AUTO_TEST_CASE(huge_bodies_are_handled) {
  const std::string big(8 << 20, 'x');
  BOOST_TEST(parsed_ok("application/json", R"({"access_token":")" + big + "\"}").access_token ==
             big);
  BOOST_TEST((parsed_error("application/json", big).kind == TokenErrorKind::kBadBody));
  BOOST_TEST((parsed_error(kFormType, "a=" + big).kind == TokenErrorKind::kNoAccessToken));
}

BOOST_AUTO_TEST_CASE(non_utf8_bodies_are_bad_bodies) {
  // Tokens and their metadata are text (RFC 6749 Appendix A; JSON is UTF-8, RFC 8259 §8.1).
  const std::string bytes = "\xff\xfe\xc0\xaf";
  BOOST_TEST((parsed_error("application/json", R"({"access_token":")" + bytes + "\"}").kind ==
              TokenErrorKind::kBadBody));
  BOOST_TEST(
      (parsed_error(kFormType, "access_token=%FF%FE%C0%AF").kind == TokenErrorKind::kBadBody));
  const auto e = parsed_error("application/json", R"({"error":")" + bytes + "\"}");
  BOOST_TEST((e.kind == TokenErrorKind::kBadBody));
  BOOST_TEST(e.oauth_error.empty());
}

// Tokens are presented in header values (resolve, the front's injected header): 1*VSCHAR
// (RFC 6749 §A.12, §A.17), so nothing can end or split a header line.
BOOST_DATA_TEST_CASE(tokens_outside_vschar_are_refused,
                     bdata::make({R"({"access_token":"a\u0000b"})", R"({"access_token":"a\r\nb"})",
                                  R"({"access_token":"ünï"})", R"({"access_token":"a\tb"})",
                                  R"({"access_token":"at","refresh_token":"r\nX-Evil: 1"})",
                                  R"({"access_token":"at","refresh_token":"\u007f"})"}),
                     body) {
  BOOST_TEST((parsed_error("application/json", body).kind == TokenErrorKind::kNoAccessToken));
}

BOOST_AUTO_TEST_CASE(tokens_of_visible_characters_and_spaces_are_kept) {
  const auto t =
      parsed_ok("application/json", R"({"access_token":"a b~!","refresh_token":"r/+=.-_"})");
  BOOST_TEST(t.access_token == "a b~!");
  BOOST_TEST(t.refresh_token == "r/+=.-_");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exchange_over_http)

BOOST_AUTO_TEST_CASE(sends_exactly_the_built_request_once) {
  testing::FakeHttpClient http;
  http.answer(200, "application/json", R"({"access_token":"at"})");
  const auto b = broker(config::ClientAuthMethod::kClientSecretPost);
  const auto t = exchange_code(http, b, exchange());
  BOOST_TEST_REQUIRE(t.ok());
  BOOST_TEST(t->access_token == "at");
  BOOST_TEST_REQUIRE(http.requests.size() == 1u);
  const auto want = build_code_exchange(b, exchange());
  BOOST_TEST(http.requests[0].method == want.method);
  BOOST_TEST(http.requests[0].url == want.url);
  BOOST_TEST((http.requests[0].headers == want.headers));
  BOOST_TEST(http.requests[0].body == want.body);
}

BOOST_AUTO_TEST_CASE(uses_the_response_content_type) {
  testing::FakeHttpClient http;
  http.answer(200, kFormType, "access_token=at&scope=a+b");
  const auto t = exchange_code(http, broker(config::ClientAuthMethod::kNone), exchange());
  BOOST_TEST_REQUIRE(t.ok());
  BOOST_TEST(*t->scopes == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(transport_failures_keep_their_kind) {
  const std::pair<http::FetchError, std::string_view> cases[] = {
      {http::FetchError::kTimeout, "transport:timeout"},
      {http::FetchError::kConnect, "transport:connect"},
      {http::FetchError::kTls, "transport:tls"},
      {http::FetchError::kTooLarge, "transport:too_large"},
      {http::FetchError::kOther, "transport:other"}};
  for (const auto& [fetch, label] : cases) {
    testing::FakeHttpClient http;
    http.fail(fetch);
    const auto t =
        exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
    BOOST_TEST_REQUIRE(!t.ok());
    BOOST_TEST((t.error().kind == TokenErrorKind::kTransport));
    BOOST_TEST((t.error().fetch == fetch));
    BOOST_TEST(t.error().http_status == 0);
    BOOST_TEST(t.error().oauth_error.empty());
    BOOST_TEST(oauth::label(t.error()) == label);
  }
}

BOOST_AUTO_TEST_CASE(a_400_names_the_rfc6749_error_code_and_nothing_else) {
  testing::FakeHttpClient http;
  http.answer(400, "application/json",
              R"({"error":"invalid_grant","error_description":"code c0de is spent"})");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST((t.error().kind == TokenErrorKind::kHttpStatus));
  BOOST_TEST(t.error().http_status == 400);
  BOOST_TEST(t.error().oauth_error == "invalid_grant");
  BOOST_TEST(label(t.error()) == "http_status");
}

BOOST_AUTO_TEST_CASE(a_401_with_a_form_body_names_invalid_client) {
  testing::FakeHttpClient http;
  http.answer(401, kFormType, "error=invalid_client");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretBasic), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST(t.error().http_status == 401);
  BOOST_TEST(t.error().oauth_error == "invalid_client");
}

BOOST_AUTO_TEST_CASE(an_unknown_error_code_in_a_400_is_dropped) {
  testing::FakeHttpClient http;
  http.answer(400, "application/json", R"({"error":"my_custom_error"})");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST(t.error().http_status == 400);
  BOOST_TEST(t.error().oauth_error.empty());
}

BOOST_DATA_TEST_CASE(any_status_but_200_is_an_http_status_error,
                     bdata::make({201, 204, 301, 302, 400, 401, 403, 404, 429, 500, 502, 503}),
                     status) {
  testing::FakeHttpClient http;
  // Even with a token in the body: redirects are not followed and only 200 carries a token.
  http.answer(status, "application/json", R"({"access_token":"at"})");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST((t.error().kind == TokenErrorKind::kHttpStatus));
  BOOST_TEST(t.error().http_status == status);
  BOOST_TEST(t.error().oauth_error.empty());
}

BOOST_AUTO_TEST_CASE(an_html_error_page_is_an_http_status_error_without_a_code) {
  testing::FakeHttpClient http;
  http.answer(502, "text/html", "<html><body>Bad gateway</body></html>");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST(t.error().http_status == 502);
  BOOST_TEST(t.error().oauth_error.empty());
}

BOOST_AUTO_TEST_CASE(a_200_with_a_bad_body_is_bad_body_with_the_status) {
  testing::FakeHttpClient http;
  http.answer(200, "text/html", "<html>login</html>");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST((t.error().kind == TokenErrorKind::kBadBody));
  BOOST_TEST(t.error().http_status == 200);
  BOOST_TEST(label(t.error()) == "bad_body");
}

BOOST_AUTO_TEST_CASE(a_200_with_an_error_and_no_token_is_no_access_token) {
  testing::FakeHttpClient http;
  http.answer(200, "application/json", R"({"error":"invalid_grant"})");
  const auto t =
      exchange_code(http, broker(config::ClientAuthMethod::kClientSecretPost), exchange());
  BOOST_TEST_REQUIRE(!t.ok());
  BOOST_TEST((t.error().kind == TokenErrorKind::kNoAccessToken));
  BOOST_TEST(t.error().http_status == 200);
  BOOST_TEST(t.error().oauth_error == "invalid_grant");
  BOOST_TEST(label(t.error()) == "no_access_token");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(revocation)

config::AuthBroker revoking(config::ClientAuthMethod method) {
  auto b = broker(method);
  b.revocation_endpoint = "https://as.test/oauth/revoke?tenant=acme";
  return b;
}

BOOST_AUTO_TEST_CASE(the_request_names_the_token_and_its_hint_with_the_client_authentication) {
  const auto post = build_revocation(revoking(config::ClientAuthMethod::kClientSecretPost),
                                     "rt/+= 1", TokenKind::kRefreshToken);
  BOOST_TEST(post.method == "POST");
  BOOST_TEST(post.url == "https://as.test/oauth/revoke?tenant=acme");
  const Headers form_headers = {{"Content-Type", kFormType}, {"Accept", "application/json"}};
  BOOST_TEST((post.headers == form_headers));
  BOOST_TEST(post.body ==
             "token=rt%2F%2B%3D%201&token_type_hint=refresh_token&client_id=gh-client"
             "&client_secret=s3cr3t");

  const auto basic = build_revocation(revoking(config::ClientAuthMethod::kClientSecretBasic), "at",
                                      TokenKind::kAccessToken);
  const Headers basic_headers = {{"Content-Type", kFormType},
                                 {"Accept", "application/json"},
                                 {"Authorization", "Basic Z2gtY2xpZW50OnMzY3IzdA=="}};
  BOOST_TEST((basic.headers == basic_headers));
  BOOST_TEST(basic.body == "token=at&token_type_hint=access_token");
}

BOOST_AUTO_TEST_CASE(a_200_is_accepted_whatever_its_body) {
  testing::FakeHttpClient http;
  http.answer(200, "", "");
  const auto b = revoking(config::ClientAuthMethod::kClientSecretPost);
  BOOST_TEST(revoke(http, b, "rt", TokenKind::kRefreshToken).ok());
  BOOST_TEST_REQUIRE(http.requests.size() == 1u);
  BOOST_TEST(http.requests[0].body == build_revocation(b, "rt", TokenKind::kRefreshToken).body);
}

BOOST_AUTO_TEST_CASE(any_other_status_is_refused_naming_only_a_known_error_code) {
  testing::FakeHttpClient http;
  const auto b = revoking(config::ClientAuthMethod::kClientSecretPost);
  http.answer(400, "application/json", R"({"error":"unsupported_token_type"})");
  auto r = revoke(http, b, "at", TokenKind::kAccessToken);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == TokenErrorKind::kHttpStatus));
  BOOST_TEST(r.error().http_status == 400);
  BOOST_TEST(r.error().oauth_error == "unsupported_token_type");

  http.answer(401, "application/json", R"({"error":"AT-SENTINEL says no"})");
  r = revoke(http, b, "at", TokenKind::kAccessToken);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().http_status == 401);
  BOOST_TEST(r.error().oauth_error.empty());

  http.answer(503, "text/html", "<html>down</html>");
  r = revoke(http, b, "at", TokenKind::kAccessToken);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(label(r.error()) == "http_status");
}

BOOST_AUTO_TEST_CASE(no_answer_is_a_transport_failure) {
  testing::FakeHttpClient http;
  http.fail(http::FetchError::kTimeout);
  const auto r =
      revoke(http, revoking(config::ClientAuthMethod::kNone), "at", TokenKind::kAccessToken);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(label(r.error()) == "transport:timeout");
}

BOOST_AUTO_TEST_SUITE_END()

// credbroker-admin check-config: the token endpoint reached without a grant.
BOOST_AUTO_TEST_SUITE(probe)

BOOST_AUTO_TEST_CASE(sends_the_client_authentication_and_no_grant) {
  testing::FakeHttpClient http;
  http.answer(400, "application/json", R"({"error":"invalid_request"})");
  BOOST_TEST(probe_token_endpoint(http, broker(config::ClientAuthMethod::kClientSecretPost)).ok());
  BOOST_REQUIRE(http.requests.size() == 1u);
  BOOST_TEST(http.requests[0].method == "POST");
  BOOST_TEST(http.requests[0].url == "https://as.test/oauth/token?tenant=acme");
  BOOST_TEST(http.requests[0].body == "client_id=gh-client&client_secret=s3cr3t");
  BOOST_TEST(http.requests[0].body.find("grant_type") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_a_400_naming_a_missing_or_unknown_grant_is_success) {
  testing::FakeHttpClient http;
  const auto b = broker(config::ClientAuthMethod::kClientSecretBasic);
  http.answer(400, "application/json", R"({"error":"unsupported_grant_type"})");
  BOOST_TEST(probe_token_endpoint(http, b).ok());

  http.answer(401, "application/json", R"({"error":"invalid_client"})");
  auto r = probe_token_endpoint(http, b);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().http_status == 401);
  BOOST_TEST(r.error().oauth_error == "invalid_client");

  http.answer(400, "text/html", "<html>bad request</html>");
  BOOST_TEST(!probe_token_endpoint(http, b).ok());
  http.answer(404, "text/html", "<html>not found</html>");
  BOOST_TEST(!probe_token_endpoint(http, b).ok());
  // A token for no grant at all is no OAuth server either.
  http.answer(200, "application/json", R"({"access_token":"at"})");
  r = probe_token_endpoint(http, b);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().http_status == 200);

  http.fail(http::FetchError::kConnect);
  r = probe_token_endpoint(http, b);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(label(r.error()) == "transport:connect");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::oauth
