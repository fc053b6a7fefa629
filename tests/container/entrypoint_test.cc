// The image's entrypoint and health check (infra/docker/) run here as the image runs them, against
// a real redis-server and the real lighttpd + handlers: serve mode, the one-handler mode, the
// keyring from a mounted file, and the start-up refusals. Only the container around them is
// missing (docs/deploy/docker.md says what that leaves unchecked).
#define BOOST_TEST_MODULE container_entrypoint
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "shared/util/clock.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/process.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"
#include "tests/support/tempdir.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

const std::string kEntrypoint = std::string(CREDBROKER_SOURCE_DIR) + "/infra/docker/entrypoint";
const std::string kHealthcheck = std::string(CREDBROKER_SOURCE_DIR) + "/infra/docker/healthcheck";
const std::string kLighttpdConf =
    std::string(CREDBROKER_SOURCE_DIR) + "/infra/lighttpd/credbroker.conf";

/** PATH with the handlers first, as the image has them in /usr/local/bin. */
std::string path_with_handlers() {
  const char* path = std::getenv("PATH");
  return std::string(CREDBROKER_BIN_DIR) + ":" + (path != nullptr ? path : "/usr/bin:/bin");
}

/** What the image's ENV sets (Dockerfile), pointed at this test's directories and port. */
Env image_env(const std::string& run_dir, int port, const std::string& errorlog) {
  return {{"CREDBROKER_BIND", "127.0.0.1"},
          {"CREDBROKER_PORT", std::to_string(port)},
          {"CREDBROKER_BIN_DIR", CREDBROKER_BIN_DIR},
          {"CREDBROKER_RUN_DIR", run_dir},
          {"CREDBROKER_ERRORLOG", errorlog},
          {"CREDBROKER_PROCS", "1"},
          {"CREDBROKER_LIGHTTPD_CONF", kLighttpdConf},
          {"CREDBROKER_KEYS", ""},
          {"PATH", path_with_handlers()}};
}

/**
 * The stack as the image starts it: infra/docker/entrypoint with no command (serve), the keyring
 * in a file named by CREDBROKER_KEYS_FILE, never in the environment.
 */
class EntrypointFront final : public Front {
 public:
  EntrypointFront(const TestIssuer& issuer, StackOptions options)
      : Front(issuer, std::move(options), "entrypoint") {
    ui_dir_ = copy_ui();  // the image's /usr/local/share/credbroker/ui (CREDBROKER_UI_DIR)
    keys_file_ = dir().file("keys");
    write_file(keys_file_, keys() + "\n");  // a mounted secret ends with a newline
    ::chmod(keys_file_.c_str(), 0600);
    ProcessOptions p;
    p.argv = {kEntrypoint};
    p.env = env();
    p.stdout_path = dir().file("front.stdout");
    p.stderr_path = dir().file("front.log");
    process_.emplace(std::move(p));
    wait_until_serving("entrypoint (serve)");
  }
  ~EntrypointFront() override {
    if (process_) process_->stop();
  }
  std::string_view kind() const override { return "entrypoint"; }
  std::string run_dir() const { return dir().file("run"); }
  /** The container's environment: the image's ENV plus what an operator passes. */
  Env env() const {
    Env e = image_env(run_dir(), port(), "");  // the image's: lighttpd logs to its stderr
    e.emplace_back("CREDBROKER_CONFIG", config_path());
    e.emplace_back("CREDBROKER_KEYS_FILE", keys_file_);
    e.emplace_back("CREDBROKER_UI_DIR", ui_dir_);
    for (const auto& kv : options().env) e.push_back(kv);
    return e;
  }

 private:
  std::string keys_file_;
  std::string ui_dir_;
  std::optional<ChildProcess> process_;
};

struct Suite : SuiteInstance<Suite> {
  Suite() : front(issuer, {.redis_url = redis.url()}) {}
  RedisServer redis;
  TestIssuer issuer;
  EntrypointFront front;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.ensure_running();
    S().redis.flushall();
  }
};

struct Run {
  int exit_code;
  std::string out;
  std::string err;
};

/** Runs `argv` to completion (bounded: 10 s, then killed and reported as -1). */
Run run(std::vector<std::string> argv, Env env) {
  TempDir dir("credbroker-run");
  ProcessOptions p;
  p.argv = std::move(argv);
  p.env = std::move(env);
  p.stdout_path = dir.file("out");
  p.stderr_path = dir.file("err");
  ChildProcess child(std::move(p));
  for (int i = 0; i < 400 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  const int status = child.stop();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir.file("out")),
          read_file(dir.file("err"))};
}

/** Sets `name` in `env`, replacing an earlier value. */
void set(Env& env, const std::string& name, std::string value) {
  std::erase_if(env, [&](const auto& kv) { return kv.first == name; });
  env.emplace_back(name, std::move(value));
}

Run healthcheck(Env env) {
  return run({kHealthcheck}, std::move(env));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(serve_mode, Clean)

BOOST_AUTO_TEST_CASE(serves_the_api_through_lighttpd_with_the_keyring_from_the_keys_file) {
  store::Credential c;
  c.access_token = "ACCESS-TOKEN-SENTINEL-0c9d2e";
  c.expires_at = system_clock().now_seconds() + 3600;
  c.obtained_via = "connect_flow";
  seed_credential(S().redis.url(), S().front.keys(), "alice", default_server_key("github"), c);

  const Answer a = S().front.get("/api/v1/user/credentials", S().issuer.token("alice"));
  BOOST_TEST(a.status == 200);
  // "connected" needs the keyring to open the record: it came from CREDBROKER_KEYS_FILE.
  BOOST_TEST(a.body.find(R"("server":"github","mode":"oauth_connect","status":"connected")") !=
                 std::string::npos,
             a.body);
  BOOST_TEST(a.body.find("ACCESS-TOKEN-SENTINEL") == std::string::npos);
  BOOST_TEST(S().front.log().find(S().front.keys()) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(serves_the_web_page_as_html_with_its_policy) {
  const Answer a = S().front.request("GET", "/ui/");
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.header("content-type").value_or("") == "text/html; charset=utf-8");
  BOOST_TEST(a.header("content-security-policy").value_or("").find("default-src 'none'") == 0u);
  BOOST_TEST(a.header("x-content-type-options").value_or("") == "nosniff");
}

BOOST_AUTO_TEST_CASE(creates_the_document_root_and_records_the_mode) {
  BOOST_TEST(std::filesystem::is_directory(S().front.run_dir() + "/www"));
  BOOST_TEST(read_file(S().front.run_dir() + "/mode") == "serve\n");
}

BOOST_AUTO_TEST_CASE(healthcheck_passes_while_lighttpd_and_redis_answer) {
  const Run r = healthcheck(S().front.env());
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
  BOOST_TEST(r.out.find("healthz: HTTP/1.0 200 OK") == 0, r.out);
}

BOOST_AUTO_TEST_CASE(healthcheck_fails_while_redis_is_down) {
  S().redis.stop();
  const Run r = healthcheck(S().front.env());
  S().redis.start();
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  BOOST_TEST(r.out.find("healthz: HTTP/1.0 503") == 0, r.out);
}

BOOST_AUTO_TEST_CASE(healthcheck_fails_when_nothing_listens) {
  TempDir empty("credbroker-hc");
  const Run r = healthcheck(image_env(empty.path(), free_port(), "/dev/null"));
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  BOOST_TEST(r.out.find("healthz: no connection to 127.0.0.1:") == 0, r.out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(one_handler_mode, Clean)

BOOST_AUTO_TEST_CASE(runs_the_given_command_and_the_healthcheck_asks_the_health_handler) {
  TempDir dir("credbroker-exec");
  const int port = free_port();
  Env env = image_env(dir.file("run"), port, "/dev/null");
  env.emplace_back("CREDBROKER_CONFIG", S().front.config_path());
  ProcessOptions p;
  p.argv = {kEntrypoint, "credbroker-health", "--listen", "127.0.0.1:" + std::to_string(port)};
  p.env = env;
  p.stderr_path = dir.file("err");
  ChildProcess handler(std::move(p));
  BOOST_TEST_REQUIRE(wait_for_port(port, std::chrono::seconds(10)), read_file(dir.file("err")));
  BOOST_TEST(read_file(dir.file("run/mode")) == "exec\n");

  // No HTTP server here: the check runs credbroker-health as one CGI request.
  const Run up = healthcheck(env);
  BOOST_TEST(up.exit_code == 0, up.out << up.err);
  BOOST_TEST(up.out.find("healthz: Status: 200") == 0, up.out);
  S().redis.stop();
  const Run down = healthcheck(env);
  S().redis.start();
  BOOST_TEST(down.exit_code == 1, down.out << down.err);
  BOOST_TEST(down.out.find("healthz: Status: 503") == 0, down.out);
  BOOST_TEST(handler.running());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(refusals)

BOOST_AUTO_TEST_CASE(serve_refuses_a_config_file_it_cannot_read) {
  TempDir dir("credbroker-refuse");
  Env env = image_env(dir.file("run"), free_port(), "/dev/null");
  env.emplace_back("CREDBROKER_CONFIG", dir.file("missing.json"));
  const Run r = run({kEntrypoint}, env);
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err == "credbroker-entrypoint: CREDBROKER_CONFIG: cannot read " +
                          dir.file("missing.json") + " (mount the config file there)\n");
}

BOOST_AUTO_TEST_CASE(refuses_both_keys_and_keys_file_without_printing_the_keys) {
  TempDir dir("credbroker-refuse");
  const std::string keys = random_keyring_spec("k1");
  write_file(dir.file("keys"), keys);
  Env env = image_env(dir.file("run"), free_port(), "/dev/null");
  env.emplace_back("CREDBROKER_CONFIG", S().front.config_path());
  env.emplace_back("CREDBROKER_KEYS_FILE", dir.file("keys"));
  set(env, "CREDBROKER_KEYS", keys);
  const Run r = run({kEntrypoint}, env);
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err ==
             "credbroker-entrypoint: set CREDBROKER_KEYS or CREDBROKER_KEYS_FILE, not both\n");
  BOOST_TEST(r.err.find(keys.substr(3)) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(refuses_a_keys_file_it_cannot_read) {
  TempDir dir("credbroker-refuse");
  Env env = image_env(dir.file("run"), free_port(), "/dev/null");
  env.emplace_back("CREDBROKER_CONFIG", S().front.config_path());
  env.emplace_back("CREDBROKER_KEYS_FILE", dir.file("absent"));
  const Run r = run({kEntrypoint, "credbroker-list", "--listen", "127.0.0.1:1"}, env);
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err == "credbroker-entrypoint: CREDBROKER_KEYS_FILE: cannot read " +
                          dir.file("absent") + "\n");
}

BOOST_AUTO_TEST_SUITE_END()
