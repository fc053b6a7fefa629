#include "tests/support/lambda_front.h"

#include <stdexcept>

#include "tests/support/jwt_mint.h"

namespace credbroker::testing {

namespace {

/** Function name → the route regex on the raw path; the first match wins. The same table as
 *  infra/lighttpd/credbroker.conf (and template.yaml's routes: the HttpApi's, and resolve on the
 *  private internal API, whose network restriction the emulator does not play). */
constexpr std::pair<const char*, const char*> kRoutes[] = {
    {"health", "^/api/v1/healthz$"},
    {"connect", "^/api/v1/user/credentials/[^/]*/connect$"},
    {"callback", "^/api/v1/user/credentials/[^/]*/callback$"},
    {"delete", "^/api/v1/user/credentials/[^/]*$"},
    {"resolve", "^/api/v1/internal/credentials/resolve$"},
    {"list", "^/api/"},
};

// Long enough for the slowest scripted token endpoint in the suites, short enough that a handler
// that never answers fails the test instead of hanging it (API Gateway's own limit is 30 s).
constexpr int kInvokeTimeoutMs = 20000;

}  // namespace

LambdaFront::LambdaFront(const TestIssuer& issuer, StackOptions options)
    : Front(issuer, std::move(options), "lambda") {
  std::vector<std::pair<std::string, int>> ports;
  std::string functions, routes;
  for (const auto& [name, pattern] : kRoutes) {
    ports.emplace_back(name, free_port());
    functions += std::string(functions.empty() ? "" : ",") + json_string(name) + ":" +
                 std::to_string(ports.back().second);
    routes += std::string(routes.empty() ? "" : ",") + "[" + json_string(pattern) + "," +
              json_string(name) + "]";
  }
  const std::string config_file = dir().file("emulator.json");
  write_file(config_file,
             "{\"gateway_port\":" + std::to_string(port()) + ",\"functions\":{" + functions +
                 "},\"routes\":[" + routes +
                 "],\"invoke_timeout_ms\":" + std::to_string(kInvokeTimeoutMs) +
                 ",\"record_file\":" + json_string(dir().file("runtime-errors.jsonl")) + "}");

  ProcessOptions p;
  p.argv = {"node", std::string(CREDBROKER_SOURCE_DIR) + "/tests/lambda/emulator.mjs", config_file};
  p.stdout_path = dir().file("front.stdout");
  p.stderr_path = dir().file("front.log");
  emulator_.emplace(std::move(p));
  wait_until_serving("lambda emulator");

  // Like lighttpd's max-procs: one health process, options().procs for the others. Each process
  // is one "execution environment"; the emulator hands each event to one that is polling.
  for (const auto& [name, port] : ports) {
    const int procs = name == "health" ? 1 : this->options().procs;
    for (int i = 0; i < procs; ++i) {
      ProcessOptions h;
      h.argv = {std::string(CREDBROKER_BIN_DIR) + "/credbroker-" + name};
      h.env = handler_env();
      h.env.emplace_back("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:" + std::to_string(port));
      h.env.emplace_back("AWS_LAMBDA_FUNCTION_NAME", "credbroker-" + name);
      h.stdout_path = dir().file("handler-" + name + "-" + std::to_string(i) + ".stdout");
      h.stderr_path = dir().file("handler-" + name + "-" + std::to_string(i) + ".log");
      log_files_.push_back(h.stderr_path);
      handlers_.emplace_back(name, ChildProcess(std::move(h)));
    }
  }
}

LambdaFront::~LambdaFront() {
  for (auto& [name, process] : handlers_) process.stop();
  if (emulator_) emulator_->stop();
}

Answer LambdaFront::invoke(std::string_view function, std::string event) {
  return request("POST", "/2015-03-31/functions/" + std::string(function) + "/invocations",
                 {{"Content-Type", "application/json"}}, std::move(event));
}

std::string LambdaFront::runtime_errors() const {
  return read_file(dir().file("runtime-errors.jsonl"));
}

ChildProcess& LambdaFront::handler(std::string_view function, std::size_t index) {
  for (auto& [name, process] : handlers_) {
    if (name != function) continue;
    if (index == 0) return process;
    --index;
  }
  throw std::runtime_error("no handler process " + std::string(function));
}

std::optional<int> LambdaFront::exit_status(std::string_view function, std::size_t index) {
  ChildProcess& p = handler(function, index);
  p.running();  // reaps when it has exited
  return p.exit_status();
}

bool LambdaFront::running(std::string_view function, std::size_t index) {
  return handler(function, index).running();
}

}  // namespace credbroker::testing
