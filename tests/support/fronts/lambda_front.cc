#include "tests/support/fronts/lambda_front.h"

#include <rapidjson/document.h>

#include <sstream>
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
  // Like lighttpd's max-procs: one health process, options().procs for the others. Each process
  // is one "execution environment"; the emulator starts them and hands each event to one that is
  // polling.
  std::string env;  // the members of each function's "env", but its name
  for (const auto& [name, value] : handler_env()) {
    env += json_string(name) + ":" + json_string(value) + ",";
  }
  std::string functions, routes;
  for (const auto& [name, pattern] : kRoutes) {
    const int procs = std::string_view(name) == "health" ? 1 : this->options().procs;
    const std::string prefix = dir().file(std::string("handler-") + name + "-");
    for (int i = 0; i < procs; ++i) log_files_.push_back(prefix + std::to_string(i) + ".log");
    functions += std::string(functions.empty() ? "" : ",") + json_string(name) +
                 ":{\"count\":" + std::to_string(procs) + ",\"command\":[" +
                 json_string(std::string(CREDBROKER_BIN_DIR) + "/credbroker-" + name) +
                 "],\"env\":{" + env +
                 "\"AWS_LAMBDA_FUNCTION_NAME\":" + json_string(std::string("credbroker-") + name) +
                 "},\"log_prefix\":" + json_string(prefix) + "}";
    routes += std::string(routes.empty() ? "" : ",") + "[" + json_string(pattern) + "," +
              json_string(name) + "]";
  }
  const std::string config_file = dir().file("emulator.json");
  write_file(config_file,
             "{\"gateway_port\":" + std::to_string(port()) + ",\"functions\":{" + functions +
                 "},\"routes\":[" + routes +
                 "],\"invoke_timeout_ms\":" + std::to_string(kInvokeTimeoutMs) +
                 ",\"record_file\":" + json_string(dir().file("runtime-errors.jsonl")) +
                 ",\"process_file\":" + json_string(dir().file("processes.jsonl")) + "}");

  ProcessOptions p;
  p.argv = {"node", std::string(CREDBROKER_SOURCE_DIR) + "/tests/lambda/emulator.mjs", config_file};
  p.stdout_path = dir().file("front.stdout");
  p.stderr_path = dir().file("front.log");
  emulator_.emplace(std::move(p));
  wait_until_serving("lambda emulator");
}

LambdaFront::~LambdaFront() {
  // The emulator stops the handler processes it runs.
  if (emulator_) emulator_->stop();
}

Answer LambdaFront::invoke(std::string_view function, std::string event) {
  return request("POST", "/2015-03-31/functions/" + std::string(function) + "/invocations",
                 {{"Content-Type", "application/json"}}, std::move(event));
}

std::string LambdaFront::runtime_errors() const {
  return read_file(dir().file("runtime-errors.jsonl"));
}

namespace {

/** The emulator's latest record of environment `index` of `function` (processes.jsonl). */
std::optional<rapidjson::Document> latest_process_record(const std::string& file,
                                                         std::string_view function,
                                                         std::size_t index) {
  std::optional<rapidjson::Document> latest;
  std::istringstream lines(read_file(file));
  std::string line;
  while (std::getline(lines, line)) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("function") ||
        !d["function"].IsString() || !d.HasMember("index") || !d["index"].IsUint()) {
      continue;  // a line still being written
    }
    if (function != d["function"].GetString() || index != d["index"].GetUint()) continue;
    latest = std::move(d);
  }
  return latest;
}

}  // namespace

std::optional<int> LambdaFront::exit_status(std::string_view function, std::size_t index) const {
  const auto record = latest_process_record(dir().file("processes.jsonl"), function, index);
  if (!record) throw std::runtime_error("no handler process " + std::string(function));
  if (std::string_view((*record)["event"].GetString()) != "exit") return std::nullopt;
  return (*record)["status"].GetInt();
}

bool LambdaFront::running(std::string_view function, std::size_t index) const {
  return !exit_status(function, index).has_value();
}

}  // namespace credbroker::testing
