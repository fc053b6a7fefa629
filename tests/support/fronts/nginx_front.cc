#include "tests/support/fronts/nginx_front.h"

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace credbroker::testing {

namespace {

/** Runs infra/nginx/render with `env` into `out`; throws with its stderr when it fails. */
void render_config(const std::vector<std::pair<std::string, std::string>>& env,
                   const std::string& out, const std::string& err) {
  ProcessOptions p;
  p.argv = {std::string(CREDBROKER_SOURCE_DIR) + "/infra/nginx/render"};
  p.env = env;
  p.stdout_path = out;
  p.stderr_path = err;
  ChildProcess render(std::move(p));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (render.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int status = render.stop();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("infra/nginx/render failed: " + read_file(err));
  }
}

}  // namespace

NginxFront::NginxFront(const TestIssuer& issuer, StackOptions options)
    : Front(issuer, std::move(options), "nginx") {
  // Started as root, nginx serves from its workers as "nobody": they must reach the sockets.
  std::filesystem::permissions(
      dir().path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                        std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                        std::filesystem::perms::others_exec);
  handlers_.emplace(dir().path(), this->options().procs, handler_env());
  for (const auto& f : handlers_->log_files()) log_files_.push_back(f);
  log_files_.push_back(dir().file("error.log"));

  std::string proxy_headers;
  for (const auto& name : this->options().proxy_headers) {
    proxy_headers += (proxy_headers.empty() ? "" : " ") + name;
  }
  const std::vector<std::pair<std::string, std::string>> env = {
      {"CREDBROKER_BIND", "127.0.0.1"},
      {"CREDBROKER_PORT", std::to_string(port())},
      {"CREDBROKER_RUN_DIR", dir().path()},
      {"CREDBROKER_SOCKET_DIR", dir().path()},
      {"CREDBROKER_ERRORLOG", dir().file("error.log")},
      {"CREDBROKER_NGINX_WORKERS", "1"},
      {"CREDBROKER_PROXY_HEADERS", proxy_headers},
      {"CREDBROKER_IDENTITY_HEADER", this->options().identity_header},
      {"CREDBROKER_UI_DIR", copy_ui()}};
  const std::string config = dir().file("nginx.conf");
  render_config(env, config, dir().file("render.log"));

  ProcessOptions p;
  p.argv = {"nginx", "-p", dir().path(), "-c", config};
  p.stdout_path = dir().file("front.stdout");
  p.stderr_path = dir().file("front.log");
  nginx_.emplace(std::move(p));
  wait_until_serving("nginx");
}

NginxFront::~NginxFront() {
  // nginx first, so no request reaches a handler that is going away.
  if (nginx_) nginx_->stop();
  if (handlers_) handlers_->stop();
}

}  // namespace credbroker::testing
