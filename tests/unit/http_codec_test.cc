#define BOOST_TEST_MODULE http_codec
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shared/http/grammar.h"
#include "shared/http/request.h"
#include "shared/http/url.h"

namespace credbroker::http {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Printable stand-ins so BOOST_TEST can show both sides of a failed comparison.
std::string or_invalid(const std::optional<std::string>& s) {
  return s.value_or("<invalid>");
}
std::string or_absent(std::optional<std::string_view> s) {
  return s ? std::string(*s) : std::string("<absent>");
}
std::string show(const std::optional<Pairs>& pairs) {
  if (!pairs) return "<invalid>";
  std::string out;
  for (const auto& [k, v] : *pairs) out += "[" + k + "|" + v + "]";
  return out;
}

}  // namespace

// ---- percent_decode / percent_encode (RFC 3986 §2.1) ----

BOOST_AUTO_TEST_CASE(token_is_rfc_9110_tchar_and_field_value_has_no_line_break_or_nul) {
  BOOST_TEST(http::is_token("X-Custom_Header.1"));
  BOOST_TEST(http::is_token("!#$%&'*+-.^_`|~"));
  for (const char* bad : {"", "a b", "a:b", "a(b", "a\"b", "a/b", "a\tb", "caf\xc3\xa9"}) {
    BOOST_TEST(!http::is_token(bad), bad);
  }
  BOOST_TEST(http::is_field_value("a, b; c=\"d\"\t"));
  BOOST_TEST(http::is_field_value(""));
  BOOST_TEST(!http::is_field_value("a\rb"));
  BOOST_TEST(!http::is_field_value("a\nb"));
  BOOST_TEST(!http::is_field_value(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(percent_decode_decodes_escapes_in_either_case) {
  BOOST_TEST(or_invalid(percent_decode("a%20b")) == "a b");
  BOOST_TEST(or_invalid(percent_decode("%2f%2F%41")) == "//A");
  BOOST_TEST(or_invalid(percent_decode("%C3%A9")) == "\xc3\xa9");
  BOOST_TEST(or_invalid(percent_decode("")) == "");
  BOOST_TEST(or_invalid(percent_decode("plain-text_1.~")) == "plain-text_1.~");
}

BOOST_AUTO_TEST_CASE(percent_decode_rejects_malformed_escapes) {
  for (const char* bad : {"%", "%4", "%zz", "%4g", "%g4", "abc%", "abc%4", "%%41", "% 41"}) {
    BOOST_TEST(!percent_decode(bad).has_value(), bad);
    BOOST_TEST(!percent_decode(bad, true).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(percent_decode_rejects_nul_encoded_or_raw) {
  BOOST_TEST(!percent_decode("a%00b").has_value());
  BOOST_TEST(!percent_decode(std::string("a\0b", 3)).has_value());
}

BOOST_AUTO_TEST_CASE(plus_decodes_to_space_only_when_asked) {
  BOOST_TEST(or_invalid(percent_decode("a+b")) == "a+b");
  BOOST_TEST(or_invalid(percent_decode("a+b", true)) == "a b");
  BOOST_TEST(or_invalid(percent_decode("a%2Bb", true)) == "a+b");
}

BOOST_AUTO_TEST_CASE(percent_encode_keeps_only_unreserved_characters) {
  BOOST_TEST(percent_encode("AZaz09-._~") == "AZaz09-._~");
  BOOST_TEST(percent_encode("a b/c?d&e=f+g%h") == "a%20b%2Fc%3Fd%26e%3Df%2Bg%25h");
  BOOST_TEST(percent_encode("\xc3\xa9") == "%C3%A9");
  BOOST_TEST(percent_encode(std::string("\0\x7f\xff", 3)) == "%00%7F%FF");
}

BOOST_AUTO_TEST_CASE(percent_encode_then_decode_returns_every_non_nul_byte) {
  std::string all;
  for (int c = 1; c < 256; ++c) all.push_back(static_cast<char>(c));
  BOOST_TEST(or_invalid(percent_decode(percent_encode(all))) == all);
  BOOST_TEST(or_invalid(percent_decode(percent_encode(all), true)) == all);
}

// ---- parse_query / build_query ----

BOOST_AUTO_TEST_CASE(parse_query_keeps_order_and_duplicates) {
  BOOST_TEST(show(parse_query("b=2&a=1&b=3")) == "[b|2][a|1][b|3]");
}

BOOST_AUTO_TEST_CASE(parse_query_form_decodes_names_and_values) {
  BOOST_TEST(show(parse_query("redirect%5Furi=https%3A%2F%2Fx.test%2Fcb&q=a+b%2Bc")) ==
             "[redirect_uri|https://x.test/cb][q|a b+c]");
}

BOOST_AUTO_TEST_CASE(parse_query_skips_empty_parts_and_allows_missing_values) {
  BOOST_TEST(show(parse_query("")) == "");
  BOOST_TEST(show(parse_query("&&a=1&")) == "[a|1]");
  BOOST_TEST(show(parse_query("flag&x=")) == "[flag|][x|]");
  BOOST_TEST(show(parse_query("=v")) == "[|v]");
  BOOST_TEST(show(parse_query("a=b=c")) == "[a|b=c]");
}

BOOST_AUTO_TEST_CASE(parse_query_rejects_the_whole_query_when_any_part_is_malformed) {
  for (const char* bad : {"a=1&b=%zz", "a%=1", "a=%00", "code=abc%4"}) {
    BOOST_TEST(!parse_query(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(build_query_encodes_names_and_values) {
  BOOST_TEST(build_query({}) == "");
  BOOST_TEST(build_query({{"response_type", "code"}, {"scope", "read write"}}) ==
             "response_type=code&scope=read%20write");
  BOOST_TEST(build_query({{"a&b", "c=d"}, {"", ""}}) == "a%26b=c%3Dd&=");
}

BOOST_AUTO_TEST_CASE(build_query_round_trips_through_parse_query) {
  const Pairs params = {{"state", "abc-_DEF"},   {"redirect_uri", "https://h.test/cb?x=1&y=2"},
                        {"plus", "a+b c"},       {"percent", "100%"},
                        {"unicode", "\xc3\xa9"}, {"empty", ""},
                        {"state", "second"}};
  const auto parsed = parse_query(build_query(params));
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(show(parsed) == show(params));
}

// ---- Request / Response ----

BOOST_AUTO_TEST_CASE(request_headers_are_stored_lower_case_and_found_in_any_case) {
  Request r;
  r.add_header("X-Forwarded-User", "alice");
  r.add_header("x-forwarded-user", "mallory");
  BOOST_TEST(r.headers.front().first == "x-forwarded-user");
  BOOST_TEST(or_absent(r.header("X-FORWARDED-USER")) == "alice");  // first one wins
  BOOST_TEST(or_absent(r.header("authorization")) == "<absent>");
}

BOOST_AUTO_TEST_CASE(response_set_header_replaces_an_existing_header_in_any_case) {
  Response r;
  r.set_header("Content-Type", "text/plain");
  r.set_header("content-type", "application/json");
  BOOST_TEST(r.headers.size() == 1u);
  BOOST_TEST(or_absent(r.header("CONTENT-TYPE")) == "application/json");
}

BOOST_AUTO_TEST_CASE(reason_phrases_for_the_statuses_routes_use) {
  BOOST_TEST(reason_phrase(200) == "OK");
  BOOST_TEST(reason_phrase(302) == "Found");
  BOOST_TEST(reason_phrase(400) == "Bad Request");
  BOOST_TEST(reason_phrase(401) == "Unauthorized");
  BOOST_TEST(reason_phrase(404) == "Not Found");
  BOOST_TEST(reason_phrase(503) == "Service Unavailable");
  BOOST_TEST(reason_phrase(418) == "Client Error");
  BOOST_TEST(reason_phrase(301) == "Moved Permanently");
  BOOST_TEST(reason_phrase(307) == "Redirection");
  BOOST_TEST(reason_phrase(599) == "Server Error");
}

BOOST_AUTO_TEST_CASE(json_error_has_the_exact_body_and_headers) {
  const Response r = json_error(404, "no such server");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.body == R"({"error":"Not Found","message":"no such server","status_code":404})");
  BOOST_TEST(or_absent(r.header("Content-Type")) == "application/json");
  BOOST_TEST(or_absent(r.header("Cache-Control")) == "no-store");
}

BOOST_AUTO_TEST_CASE(json_error_escapes_the_message) {
  const Response r = json_error(400, "say \"hi\"\\ \n\t\x01</script>");
  BOOST_TEST(r.body == R"({"error":"Bad Request","message":"say \"hi\"\\ \n\t\u0001</script>",)"
                       R"("status_code":400})");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  BOOST_REQUIRE(!d.HasParseError());
  BOOST_TEST(d["message"].GetString() == std::string("say \"hi\"\\ \n\t\x01</script>"));
}

BOOST_AUTO_TEST_CASE(json_error_body_stays_valid_utf8_json_for_any_message_bytes) {
  const Response r = json_error(502, std::string("bad \xff\xc3 end\0x", 12));
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(r.body.c_str(), r.body.size());
  BOOST_REQUIRE_MESSAGE(!d.HasParseError(), rapidjson::GetParseError_En(d.GetParseError()));
  BOOST_TEST(std::string(d["message"].GetString(), d["message"].GetStringLength()) ==
             std::string("bad \xef\xbf\xbd\xef\xbf\xbd end\0x", 16));
  BOOST_TEST(d["error"].GetString() == std::string("Bad Gateway"));
  BOOST_TEST(d["status_code"].GetInt() == 502);
}

BOOST_AUTO_TEST_CASE(json_response_sets_json_and_no_store) {
  const Response r = json_response(201, R"({"ok":true})");
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.body == R"({"ok":true})");
  BOOST_TEST(or_absent(r.header("content-type")) == "application/json");
  BOOST_TEST(or_absent(r.header("cache-control")) == "no-store");
}

// Also the answers no route makes (a transport's 413 for an oversized Lambda body, say): every
// JSON body stays unrenderable in a browser (docs/openapi.yaml, openapi.exchanges).
BOOST_AUTO_TEST_CASE(json_error_is_never_sniffed_or_rendered) {
  const Response r = json_error(413, "Request body too large");
  BOOST_TEST(or_absent(r.header("X-Content-Type-Options")) == "nosniff");
  BOOST_TEST(or_absent(r.header("Content-Security-Policy")) == "default-src 'none'");
}

BOOST_AUTO_TEST_CASE(redirect_is_a_302_with_location_no_store_and_no_body) {
  const Response r = redirect("https://as.test/authorize?state=abc");
  BOOST_TEST(r.status == 302);
  BOOST_TEST(or_absent(r.header("Location")) == "https://as.test/authorize?state=abc");
  BOOST_TEST(or_absent(r.header("Cache-Control")) == "no-store");
  BOOST_TEST(r.body.empty());
}

}  // namespace credbroker::http
