#define BOOST_TEST_MODULE http_client
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "shared/http/client.h"
#include "tests/support/fakes/http_server.h"

namespace credbroker::http {
namespace {

using testing::HttpServer;
using testing::RecordedRequest;
using testing::ScriptedResponse;

ClientOptions short_timeouts() {
  return {.connect_timeout_ms = 300, .total_timeout_ms = 300, .max_body_bytes = 1000};
}

HttpServer::Handler always(ScriptedResponse response) {
  return [response](const RecordedRequest&) { return response; };
}

std::optional<std::string> header_of(const OutboundResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string error_of(const Result<OutboundResponse, FetchError>& r) {
  return r.ok() ? "" : std::string(describe(r.error()));
}

long long ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(get_reaches_the_server_exactly_and_returns_the_answer) {
  HttpServer server(
      always({.status = 200,
              .headers = {{"Content-Type", "application/json"}, {"X-Padded", "  spaced value  "}},
              .body = R"({"keys":[]})"}));
  auto client = make_curl_client(short_timeouts());

  auto response = client->send({.method = "GET",
                                .url = server.url("/jwks.json?tenant=a%20b"),
                                .headers = {{"Accept", "application/json"}, {"X-Trace", "t-1"}}});

  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->status == 200);
  BOOST_TEST(response->body == R"({"keys":[]})");
  BOOST_TEST(header_of(*response, "content-type").value_or("<absent>") == "application/json");
  BOOST_TEST(header_of(*response, "x-padded").value_or("<absent>") == "spaced value");
  BOOST_TEST(header_of(*response, "content-length").value_or("<absent>") == "11");

  const auto requests = server.requests();
  BOOST_REQUIRE(requests.size() == 1);
  BOOST_TEST(requests[0].method == "GET");
  BOOST_TEST(requests[0].target == "/jwks.json?tenant=a%20b");
  BOOST_TEST(requests[0].header("accept").value_or("<absent>") == "application/json");
  BOOST_TEST(requests[0].header("x-trace").value_or("<absent>") == "t-1");
  BOOST_TEST(requests[0].header("host").value_or("<absent>") ==
             "127.0.0.1:" + std::to_string(server.port()));
  BOOST_TEST(!requests[0].header("expect").has_value());
  BOOST_TEST(requests[0].body == "");
}

BOOST_AUTO_TEST_CASE(post_sends_headers_and_body_exactly) {
  HttpServer server(always({.status = 200, .body = R"({"access_token":"at"})"}));
  auto client = make_curl_client(short_timeouts());
  const std::string form = "grant_type=authorization_code&code=abc&code_verifier=xyz";

  auto response = client->send({.method = "POST",
                                .url = server.url("/token"),
                                .headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                                            {"Authorization", "Basic Y2lkOnNlY3JldA=="},
                                            {"X-Empty", ""}},
                                .body = form});

  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->body == R"({"access_token":"at"})");
  const auto requests = server.requests();
  BOOST_REQUIRE(requests.size() == 1);
  BOOST_TEST(requests[0].method == "POST");
  BOOST_TEST(requests[0].target == "/token");
  BOOST_TEST(requests[0].header("content-type").value_or("<absent>") ==
             "application/x-www-form-urlencoded");
  BOOST_TEST(requests[0].header("authorization").value_or("<absent>") == "Basic Y2lkOnNlY3JldA==");
  BOOST_TEST(requests[0].header("x-empty").value_or("<absent>") == "");
  BOOST_TEST(requests[0].header("content-length").value_or("<absent>") ==
             std::to_string(form.size()));
  BOOST_TEST(requests[0].body == form);
}

BOOST_AUTO_TEST_CASE(other_methods_use_a_custom_request_line) {
  HttpServer server(always({.status = 204}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.method = "DELETE", .url = server.url("/grant/1")});
  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->status == 204);
  BOOST_TEST(server.requests().at(0).method == "DELETE");
  BOOST_TEST(server.requests().at(0).target == "/grant/1");
}

BOOST_AUTO_TEST_CASE(error_statuses_are_returned_as_they_came) {
  HttpServer server(always({.status = 400,
                            .headers = {{"Content-Type", "application/json"}},
                            .body = R"({"error":"invalid_grant"})"}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.method = "POST", .url = server.url("/token"), .body = "x=1"});
  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->status == 400);
  BOOST_TEST(response->body == R"({"error":"invalid_grant"})");
}

BOOST_AUTO_TEST_CASE(redirects_are_not_followed) {
  HttpServer landing(always({.status = 200, .body = "followed"}));
  HttpServer server(always({.status = 302, .headers = {{"Location", landing.url("/landed")}}}));
  auto client = make_curl_client(short_timeouts());

  auto response = client->send({.url = server.url("/start")});

  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->status == 302);
  BOOST_TEST(header_of(*response, "location").value_or("<absent>") == landing.url("/landed"));
  BOOST_TEST(server.request_count() == 1u);
  BOOST_TEST(landing.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(body_at_the_cap_is_accepted) {
  HttpServer server(always({.status = 200, .body = std::string(1000, 'a')}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.url = server.url("/")});
  BOOST_REQUIRE_MESSAGE(response.ok(), error_of(response));
  BOOST_TEST(response->body.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(body_over_the_cap_is_too_large) {
  HttpServer server(always({.status = 200, .body = std::string(1001, 'a')}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.url = server.url("/")});
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kTooLarge));
}

BOOST_AUTO_TEST_CASE(body_over_the_cap_without_content_length_is_too_large) {
  // No Content-Length to reject up front: the write callback has to stop the transfer.
  HttpServer server(
      always({.status = 200, .body = std::string(200000, 'a'), .close_delimited = true}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.url = server.url("/")});
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kTooLarge));
}

BOOST_AUTO_TEST_CASE(slow_answer_beyond_the_total_timeout_times_out) {
  HttpServer server(always({.status = 200, .delay_ms = 5000}));
  auto client = make_curl_client(short_timeouts());
  const auto start = std::chrono::steady_clock::now();
  auto response = client->send({.url = server.url("/slow")});
  const auto elapsed_ms = ms_since(start);
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kTimeout));
  BOOST_TEST(elapsed_ms < 3000);
}

BOOST_AUTO_TEST_CASE(refused_connection_is_a_connect_error) {
  auto client = make_curl_client(short_timeouts());
  auto response = client->send(
      {.url = "http://127.0.0.1:" + std::to_string(testing::closed_loopback_port()) + "/"});
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kConnect));
}

BOOST_AUTO_TEST_CASE(connection_closed_without_answer_is_a_connect_error) {
  HttpServer server(always({.close_without_answer = true}));
  auto client = make_curl_client(short_timeouts());
  auto response = client->send({.url = server.url("/")});
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kConnect));
  BOOST_TEST(server.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(one_handle_serves_successive_requests_without_leaking_state) {
  HttpServer server([](const RecordedRequest& r) {
    return ScriptedResponse{.status = r.target == "/second" ? 201 : 200, .body = r.target};
  });
  auto client = make_curl_client(short_timeouts());

  auto first = client->send({.method = "POST",
                             .url = server.url("/first"),
                             .headers = {{"X-First", "1"}},
                             .body = "a=1"});
  auto second = client->send({.url = server.url("/second")});
  auto third = client->send({.method = "POST", .url = server.url("/third"), .body = "c=3"});

  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  BOOST_REQUIRE(third.ok());
  BOOST_TEST(first->status == 200);
  BOOST_TEST(second->status == 201);
  BOOST_TEST(second->body == "/second");
  BOOST_TEST(third->body == "/third");
  const auto requests = server.requests();
  BOOST_REQUIRE(requests.size() == 3u);
  BOOST_TEST(requests[1].method == "GET");
  BOOST_TEST(!requests[1].header("x-first").has_value());
  BOOST_TEST(!requests[1].header("content-length").has_value());
  BOOST_TEST(requests[1].body == "");
  BOOST_TEST(requests[2].body == "c=3");
}

BOOST_AUTO_TEST_CASE(a_failure_does_not_spoil_the_handle) {
  HttpServer server(always({.status = 200, .body = "ok"}));
  auto client = make_curl_client(short_timeouts());
  auto refused = client->send(
      {.url = "http://127.0.0.1:" + std::to_string(testing::closed_loopback_port()) + "/"});
  BOOST_REQUIRE(!refused.ok());
  auto fine = client->send({.url = server.url("/")});
  BOOST_REQUIRE_MESSAGE(fine.ok(), error_of(fine));
  BOOST_TEST(fine->body == "ok");
}

BOOST_AUTO_TEST_CASE(only_http_and_https_are_spoken) {
  auto client = make_curl_client(short_timeouts());
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/"}) {
    BOOST_TEST_CONTEXT(url) {
      auto response = client->send({.url = url});
      BOOST_REQUIRE(!response.ok());
      BOOST_TEST((response.error() == FetchError::kOther));
    }
  }
}

BOOST_AUTO_TEST_CASE(header_injection_is_refused_before_sending) {
  HttpServer server(always({.status = 200}));
  auto client = make_curl_client(short_timeouts());
  auto response =
      client->send({.url = server.url("/"), .headers = {{"X-A", "1\r\nX-Injected: yes"}}});
  BOOST_REQUIRE(!response.ok());
  BOOST_TEST((response.error() == FetchError::kOther));
  BOOST_TEST(server.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(every_error_has_a_fixed_description) {
  for (FetchError e : {FetchError::kTimeout, FetchError::kConnect, FetchError::kTls,
                       FetchError::kTooLarge, FetchError::kOther}) {
    BOOST_TEST(!describe(e).empty());
  }
  BOOST_TEST(describe(FetchError::kTimeout) == "timed out");
  BOOST_TEST(describe(FetchError::kTooLarge) == "response too large");
}

BOOST_AUTO_TEST_CASE(server_stops_promptly_during_a_scripted_delay) {
  const auto start = std::chrono::steady_clock::now();
  {
    HttpServer server(always({.status = 200, .delay_ms = HttpServer::kMaxDelayMs}));
    auto client = make_curl_client(short_timeouts());
    auto response = client->send({.url = server.url("/")});
    BOOST_TEST(!response.ok());
  }
  BOOST_TEST(ms_since(start) < 3000);
}

}  // namespace credbroker::http
