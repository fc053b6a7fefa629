#include "tests/support/handler_pool.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/tempdir.h"

namespace credbroker::testing {

namespace {

/** Each route names its socket (<route>.sock) and its executable (credbroker-<route>). */
constexpr const char* kRoutes[] = {"health", "list", "delete", "connect", "callback", "resolve"};

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
                         std::vector<std::pair<std::string, std::string>> env)
    : dir_(std::move(dir)) {
  const std::string multiwatch = in_path("multiwatch");
  for (const std::string route : kRoutes) {
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
    p.env = env;
    p.stdout_path = "/dev/null";  // FastCGI answers go through the socket, never stdout
    p.stderr_path = log_path(dir_, route);
    supervisors_.emplace_back(std::move(p));
  }
  // spawn-fcgi creates the socket before it execs; a request that comes before a handler accepts
  // waits in the socket's backlog. So existing sockets are enough to serve.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const std::string route : kRoutes) {
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
  for (const std::string route : kRoutes) out.push_back(log_path(dir_, route));
  return out;
}

void HandlerPool::stop() {
  // multiwatch passes SIGTERM on to its handlers and waits for them.
  for (auto& s : supervisors_) s.stop();
}

}  // namespace credbroker::testing
