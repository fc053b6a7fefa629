#include "tests/support/servers/handler_pool.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

namespace {

/** Each route names its socket (<route>.sock) and its executable (credbroker-<route>). */
constexpr const char* kRoutes[] = {"health",   "list",    "delete",   "connect",
                                   "callback", "resolve", "authorize"};

std::string socket_path(const std::string& dir, std::string_view route) {
  return dir + "/" + std::string(route) + ".sock";
}

std::string log_path(const std::string& dir, std::string_view route) {
  return dir + "/" + std::string(route) + ".log";
}

/** The full path of `program` in PATH: spawn-fcgi execs its program without a PATH search. */
std::string in_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + std::string(program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
  }
  throw std::runtime_error("cannot find " + std::string(program) + " in PATH");
}

}  // namespace

HandlerPool::HandlerPool(std::string dir, int procs,
                         std::vector<std::pair<std::string, std::string>> env, int authorize_port,
                         std::vector<std::string> routes)
    : dir_(std::move(dir)), routes_(std::move(routes)) {
  if (routes_.empty()) routes_.assign(std::begin(kRoutes), std::end(kRoutes));
  const std::string multiwatch = in_path("multiwatch");
  for (const std::string& route : routes_) {
    const int forks = route == "health" ? 1 : procs;
    ProcessOptions p;
    // -n: spawn-fcgi binds the socket, then execs multiwatch in its own place (no daemon, stderr
    // kept: spawn-fcgi's own forking mode would send the handlers' stderr to /dev/null).
    const std::string socket = socket_path(dir_, route);
    const std::string handler = std::string(CREDBROKER_BIN_DIR) + "/credbroker-" + route;
    // clang-format off
    p.argv = {"spawn-fcgi", "-n", "-s", socket, "-M", "0666", "--",
              multiwatch, "-f", std::to_string(forks), "--",
              handler};
    // clang-format on
    if (route == "authorize" && authorize_port != 0) {
      p.argv.erase(p.argv.begin() + 2, p.argv.begin() + 6);
      p.argv.insert(p.argv.begin() + 2, {"-a", "127.0.0.1", "-p", std::to_string(authorize_port)});
    }
    p.env = env;
    p.stdout_path = "/dev/null";  // FastCGI answers go through the socket, never stdout
    p.stderr_path = log_path(dir_, route);
    supervisors_.emplace_back(std::move(p));
  }
  // spawn-fcgi creates the socket before it execs; a request that comes before a handler accepts
  // waits in the socket's backlog. So existing sockets are enough to serve.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const std::string& route : routes_) {
    if (route == "authorize" && authorize_port != 0) {
      if (!wait_for_port(authorize_port, std::chrono::seconds(10))) {
        stop();
        throw std::runtime_error("spawn-fcgi did not listen on port " +
                                 std::to_string(authorize_port));
      }
      continue;
    }
    while (!std::filesystem::exists(socket_path(dir_, route))) {
      if (std::chrono::steady_clock::now() >= deadline) {
        std::string logs;
        for (const auto& f : log_files()) logs += read_file(f);
        stop();
        throw std::runtime_error("spawn-fcgi did not create " + socket_path(dir_, route) + ": " +
                                 logs);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

HandlerPool::~HandlerPool() {
  stop();
}

std::vector<std::string> HandlerPool::log_files() const {
  std::vector<std::string> out;
  for (const std::string& route : routes_) out.push_back(log_path(dir_, route));
  return out;
}

void HandlerPool::stop() {
  // multiwatch passes SIGTERM on to its handlers and waits for them.
  for (auto& s : supervisors_) s.stop();
}

}  // namespace credbroker::testing
