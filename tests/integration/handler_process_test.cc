// A handler executable on its own: start-up failures (config, keys, command line) and the plain
// CGI transport, with no front server in between.
#define BOOST_TEST_MODULE integration_handler_process
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <thread>

#include "tests/support/fronts/stack.h"
#include "tests/support/process.h"
#include "tests/support/tempdir.h"

using namespace credbroker::testing;

namespace {

const std::string kList = std::string(CREDBROKER_BIN_DIR) + "/credbroker-list";

struct Run {
  int exit_code;
  std::string out;
  std::string err;
};

/** Runs credbroker-list to completion (bounded) with `env` and `args`. */
Run run_list(std::vector<std::pair<std::string, std::string>> env,
             std::vector<std::string> args = {}) {
  TempDir dir("credbroker-proc");
  ProcessOptions p;
  p.argv = {kList};
  for (auto& a : args) p.argv.push_back(std::move(a));
  p.env = std::move(env);
  p.stdout_path = dir.file("out");
  p.stderr_path = dir.file("err");
  ChildProcess child(std::move(p));
  for (int i = 0; i < 200 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));  // bounded: 5 s in all
  }
  const int status = child.stop();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(dir.file("out")),
          read_file(dir.file("err"))};
}

struct Files {
  TestIssuer issuer;
  TempDir dir{"credbroker-cfg"};
  std::string config(const std::string& json) {
    const std::string path = dir.file("config.json");
    write_file(path, json);
    return path;
  }
  std::string valid() {
    return R"({"public_base_url":"https://broker.example.test",
               "identity":{"issuer":"https://issuer.credbroker.test","audience":"credbroker-tests",
                           "algorithms":["ES256"],"jwks_file":")" +
           issuer.jwks_path() + R"("},
               "redis":{"url":"redis://127.0.0.1:9/0","connect_timeout_ms":100,"command_timeout_ms":100},
               "servers":)" +
           default_servers_json() + "}";
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_bad_config_stops_start_up_with_the_field_named) {
  Files f;
  const auto path = f.config(R"({"public_base_url":"https://b.example.test",
    "identity":{"issuer":"i","audience":"a","jwks_file":")" +
                             f.issuer.jwks_path() + R"("},
    "servers":[{"name":"a","url":"https://a.test","auth_broker":{"mode":"oauth_connect","client_id":"c","authorization_endpoint":"https://a.test/authorize"}},
               {"name":"b","url":"https://b.test"},
               {"name":"c","url":"https://c.test","auth_broker":{"mode":"oauth_connect","client_id":"c","authorization_endpoint":"https://c.test/authorize","token_endpoint":"https://c.test/token"}}]})");
  const auto r = run_list({{"CREDBROKER_CONFIG", path}, {"GATEWAY_INTERFACE", "CGI/1.1"}});
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err == "credbroker-list: " + path +
                          ": servers[0].auth_broker.token_endpoint: required for mode "
                          "\"oauth_connect\"\n");
  BOOST_TEST(r.out.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_config_file_is_named) {
  const auto r = run_list(
      {{"CREDBROKER_CONFIG", "/nonexistent/credbroker.json"}, {"GATEWAY_INTERFACE", "CGI/1.1"}});
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err.find("/nonexistent/credbroker.json: cannot read") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_malformed_keyring_stops_start_up_without_showing_the_key) {
  Files f;
  const auto path = f.config(f.valid());
  const std::string short_key = "c2hvcnQta2V5LW1hdGVyaWFs";  // 18 bytes
  const auto r = run_list({{"CREDBROKER_CONFIG", path},
                           {"CREDBROKER_KEYS", random_keyring_spec("k1") + ",k2:" + short_key},
                           {"GATEWAY_INTERFACE", "CGI/1.1"}});
  BOOST_TEST(r.exit_code == 78);
  BOOST_TEST(r.err ==
             "credbroker-list: CREDBROKER_KEYS entry 2: key must decode to 32 bytes (got 18)\n");
  BOOST_TEST(r.err.find(short_key) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bad_command_line_is_a_usage_error) {
  const auto r = run_list({}, {"--listen"});
  BOOST_TEST(r.exit_code == 64);
  BOOST_TEST(r.err.find("--listen needs an address") != std::string::npos);
  const auto s = run_list({}, {"--frobnicate"});
  BOOST_TEST(s.exit_code == 64);
}

BOOST_AUTO_TEST_CASE(as_cgi_it_answers_one_request_on_stdout) {
  Files f;
  const auto path = f.config(f.valid());
  const auto token = f.issuer.token("carol");
  const auto r = run_list({{"CREDBROKER_CONFIG", path},
                           {"CREDBROKER_KEYS", ""},
                           {"GATEWAY_INTERFACE", "CGI/1.1"},
                           {"REQUEST_METHOD", "GET"},
                           {"REQUEST_URI", "/api/v1/user/credentials"},
                           {"HTTP_AUTHORIZATION", "Bearer " + token}});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.rfind("Status: 200 OK\r\n", 0) == 0);
  BOOST_TEST(r.out.find("Content-Type: application/json\r\n") != std::string::npos);
  BOOST_TEST(r.out.find("Cache-Control: no-store\r\n") != std::string::npos);
  BOOST_TEST(r.out.find(R"("server":"github","mode":"oauth_connect","status":"unavailable")") !=
             std::string::npos);
  BOOST_TEST(r.err.find(R"("event":"request")") != std::string::npos);
  BOOST_TEST(r.err.find(token) == std::string::npos);

  const auto anonymous = run_list({{"CREDBROKER_CONFIG", path},
                                   {"GATEWAY_INTERFACE", "CGI/1.1"},
                                   {"REQUEST_METHOD", "GET"},
                                   {"REQUEST_URI", "/api/v1/user/credentials"}});
  BOOST_TEST(anonymous.out.rfind("Status: 401 Unauthorized\r\n", 0) == 0);
  BOOST_TEST(anonymous.out.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
}
