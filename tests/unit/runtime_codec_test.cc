// The transport pieces every adapter shares: CGI parameters → Request (RFC 3875 §4.1), Response →
// CGI response text, the body reading with its cap, the exception barrier, and the command line.
#define BOOST_TEST_MODULE runtime_codec
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "shared/runtime/runtime.h"
#include "shared/runtime/transport_common.h"

namespace credbroker::runtime {
namespace {

namespace bdata = boost::unit_test::data;
using Params = std::vector<std::pair<std::string, std::string>>;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kInternalError[] =
    R"({"error":"Internal Server Error","message":"Internal error","status_code":500})";

/** Serves `body` in chunks of at most `chunk` bytes and counts the calls. */
struct ChunkedReader {
  std::string body;
  std::size_t chunk = 3;
  std::size_t offset = 0;
  int calls = 0;
  long operator()(char* buf, std::size_t n, std::chrono::milliseconds) {
    ++calls;
    const std::size_t k = std::min({n, chunk, body.size() - offset});
    body.copy(buf, k, offset);
    offset += k;
    return static_cast<long>(k);
  }
};

/** A handler that records what it saw. */
struct Recorder {
  int calls = 0;
  std::string body;
  std::optional<http::BodyError> error;
  bool read = true;  // false: a route that never asks for the body
  Handler handler() {
    return [this](const http::Request& r) {
      ++calls;
      if (!read) return http::json_response(200, "{}");
      auto got = r.read_body(kMaxBodyBytes, std::chrono::seconds(5));
      if (got) {
        body = *got;
      } else {
        error = got.error();
      }
      return http::json_response(200, "{}");
    };
  }
};

http::Request with_length(std::string_view content_length) {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/user/credentials";
  r.add_header("content-length", content_length);
  return r;
}

/** The header lines of a CGI response (between the Status line and the blank line). */
std::vector<std::string> header_lines(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(end != std::string::npos);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= end) {
    const auto eol = response.find("\r\n", start);
    lines.push_back(response.substr(start, eol - start));
    start = eol + 2;
  }
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_from_cgi_params)

BOOST_AUTO_TEST_CASE(request_uri_splits_into_raw_path_and_raw_query) {
  const auto r = request_from_params({{"REQUEST_METHOD", "GET"},
                                      {"REQUEST_URI",
                                       "/api/v1/user/credentials/Basic%20Wiki/"
                                       "callback?code=a%2Bb&state=s?t"}});
  BOOST_TEST(r.method == "GET");
  BOOST_TEST(r.path == "/api/v1/user/credentials/Basic%20Wiki/callback");
  BOOST_TEST(r.query == "code=a%2Bb&state=s?t");
}

BOOST_AUTO_TEST_CASE(request_uri_without_a_query_has_an_empty_query) {
  BOOST_TEST(request_from_params({{"REQUEST_URI", "/api/v1/healthz"}}).query.empty());
  const auto r = request_from_params({{"REQUEST_URI", "/api/v1/healthz?"}});
  BOOST_TEST(r.path == "/api/v1/healthz");
  BOOST_TEST(r.query.empty());
}

BOOST_AUTO_TEST_CASE(request_uri_wins_over_script_name_path_info_and_query_string) {
  const auto r = request_from_params({{"SCRIPT_NAME", "/cgi-bin/list"},
                                      {"PATH_INFO", "/decoded path"},
                                      {"QUERY_STRING", "from=query_string"},
                                      {"REQUEST_URI", "/api/v1/user/credentials?x=1"}});
  BOOST_TEST(r.path == "/api/v1/user/credentials");
  BOOST_TEST(r.query == "x=1");
}

BOOST_AUTO_TEST_CASE(without_request_uri_script_name_plus_path_info_and_query_string) {
  const auto r = request_from_params({{"REQUEST_METHOD", "DELETE"},
                                      {"SCRIPT_NAME", "/api/v1/user/credentials"},
                                      {"PATH_INFO", "/github"},
                                      {"QUERY_STRING", "a=b"}});
  BOOST_TEST(r.method == "DELETE");
  BOOST_TEST(r.path == "/api/v1/user/credentials/github");
  BOOST_TEST(r.query == "a=b");
}

BOOST_AUTO_TEST_CASE(http_params_become_lower_case_dashed_headers) {
  const auto r = request_from_params({{"HTTP_AUTHORIZATION", "Bearer t"},
                                      {"HTTP_X_AMZN_OIDC_DATA", "jwt"},
                                      {"HTTP_CF_ACCESS_JWT_ASSERTION", "cf"},
                                      {"HTTP_", "no name"},
                                      {"HTTPS", "on"},
                                      {"PATH", "/usr/bin"},
                                      {"SERVER_NAME", "example.test"}});
  const Headers want = {{"authorization", "Bearer t"},
                        {"x-amzn-oidc-data", "jwt"},
                        {"cf-access-jwt-assertion", "cf"}};
  BOOST_TEST((r.headers == want));
  BOOST_TEST(r.header("X-Amzn-Oidc-Data").value_or("") == "jwt");
}

BOOST_AUTO_TEST_CASE(content_type_and_length_become_headers) {
  const auto r = request_from_params(
      {{"CONTENT_TYPE", "application/json"}, {"CONTENT_LENGTH", "12"}, {"REQUEST_URI", "/"}});
  const Headers want = {{"content-type", "application/json"}, {"content-length", "12"}};
  BOOST_TEST((r.headers == want));
}

BOOST_AUTO_TEST_CASE(the_fronts_too_large_param_flags_the_request_and_a_client_header_cannot) {
  BOOST_TEST(request_from_params({{"CREDBROKER_IDENTITY_HEADER_TOO_LARGE", "1"}})
                 .identity_header_too_large);
  // The client's header of that name is HTTP_CREDBROKER_..., an ordinary header.
  const auto r = request_from_params({{"HTTP_CREDBROKER_IDENTITY_HEADER_TOO_LARGE", "1"}});
  BOOST_TEST(!r.identity_header_too_large);
  BOOST_TEST(r.header("credbroker-identity-header-too-large").has_value());
  BOOST_TEST(!request_from_params({{"REQUEST_URI", "/"}}).identity_header_too_large);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cgi_response)

BOOST_AUTO_TEST_CASE(status_line_headers_length_and_body) {
  const std::string body = R"({"error":"Not Found","message":"Not found","status_code":404})";
  http::Response response;
  response.status = 404;
  response.headers = {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}};
  response.body = body;
  const auto text = format_cgi_response(response);
  BOOST_TEST(text ==
             "Status: 404 Not Found\r\n"
             "Content-Type: application/json\r\n"
             "Cache-Control: no-store\r\n"
             "Content-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
}

BOOST_AUTO_TEST_CASE(a_redirect_has_its_location_and_a_zero_length) {
  const auto text = format_cgi_response(http::redirect("/ui/?credential_connected=1"));
  BOOST_TEST(text ==
             "Status: 302 Found\r\n"
             "Location: /ui/?credential_connected=1\r\n"
             "Cache-Control: no-store\r\n"
             "Content-Length: 0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(a_given_content_length_is_not_repeated) {
  http::Response r = http::json_response(200, "{}");
  r.set_header("content-length", "2");
  const auto lines = header_lines(format_cgi_response(r));
  int lengths = 0;
  for (const auto& l : lines)
    lengths += l.rfind("content-length:", 0) == 0 || l.rfind("Content-Length:", 0) == 0;
  BOOST_TEST(lengths == 1);
}

BOOST_DATA_TEST_CASE(cr_or_lf_in_a_header_never_splits_the_response,
                     bdata::make({"\r\nSet-Cookie: evil=1", "\nSet-Cookie: evil=1",
                                  "\rSet-Cookie: evil=1", "x\r\n\r\n<html>evil",
                                  "x\n\nSet-Cookie: evil=1"}),
                     injected) {
  http::Response r = http::redirect("/ui/" + std::string(injected));
  r.headers.emplace_back("X-Evil\r\nSet-Cookie: name=1", "v");
  r.body = "ok";
  const std::string text = format_cgi_response(r);
  const auto lines = header_lines(text);
  const std::vector<std::string> want = {"Status: 302 Found", "Cache-Control: no-store",
                                         "Content-Length: 2"};
  BOOST_TEST(lines == want, boost::test_tools::per_element());
  BOOST_TEST(text.substr(text.find("\r\n\r\n") + 4) == "ok");
  BOOST_TEST(text.find("evil") == std::string::npos);
  BOOST_TEST(text.find("Set-Cookie") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_statuses_get_a_generic_reason) {
  http::Response r;
  r.status = 418;
  BOOST_TEST(format_cgi_response(r).rfind("Status: 418 Client Error\r\n", 0) == 0);
  r.status = 599;
  BOOST_TEST(format_cgi_response(r).rfind("Status: 599 Server Error\r\n", 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(body_and_errors)

BOOST_AUTO_TEST_CASE(the_body_is_read_to_content_length_in_pieces) {
  ChunkedReader reader{.body = "0123456789abcdef-and-more-that-is-not-ours"};
  Recorder handler;
  auto req = with_length("16");
  const auto resp = handle_with_body(req, std::ref(reader), handler.handler());
  BOOST_TEST(resp.status == 200);
  BOOST_TEST(handler.body == "0123456789abcdef");
  BOOST_TEST(reader.offset == 16u, "nothing read past Content-Length");
}

BOOST_AUTO_TEST_CASE(no_or_zero_content_length_reads_nothing) {
  for (const char* length : {"", "0"}) {
    ChunkedReader reader{.body = "unannounced"};
    Recorder handler;
    http::Request req;
    if (*length != '\0') req.add_header("content-length", length);
    BOOST_TEST(handle_with_body(req, std::ref(reader), handler.handler()).status == 200);
    BOOST_TEST(handler.calls == 1);
    BOOST_TEST(handler.body.empty());
    BOOST_TEST(reader.offset == 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_short_body_is_passed_on_as_it_came) {
  ChunkedReader reader{.body = "abc"};
  Recorder handler;
  auto req = with_length("10");
  BOOST_TEST(handle_with_body(req, std::ref(reader), handler.handler()).status == 200);
  BOOST_TEST(handler.body == "abc");
}

BOOST_AUTO_TEST_CASE(a_read_error_ends_the_body) {
  int calls = 0;
  const BodyReader failing = [&](char*, std::size_t, std::chrono::milliseconds) -> long {
    ++calls;
    return -1;
  };
  Recorder handler;
  auto req = with_length("10");
  bool unread = false;
  BOOST_TEST(handle_with_body(req, failing, handler.handler(), &unread).status == 200);
  BOOST_TEST(calls == 1);
  BOOST_TEST(handler.body.empty());
  BOOST_TEST((handler.error == http::BodyError::kBroken));
  BOOST_TEST(unread, "a broken body leaves the connection unusable");
}

BOOST_AUTO_TEST_CASE(a_route_that_never_asks_leaves_the_body_unread) {
  ChunkedReader reader{.body = "0123456789"};
  Recorder handler;
  handler.read = false;
  auto req = with_length("10");
  bool unread = false;
  BOOST_TEST(handle_with_body(req, std::ref(reader), handler.handler(), &unread).status == 200);
  BOOST_TEST(reader.calls == 0, "no byte read before the route asked");
  BOOST_TEST(unread);
}

BOOST_AUTO_TEST_CASE(a_body_read_whole_leaves_the_connection_reusable) {
  ChunkedReader reader{.body = "0123456789"};
  Recorder handler;
  auto req = with_length("10");
  bool unread = true;
  BOOST_TEST(handle_with_body(req, std::ref(reader), handler.handler(), &unread).status == 200);
  BOOST_TEST(handler.body == "0123456789");
  BOOST_TEST(!unread);
}

BOOST_AUTO_TEST_CASE(a_body_that_does_not_arrive_in_time_is_a_timeout) {
  int calls = 0;
  std::chrono::milliseconds given{0};
  const BodyReader stalled = [&](char*, std::size_t, std::chrono::milliseconds remaining) -> long {
    ++calls;
    given = remaining;
    return kReadTimedOut;
  };
  auto req = with_length("10");
  std::optional<http::BodyError> error;
  handle_with_body(req, stalled, [&](const http::Request& r) {
    error = r.read_body(1024, std::chrono::milliseconds(300)).error();
    return http::json_response(200, "{}");
  });
  BOOST_TEST((error == http::BodyError::kTimeout));
  BOOST_TEST(calls == 1);
  BOOST_TEST(given.count() <= 300, "each read gets at most the time left");
  BOOST_TEST(given.count() > 0);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_routes_limit_is_refused_unread) {
  ChunkedReader reader{.body = std::string(2000, 'x')};
  auto req = with_length("2000");
  std::optional<http::BodyError> error;
  handle_with_body(req, std::ref(reader), [&](const http::Request& r) {
    error = r.read_body(1024, std::chrono::seconds(1)).error();
    return http::json_response(200, "{}");
  });
  BOOST_TEST((error == http::BodyError::kTooLarge));
  BOOST_TEST(reader.calls == 0);
}

BOOST_AUTO_TEST_CASE(exactly_64_kib_is_accepted) {
  ChunkedReader reader{.body = std::string(kMaxBodyBytes, 'x'), .chunk = 4096};
  Recorder handler;
  auto req = with_length(std::to_string(kMaxBodyBytes));
  BOOST_TEST(handle_with_body(req, std::ref(reader), handler.handler()).status == 200);
  BOOST_TEST(handler.body.size() == kMaxBodyBytes);
}

BOOST_AUTO_TEST_CASE(over_64_kib_is_413_without_reading_or_calling_the_handler) {
  for (const std::string& length :
       {std::to_string(kMaxBodyBytes + 1), std::string("1000000000000")}) {
    ChunkedReader reader{.body = std::string(kMaxBodyBytes + 1, 'x')};
    Recorder handler;
    auto req = with_length(length);
    const auto resp = handle_with_body(req, std::ref(reader), handler.handler());
    BOOST_TEST(resp.status == 413);
    BOOST_TEST(
        resp.body ==
        R"({"error":"Payload Too Large","message":"Request body too large","status_code":413})");
    BOOST_TEST(handler.calls == 0);
    BOOST_TEST(reader.calls == 0);
  }
}

BOOST_DATA_TEST_CASE(a_bad_content_length_is_400_without_calling_the_handler,
                     bdata::make({"abc", "-1", "+5", " 5", "5 ", "1.5", "0x10", "5,5",
                                  "99999999999999999999999"}),
                     length) {
  ChunkedReader reader{.body = "12345"};
  Recorder handler;
  auto req = with_length(length);
  const auto resp = handle_with_body(req, std::ref(reader), handler.handler());
  BOOST_TEST(resp.status == 400);
  BOOST_TEST(resp.body ==
             R"({"error":"Bad Request","message":"Invalid Content-Length","status_code":400})");
  BOOST_TEST(handler.calls == 0);
  BOOST_TEST(reader.calls == 0);
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_is_a_500_without_the_exception_text) {
  http::Request req;
  const auto resp = handle_with_body(
      req, [](char*, std::size_t, std::chrono::milliseconds) -> long { return 0; },
      [](const http::Request&) -> http::Response {
        throw std::runtime_error("SECRET-SENTINEL token=abc");
      });
  BOOST_TEST(resp.status == 500);
  BOOST_TEST(resp.body == kInternalError);
  BOOST_TEST(resp.header("Content-Type").value_or("") == "application/json");
}

BOOST_AUTO_TEST_CASE(a_handler_throwing_something_else_is_a_500_too) {
  http::Request req;
  const auto resp = handle_with_body(
      req, [](char*, std::size_t, std::chrono::milliseconds) -> long { return 0; },
      [](const http::Request&) -> http::Response { throw 42; });
  BOOST_TEST(resp.status == 500);
  BOOST_TEST(resp.body == kInternalError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(listen_takes_a_tcp_address_or_a_socket_path) {
  for (const char* address : {"127.0.0.1:9001", "/run/credbroker/list.sock"}) {
    const auto c = choose_transport({"--listen", address});
    BOOST_TEST_REQUIRE(c.ok);
    BOOST_TEST((c.transport.kind == Transport::Kind::kFastCgiListen));
    BOOST_TEST(c.transport.listen == address);
  }
}

BOOST_AUTO_TEST_CASE(listen_without_an_address_is_an_error) {
  for (const auto& args :
       {std::vector<std::string>{"--listen"}, std::vector<std::string>{"--listen", ""}}) {
    const auto c = choose_transport(args);
    BOOST_TEST(!c.ok);
    BOOST_TEST(c.error == "--listen needs an address: 127.0.0.1:PORT or /path/to.sock");
  }
}

BOOST_AUTO_TEST_CASE(unknown_arguments_are_errors_that_quote_them) {
  for (const auto& args : {std::vector<std::string>{"--verbose"},
                           std::vector<std::string>{"--listen", "x", "--verbose"},
                           std::vector<std::string>{"--verbose", "--listen", "x"}}) {
    const auto c = choose_transport(args);
    BOOST_TEST(!c.ok);
    BOOST_TEST(c.error == "unknown argument \"--verbose\" (usage: [--listen ADDR])");
  }
}

BOOST_AUTO_TEST_CASE(without_arguments_cgi_needs_gateway_interface) {
  // fd 0 is no FastCGI socket here (libfcgi caches that answer, so only this case looks at it).
  const int saved = ::dup(0);
  const int null = ::open("/dev/null", O_RDONLY);
  BOOST_TEST_REQUIRE(saved >= 0);
  BOOST_TEST_REQUIRE(null >= 0);
  ::dup2(null, 0);
  ::close(null);

  ::setenv("GATEWAY_INTERFACE", "CGI/1.1", 1);
  const auto cgi = choose_transport({});
  ::unsetenv("GATEWAY_INTERFACE");
  const auto neither = choose_transport({});
  ::dup2(saved, 0);
  ::close(saved);

  BOOST_TEST(cgi.ok);
  BOOST_TEST((cgi.transport.kind == Transport::Kind::kCgi));
  BOOST_TEST(!neither.ok);
  BOOST_TEST(neither.error.find("--listen 127.0.0.1:PORT") != std::string::npos, neither.error);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::runtime
