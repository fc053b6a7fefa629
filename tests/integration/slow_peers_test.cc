// Slow and stalling clients through every front: a client that announces a body and trickles it
// (or sends none) must never hold the handler process that the next, well-formed request needs.
// The fronts start one handler process per route, so a held process would show as a hung answer.
#define BOOST_TEST_MODULE integration_slow_peers
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kCredentials = "/api/v1/user/credentials";

struct Suite : SuiteInstance<Suite> {
  Suite() : front(start_front(issuer, {.redis_url = redis.url(), .procs = 1})) {}
  RedisServer redis;
  TestIssuer issuer;
  std::unique_ptr<Front> front;
};
CREDBROKER_TEST_SUITE(Suite)

/** A connection that sent `head` and `body_part`, then stays open sending nothing. */
class StalledClient {
 public:
  StalledClient(int port, const std::string& head, const std::string& body_part) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    BOOST_TEST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string out = head + body_part;
    BOOST_TEST_REQUIRE(::send(fd_, out.data(), out.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(out.size()));
  }
  ~StalledClient() { ::close(fd_); }
  StalledClient(const StalledClient&) = delete;
  StalledClient& operator=(const StalledClient&) = delete;

 private:
  int fd_ = -1;
};

std::string head(std::string_view method, std::string_view path, std::string_view token,
                 std::size_t content_length) {
  return std::string(method) + " " + std::string(path) +
         " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(S().front->port()) +
         "\r\nAuthorization: Bearer " + std::string(token) +
         "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
         std::to_string(content_length) + "\r\n\r\n";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_trickled_body_on_delete_does_not_hold_the_delete_handler) {
  const std::string token = S().issuer.token("alice");
  const std::string path = std::string(kCredentials) + "/github";
  // Announces 1000 bytes, sends 10, then nothing (the probe of issue "slow bodies").
  StalledClient stalled(S().front->port(), head("DELETE", path, token, 1000), "0123456789");
  // The one delete handler must still answer a well-formed request (the client gives up after
  // 20 s: a held handler is a failure here, not a hung test).
  const auto answer = S().front->del(path, token);
  BOOST_TEST(answer.status == 200, answer.body);
}

BOOST_AUTO_TEST_CASE(a_body_that_never_comes_on_list_does_not_hold_the_list_handler) {
  const std::string token = S().issuer.token("bob");
  StalledClient stalled(S().front->port(), head("GET", kCredentials, token, 4096), "");
  const auto answer = S().front->get(kCredentials, token);
  BOOST_TEST(answer.status == 200, answer.body);
}

BOOST_AUTO_TEST_CASE(a_complete_body_on_get_or_delete_is_refused_with_400) {
  const std::string token = S().issuer.token("carol");
  for (const char* method : {"GET", "DELETE"}) {
    const std::string path =
        std::string(kCredentials) + (std::string(method) == "GET" ? "" : "/github");
    const auto answer = S().front->request(
        method, path, {{"Authorization", "Bearer " + token}, {"Content-Type", "text/plain"}},
        "a body");
    BOOST_TEST(answer.status == 400, method << ": " << answer.body);
    // lighttpd refuses a GET with a body itself, in its own HTML, before any handler runs.
    if (S().front->kind() == "lighttpd" && std::string(method) == "GET") continue;
    BOOST_TEST(answer.body ==
               R"({"error":"Bad Request","message":"Request body not allowed","status_code":400})");
  }
}
