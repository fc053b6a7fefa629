// credbroker-profile: serves one route's requests to a handler run under a profiler, so that its
// own CPU per request can be counted in instructions (valgrind --tool=callgrind), which the load
// of a shared machine does not change. bench/README.md "Profiling a handler" shows the use.
//
//   credbroker-profile ROUTE N [WRAPPER ARGS...]
//
// ROUTE is list or connect. Starts redis-server (Unix socket), writes the stack's config and a
// keyring, seeds the list user (5 of 10 servers connected, as the bench does), starts the handler
// on a Unix socket with `--listen`, prefixed by WRAPPER ARGS (e.g. valgrind --tool=callgrind
// --callgrind-out-file=F), sends N requests over one FastCGI connection each, checks every answer
// and stops the handler with SIGTERM (it exits cleanly, so the profiler writes its output).
// connect cycles through users so that no one reaches the pending-flow cap. Instructions per
// request: the difference of two runs (N and 2N) divided by N removes start-up and shut-down.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/dataset.h"
#include "tests/support/fakes/fastcgi_client.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/process.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/tempdir.h"

namespace credbroker::bench {
namespace {

using namespace credbroker::testing;
using namespace std::chrono_literals;

/** The stack's config and keyring, without a front server: the handler is started here. */
class ConfigOnly final : public Front {
 public:
  ConfigOnly(const TestIssuer& issuer, StackOptions options)
      : Front(issuer, std::move(options), "profile") {}
  std::string_view kind() const override { return "none"; }
  std::vector<std::pair<std::string, std::string>> env() const { return handler_env(); }
  std::string socket_path() const { return dir().file("handler.sock"); }
};

/** The parameters lighttpd's mod_fastcgi passes for a GET. */
std::vector<std::pair<std::string, std::string>> params(const std::string& uri,
                                                        const std::string& token) {
  return {{"CONTENT_LENGTH", "0"},
          {"QUERY_STRING", ""},
          {"REQUEST_URI", uri},
          {"REDIRECT_STATUS", "200"},
          {"SCRIPT_NAME", uri},
          {"SCRIPT_FILENAME", "/nonexistent" + uri},
          {"DOCUMENT_ROOT", "/nonexistent"},
          {"REQUEST_METHOD", "GET"},
          {"SERVER_PROTOCOL", "HTTP/1.1"},
          {"SERVER_SOFTWARE", "lighttpd/1.4.69"},
          {"GATEWAY_INTERFACE", "CGI/1.1"},
          {"REQUEST_SCHEME", "http"},
          {"SERVER_PORT", "8080"},
          {"SERVER_ADDR", "127.0.0.1"},
          {"SERVER_NAME", "127.0.0.1"},
          {"REMOTE_ADDR", "127.0.0.1"},
          {"REMOTE_PORT", "40000"},
          {"HTTP_HOST", "127.0.0.1:8080"},
          {"HTTP_USER_AGENT", "credbroker-profile"},
          {"HTTP_ACCEPT", "*/*"},
          {"HTTP_AUTHORIZATION", "Bearer " + token}};
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: credbroker-profile list|connect N [WRAPPER ARGS...]\n";
    return 2;
  }
  const std::string route = argv[1];
  const int n = std::atoi(argv[2]);
  if ((route != "list" && route != "connect") || n < 1 || n > 1'000'000) {
    std::cerr << "credbroker-profile: bad route or count\n";
    return 2;
  }
  RedisServer redis;
  TestIssuer issuer;
  StackOptions options;
  options.redis_url = redis.unix_url();
  options.servers_json = servers_json("http://127.0.0.1:9/token");
  ConfigOnly stack(issuer, options);
  const int users = route == "list" ? 1 : kUsers;
  std::vector<std::string> tokens;
  for (int u = 0; u < users; ++u) tokens.push_back(issuer.token(user(u)));
  if (route == "list") seed_list_user(redis.unix_url(), stack.keys());
  const std::string uri =
      route == "list" ? "/api/v1/user/credentials" : "/api/v1/user/credentials/svc1/connect";
  const int want = route == "list" ? 200 : 302;

  ProcessOptions p;
  for (int i = 3; i < argc; ++i) p.argv.push_back(argv[i]);
  p.argv.push_back(std::string(CREDBROKER_BIN_DIR) + "/credbroker-" + route);
  p.argv.push_back("--listen");
  p.argv.push_back(stack.socket_path());
  p.env = stack.env();
  ChildProcess handler(std::move(p));

  std::unique_ptr<FastCgiConnection> first;
  for (int i = 0; i < 600 && !first; ++i) {  // valgrind starts slowly: up to a minute
    try {
      first = std::make_unique<FastCgiConnection>(stack.socket_path());
    } catch (const std::exception&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  if (!first) throw std::runtime_error("the handler never listened");
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<FastCgiConnection> c =
        i == 0 ? std::move(first) : std::make_unique<FastCgiConnection>(stack.socket_path());
    const std::string& token = tokens[static_cast<std::size_t>(i % users)];
    if (!c->send(FastCgiConnection::request(params(uri, token)))) {
      throw std::runtime_error("the handler closed the connection");
    }
    const auto answer = c->answer(60s);
    const std::string status = "Status: " + std::to_string(want) + " ";
    if (!answer || answer->rfind(status, 0) != 0) {
      throw std::runtime_error("unexpected answer to request " + std::to_string(i) + ": " +
                               answer.value_or("(none)"));
    }
  }
  // A SIGTERM that lands between the serve loop's check and accept(2) leaves the handler
  // waiting for one more connection (valgrind widens that window): give it one, then stop it.
  handler.signal(SIGTERM);
  std::this_thread::sleep_for(500ms);
  try {
    FastCgiConnection wake(stack.socket_path());
  } catch (const std::exception&) {
    // already gone
  }
  const int status = handler.stop(120s);  // SIGTERM: valgrind writes its output on the way out
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the handler did not exit cleanly: wait status " +
                             std::to_string(status));
  }
  std::cout << route << ": " << n << " requests answered " << want << "\n";
  return 0;
}

}  // namespace
}  // namespace credbroker::bench

int main(int argc, char** argv) {
  try {
    return credbroker::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "credbroker-profile: " << e.what() << "\n";
    return 1;
  }
}
