#include "tests/support/fronts/apache_front.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "shared/util/strings.h"

namespace credbroker::testing {

namespace {

namespace fs = std::filesystem;

/** Apache started as root serves from "nobody", and under mod_fcgid so do the handlers. */
void open_to_other_users(const std::string& path) {
  fs::permissions(path,
                  fs::perms::others_read | fs::perms::others_exec | fs::perms::group_read |
                      fs::perms::group_exec,
                  fs::perm_options::add);
}

/** A value for a double-quoted Apache config argument. */
std::string apache_quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

/** Whether a user with no special rights can reach `path` (every directory above it o+x). */
bool reachable_by_others(const fs::path& path) {
  for (fs::path p = path.parent_path(); !p.empty(); p = p.parent_path()) {
    if ((fs::status(p).permissions() & fs::perms::others_exec) == fs::perms::none) return false;
    if (p == p.root_path()) break;
  }
  return true;
}

// mod_fcgid cuts each FcgidInitialEnv value at 127 bytes (INITENV_VAL_LEN 128), silently.
constexpr std::size_t kFcgidMaxValue = 127;

}  // namespace

ApacheFront::ApacheFront(const TestIssuer& issuer, StackOptions options, Mode mode)
    : Front(issuer, std::move(options), mode == Mode::kFcgid ? "apache-fcgid" : "apache-proxy"),
      mode_(mode) {
  open_to_other_users(dir().path());
  fs::create_directories(dir().file("apache.d"));
  log_files_.push_back(dir().file("error.log"));

  std::vector<std::pair<std::string, std::string>> env = {
      {"CREDBROKER_BIND", "127.0.0.1"},
      {"CREDBROKER_PORT", std::to_string(port())},
      {"CREDBROKER_RUN_DIR", dir().path()},
      {"CREDBROKER_ERRORLOG", dir().file("error.log")},
      {"CREDBROKER_APACHE_USER", "nobody"},
      {"CREDBROKER_APACHE_GROUP", "nogroup"},
      {"CREDBROKER_APACHE_INCLUDE", dir().file("apache.d") + "/*.conf"},
      // The documented value for a gateway on the same host (Apache has no default).
      {"CREDBROKER_INTERNAL_ALLOW", "127.0.0.1 ::1"},
      {"CREDBROKER_PROXY_PREFIX", "/upstream/"},
      {"CREDBROKER_IDENTITY_HEADER", this->options().identity_header},
      {"CREDBROKER_UI_DIR", copy_ui()}};
  // mod_authnz_fcgi reaches credbroker-authorize over TCP only, in both ways of running Apache.
  const int authorize_port = free_port();
  env.emplace_back("CREDBROKER_AUTHORIZE_ADDR", "127.0.0.1:" + std::to_string(authorize_port));
  write_proxy_headers();
  std::string config = std::string(CREDBROKER_SOURCE_DIR) + "/infra/apache/";
  if (mode_ == Mode::kProxyFcgi) {
    config += "credbroker-proxy-fcgi.conf";
    handlers_.emplace(dir().path(), this->options().procs, handler_env(), authorize_port);
    for (const auto& f : handlers_->log_files()) log_files_.push_back(f);
    env.emplace_back("CREDBROKER_SOCKET_DIR", dir().path());
  } else {
    config += "credbroker-fcgid.conf";
    // The handlers run as "nobody" too: they read the config and the issuer's public JWKS.
    if (geteuid() == 0) {
      open_to_other_users(config_path());
      open_to_other_users(issuer.jwks_path());
      open_to_other_users(fs::path(issuer.jwks_path()).parent_path().string());
    }
    // ... and execute the handlers: from a build tree "nobody" cannot enter (a checkout under
    // /root), from copies in the front's directory.
    std::string bin_dir = CREDBROKER_BIN_DIR;
    if (geteuid() == 0 && !reachable_by_others(fs::path(bin_dir) / "credbroker-list")) {
      bin_dir = dir().file("bin");
      fs::create_directories(bin_dir);
      open_to_other_users(bin_dir);
      for (const char* route : {"list", "delete", "connect", "callback", "health", "resolve"}) {
        const std::string name = std::string("credbroker-") + route;
        fs::copy_file(fs::path(CREDBROKER_BIN_DIR) / name, fs::path(bin_dir) / name);
      }
    }
    handlers_.emplace(dir().path(), this->options().procs, handler_env(), authorize_port,
                      std::vector<std::string>{"authorize"});
    for (const auto& f : handlers_->log_files()) log_files_.push_back(f);
    env.emplace_back("CREDBROKER_BIN_DIR", bin_dir);
    env.emplace_back("CREDBROKER_PROCS", std::to_string(this->options().procs));
    pass_handler_env(env);
  }

  ProcessOptions p;
  p.argv = {"apache2", "-DFOREGROUND", "-f", config};
  p.env = std::move(env);
  p.stdout_path = dir().file("front.stdout");
  p.stderr_path = dir().file("front.log");
  apache_.emplace(std::move(p));
  wait_until_serving("apache2");
}

void ApacheFront::pass_handler_env(
    std::vector<std::pair<std::string, std::string>>& apache_env) const {
  // The config names these three; every other variable gets a FcgidInitialEnv line of its own.
  std::vector<std::pair<std::string, std::string>> named = {
      {"CREDBROKER_CONFIG", ""}, {"CREDBROKER_KEYS", ""}, {"CREDBROKER_REDIS_PASSWORD", ""}};
  std::string lines;
  for (const auto& [name, value] : handler_env()) {
    if (value.size() > kFcgidMaxValue) {
      throw std::runtime_error("mod_fcgid would cut " + name + " at " +
                               std::to_string(kFcgidMaxValue) + " bytes");
    }
    bool is_named = false;
    for (auto& [n, v] : named) {
      if (n == name) {
        v = value;
        is_named = true;
      }
    }
    if (!is_named) lines += "FcgidInitialEnv " + name + " " + apache_quoted(value) + "\n";
  }
  for (auto& e : named) apache_env.push_back(std::move(e));
  if (!lines.empty()) write_file(dir().file("apache.d/handler-env.conf"), lines);
}

void ApacheFront::write_proxy_headers() const {
  // The two lines docs/deploy/apache.md gives for each credential header but Authorization.
  std::string lines;
  for (const auto& name : options().proxy_headers) {
    if (iequals(name, "Authorization")) continue;
    lines += "  RequestHeader unset " + name + "\n  RequestHeader set " + name +
             " \"%{CREDBROKER_VALUE}e\" \"expr=%{reqenv:CREDBROKER_HEADER} == '" + to_lower(name) +
             "'\"\n";
  }
  if (lines.empty()) return;
  write_file(dir().file("apache.d/proxy-headers.conf"),
             "<Location \"/upstream/\">\n" + lines + "</Location>\n");
}

ApacheFront::~ApacheFront() {
  // Apache first (mod_fcgid stops its handlers with it), then any handlers of our own.
  if (apache_) apache_->stop();
  if (handlers_) handlers_->stop();
}

std::string_view ApacheFront::kind() const {
  return mode_ == Mode::kFcgid ? "apache-fcgid" : "apache-proxy-fcgi";
}

}  // namespace credbroker::testing
