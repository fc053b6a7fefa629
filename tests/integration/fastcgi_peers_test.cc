// What may connect to a handler's FastCGI socket, and what it can do there: a peer that connects
// and stalls (or trickles its request) is dropped after the request deadline, so it cannot hold
// the process; a Unix socket the handler creates is 0660; over TCP only FCGI_WEB_SERVER_ADDRS may
// connect. The handler runs on its own (--listen), with a short deadline. And what the process
// shows of itself: its sealing keys and Redis password are gone from its environment.
#define BOOST_TEST_MODULE integration_fastcgi_peers
#include <signal.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/support/fakes/fastcgi_client.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/process.h"
#include "tests/support/tempdir.h"

using namespace credbroker::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kDeadline = 700ms;
// Longer than the deadline with room to spare; waits end early when the awaited thing happens.
constexpr auto kPatience = 10s;

const std::vector<std::pair<std::string, std::string>> kParams = {
    {"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/api/v1/nothing"}, {"SERVER_PROTOCOL", "HTTP/1.1"}};

/** credbroker-list listening on `address`, with a config that needs no server. */
class Handler {
 public:
  Handler(const std::string& address, std::vector<std::pair<std::string, std::string>> env = {},
          std::string identity = "") {
    const std::string config = dir_.file("config.json");
    if (identity.empty()) {
      identity = R"({"issuer":"https://issuer.credbroker.test","audience":"credbroker-tests",
                    "jwks_file":")" +
                 issuer_.jwks_path() + R"("})";
    }
    write_file(config, R"({"public_base_url":"https://broker.example.test","identity":)" +
                           identity + R"(,"redis":{"url":"redis://127.0.0.1:9/0"}})");
    ProcessOptions p;
    p.argv = {std::string(CREDBROKER_BIN_DIR) + "/credbroker-list", "--listen", address};
    p.env = {{"CREDBROKER_CONFIG", config},
             {"CREDBROKER_FASTCGI_DEADLINE_MS", std::to_string(kDeadline.count())}};
    for (auto& e : env) p.env.push_back(std::move(e));
    p.stderr_path = dir_.file("err");
    child_.emplace(std::move(p));
  }
  std::string log() const { return read_file(dir_.file("err")); }
  ChildProcess& process() { return *child_; }
  pid_t pid() const { return child_->pid(); }

 private:
  TempDir dir_{"credbroker-fcgi-peers"};
  TestIssuer issuer_;
  std::optional<ChildProcess> child_;
};

/** Connects once the handler listens (bounded). */
std::unique_ptr<FastCgiConnection> connect(const std::string& address) {
  for (int i = 0; i < 200; ++i) {
    try {
      return std::make_unique<FastCgiConnection>(address);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(25ms);
    }
  }
  BOOST_FAIL("the handler never listened on " << address);
  return nullptr;
}

bool answers_404(FastCgiConnection& c) {
  if (!c.send(FastCgiConnection::request(kParams))) return false;
  const auto out = c.answer(kPatience);
  return out && out->rfind("Status: 404 Not Found\r\n", 0) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_unix_socket_the_handler_creates_is_for_owner_and_group_only) {
  TempDir dir("credbroker-sock");
  const std::string path = dir.file("list.sock");
  Handler handler(path);
  auto c = connect(path);
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0660u);
  BOOST_TEST(answers_404(*c));
}

BOOST_AUTO_TEST_CASE(a_peer_that_connects_and_stalls_is_dropped_and_the_next_is_served) {
  TempDir dir("credbroker-sock");
  const std::string path = dir.file("list.sock");
  Handler handler(path);
  auto stalled = connect(path);
  BOOST_TEST_REQUIRE(stalled->send(std::string(1, '\1')));  // one byte, then nothing
  auto next = connect(path);
  BOOST_TEST(answers_404(*next), "the one process was free again after the deadline");
  BOOST_TEST(stalled->closed_by_peer(kPatience));
  BOOST_TEST(handler.log().find(R"("event":"fastcgi_peer_dropped")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_peer_trickling_its_parameters_is_dropped_at_the_deadline) {
  TempDir dir("credbroker-sock");
  const std::string path = dir.file("list.sock");
  Handler handler(path);
  auto trickler = connect(path);
  const std::string request = FastCgiConnection::request(kParams);
  // One byte every 200 ms: each read(2) is quick, the request as a whole is not. Bounded: at
  // most the request's bytes, and it stops as soon as the handler hangs up.
  bool dropped = false;
  for (std::size_t i = 0; i < request.size() && !dropped; ++i) {
    dropped = !trickler->send(request.substr(i, 1)) || trickler->closed_by_peer(200ms);
  }
  BOOST_TEST(dropped);
  auto next = connect(path);
  BOOST_TEST(answers_404(*next));
}

BOOST_AUTO_TEST_CASE(over_tcp_only_fcgi_web_server_addrs_may_connect) {
  const int port = free_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  {
    Handler handler(address, {{"FCGI_WEB_SERVER_ADDRS", "127.0.0.2"}});
    auto refused = connect(address);
    BOOST_TEST(refused->send(FastCgiConnection::request(kParams)));
    BOOST_TEST(refused->closed_by_peer(kPatience), "closed without an answer");
    BOOST_TEST(handler.log().find(R"("event":"fastcgi_peer_refused")") != std::string::npos);
  }
  const int port2 = free_port();
  const std::string address2 = "127.0.0.1:" + std::to_string(port2);
  Handler handler(address2, {{"FCGI_WEB_SERVER_ADDRS", "127.0.0.2, 127.0.0.1"}});
  auto allowed = connect(address2);
  BOOST_TEST(answers_404(*allowed));
}

BOOST_AUTO_TEST_CASE(sigterm_or_sigusr1_ends_a_waiting_handler_at_once) {
  for (const int signo : {SIGTERM, SIGUSR1}) {
    TempDir dir("credbroker-sock");
    const std::string path = dir.file("list.sock");
    Handler handler(path);
    auto c = connect(path);
    BOOST_TEST(answers_404(*c));
    // Waiting in accept(2): FastCGI's "finish and exit" must end it, not be retried forever.
    handler.process().signal(signo);
    bool exited = false;
    for (int i = 0; i < 400 && !exited; ++i) {  // bounded: 10 s
      exited = !handler.process().running();
      if (!exited) std::this_thread::sleep_for(25ms);
    }
    BOOST_TEST(exited, "signal " << signo);
  }
}

/**
 * The handler's environment block once it has served a request (so it is past reading its
 * environment): /proc/<pid>/environ is the block the process was started with, as its memory
 * holds it now, so unsetenv() alone would leave a value readable there.
 */
std::string environment_once_started(Handler& handler, const std::string& path) {
  auto c = connect(path);
  BOOST_TEST_REQUIRE(answers_404(*c));
  std::ifstream in("/proc/" + std::to_string(handler.pid()) + "/environ", std::ios::binary);
  BOOST_TEST_REQUIRE(in.good());
  std::string block{std::istreambuf_iterator<char>(in), {}};
  BOOST_TEST(block.find("CREDBROKER_FASTCGI_DEADLINE_MS=") != std::string::npos,
             "not the handler's environment");
  return block;
}

BOOST_AUTO_TEST_CASE(the_keys_and_the_redis_password_are_gone_from_the_handlers_environment) {
  TempDir dir("credbroker-env");
  const std::string path = dir.file("list.sock");
  const std::string key = "ZW52aXJvbm1lbnQtc2NydWItdGVzdC1rZXktMzJieXQ=";  // 32 bytes
  const std::string password = "redis-password-env-marker-5c1e";
  Handler handler(path,
                  {{"CREDBROKER_KEYS", "k1:" + key}, {"CREDBROKER_REDIS_PASSWORD", password}});
  const std::string environ_block = environment_once_started(handler, path);
  BOOST_TEST(environ_block.find(key) == std::string::npos, "the sealing key is still there");
  BOOST_TEST(environ_block.find(password) == std::string::npos, "the password is still there");
}

BOOST_AUTO_TEST_CASE(the_shared_hs256_key_is_gone_from_the_handlers_environment) {
  TempDir dir("credbroker-env");
  const std::string path = dir.file("list.sock");
  const std::string key = "aG1hYy1lbnYtc2NydWItdGVzdC1nYXRld2F5LWtleSE=";  // 32 bytes
  Handler handler(path, {{"GATEWAY_TOKEN_KEY", key}}, R"({"hmac_secret_env":"GATEWAY_TOKEN_KEY"})");
  const std::string environ_block = environment_once_started(handler, path);
  BOOST_TEST(environ_block.find(key) == std::string::npos, "the HS256 key is still there");
}
