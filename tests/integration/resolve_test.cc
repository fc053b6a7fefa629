// The gateway's route, POST /api/v1/internal/credentials/resolve, end to end behind each front:
// the caller's service token, the user's subject token, the request body, every answer's exact
// shape, refresh of a connected credential (once across processes and machines), token exchange
// and Entra on-behalf-of against a scripted token endpoint that speaks real HTTP, the front's
// network restriction, and secrets kept out of logs and error bodies.
#define BOOST_TEST_MODULE integration_resolve
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "shared/config/config.h"
#include "shared/crypto/base64.h"
#include "shared/http/request.h"
#include "shared/http/url.h"
#include "shared/store/user_keys.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kResolve = "/api/v1/internal/credentials/resolve";
constexpr std::string_view kList = "/api/v1/user/credentials";

// Sentinels: none may ever appear in a log line or an error body.
constexpr std::string_view kStoredAccess = "AT-STORED-SENTINEL-3b9e51";
constexpr std::string_view kStoredRefresh = "RT-STORED-SENTINEL-c41d07";
constexpr std::string_view kNewAccess = "AT-REFRESHED-SENTINEL-77aa0c";
constexpr std::string_view kNewRefresh = "RT-ROTATED-SENTINEL-90fe3d";
constexpr std::string_view kExchanged = "AT-EXCHANGED-SENTINEL-12cd8b";
constexpr std::string_view kOldExchanged = "AT-OLD-EXCHANGE-SENTINEL-6a01";
constexpr std::string_view kOboToken = "AT-OBO-SENTINEL-5e6f24";
constexpr std::string_view kClientSecret = "CS-SENTINEL-resolve-8d2c4f";
constexpr std::string_view kUpstreamSecret = "UPSTREAM-DESCRIPTION-SENTINEL-0b7e";

constexpr std::string_view kTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

const std::vector<std::string_view> kSentinels = {kStoredAccess, kStoredRefresh, kNewAccess,
                                                  kNewRefresh,   kExchanged,     kOldExchanged,
                                                  kOboToken,     kClientSecret,  kUpstreamSecret};

using Params = std::map<std::string, std::vector<std::string>>;

Params form_of(const RecordedRequest& r) {
  Params form;
  const auto parsed = http::parse_query(r.body);
  BOOST_TEST_REQUIRE(parsed.has_value(), "not a form: " << r.body);
  for (const auto& [k, v] : *parsed) form[k].push_back(v);
  return form;
}

std::string one(const Params& p, const std::string& name) {
  const auto it = p.find(name);
  BOOST_TEST_REQUIRE((it != p.end() && it->second.size() == 1), "exactly one " << name);
  return it->second.front();
}

ScriptedResponse json_answer(std::string body, int status = 200) {
  return {.status = status, .headers = {{"Content-Type", "application/json"}}, .body = body};
}

/** The scripted token endpoint's good answers, by grant type. */
ScriptedResponse token_answer(const RecordedRequest& r) {
  const auto parsed = http::parse_query(r.body);
  std::string grant;
  if (parsed) {
    for (const auto& [k, v] : *parsed) {
      if (k == "grant_type") grant = v;
    }
  }
  if (grant == "refresh_token") {
    return json_answer(R"({"access_token":")" + std::string(kNewAccess) + R"(","refresh_token":")" +
                       std::string(kNewRefresh) + R"(","token_type":"Bearer","expires_in":3600})");
  }
  if (grant == kTokenExchange) {
    return json_answer(R"({"access_token":")" + std::string(kExchanged) +
                       R"(","issued_token_type":")" + std::string(kAccessTokenType) +
                       R"(","token_type":"Bearer","expires_in":3600})");
  }
  if (grant == kJwtBearer) {
    return json_answer(R"({"access_token":")" + std::string(kOboToken) +
                       R"(","token_type":"Bearer","expires_in":3600})");
  }
  return json_answer(R"({"error":"unsupported_grant_type"})", 400);
}

std::string servers_json(int as_port, int closed_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  const std::string secret = json_string(kClientSecret);
  return R"([
    {"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "client_id": "gh-client", "client_secret": )" +
         secret + R"(, "scopes": ["repo"]}},
    {"name": "Basic Wiki", "url": "https://wiki.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "client_id": "wiki client", "client_secret": )" +
         secret + R"(, "token_endpoint_auth_method": "client_secret_basic",
       "header": "X-Wiki-Token", "header_format": "Token {token}",
       "refresh_window_seconds": 120}},
    {"name": "public", "url": "https://public.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token",
       "client_id": "public-client", "token_endpoint_auth_method": "none"}},
    {"name": "jira", "url": "https://jira.example.test",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         as + R"(/token",
       "client_id": "jira-client", "client_secret": )" +
         secret + R"(, "resource": "https://jira.example.test/rest", "audience": "jira-api",
       "scopes": ["read:jira-work", "write:jira-work"]}},
    {"name": "entra", "url": "https://graph.example.test",
     "auth_broker": {"mode": "entra_obo", "token_endpoint": ")" +
         as + R"(/token",
       "client_id": "entra-client", "client_secret": )" +
         secret + R"(, "scopes": ["https://graph.example.test/.default"]}},
    {"name": "down", "url": "https://down.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": "http://127.0.0.1:)" + std::to_string(closed_port) +
         R"(/token",
       "client_id": "down-client", "client_secret": )" +
         secret + R"(}},
    {"name": "plain", "url": "https://plain.example.test"}
  ])";
}

const std::map<std::string, std::string> kServerUrls = {
    {"github", "https://github.example.test/api/v3"}, {"Basic Wiki", "https://wiki.example.test"},
    {"public", "https://public.example.test"},        {"jira", "https://jira.example.test"},
    {"entra", "https://graph.example.test"},          {"down", "https://down.example.test"}};

std::string key_of(const std::string& server) {
  return config::server_key(server, kServerUrls.at(server));
}

// The upstream's timeout is short so that the slow-endpoint case stays cheap; the concurrency
// case's scripted delay (300 ms) stays well below it.
constexpr std::string_view kHttpConfig = R"(,"http":{"connect_timeout_ms":500,"timeout_ms":1000})";
constexpr int kSlowDelayMs = 1500;

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(token_answer),
        closed_port(closed_loopback_port()),
        stack(start_front(issuer, options())) {}
  StackOptions options() const {
    return {.redis_url = redis.url(),
            .servers_json = servers_json(as.port(), closed_port),
            .extra_config = resolve_config_json(issuer) + std::string(kHttpConfig),
            .procs = 2};
  }
  /** A second front sharing only Redis, the keyring and the config's content: started on first
   *  use (the concurrency case), once. */
  Front& other() {
    if (!other_) {
      auto o = options();
      o.keys = stack->keys();
      other_ = start_front(issuer, std::move(o));
    }
    return *other_;
  }
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  int closed_port;
  std::unique_ptr<Front> stack;
  std::unique_ptr<Front> other_;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
    S().as.set_handler(token_answer);
    S().as.clear_requests();
  }
};

std::int64_t now() {
  return system_clock().now_seconds();
}

/** A user token expiring at `exp` (so a test knows the exact value). */
std::string user_token(std::string_view user, std::int64_t exp) {
  return mint(S().issuer.key(), S().issuer.claims(user).exp(exp));
}

std::string request_body(std::string_view server, std::string_view subject_token) {
  return "{\"server\":" + json_string(server) + ",\"subject_token\":" + json_string(subject_token) +
         "}";
}

Answer post(Front& front, std::string body, std::optional<std::string> caller,
            std::optional<std::string> content_type = "application/json") {
  std::vector<std::pair<std::string, std::string>> headers;
  if (caller) headers.emplace_back("Authorization", *caller);
  if (content_type) headers.emplace_back("Content-Type", *content_type);
  return front.request("POST", kResolve, std::move(headers), std::move(body));
}

/** The gateway asks `front` for `server` on behalf of the user of `subject_token`. */
Answer resolve(Front& front, std::string_view server, std::string_view subject_token) {
  return post(front, request_body(server, subject_token), "Bearer " + S().issuer.service_token());
}

Answer resolve(std::string_view server, std::string_view subject_token) {
  return resolve(*S().stack, server, subject_token);
}

std::string error_body(int status, std::string_view message) {
  return "{\"error\":\"" + std::string(http::reason_phrase(status)) +
         "\",\"message\":" + http::json_quote(message) +
         ",\"status_code\":" + std::to_string(status) + "}";
}

void expect_json_headers(const Answer& a) {
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
}

void expect_error(const Answer& a, int status, std::string_view message) {
  BOOST_TEST(a.status == status);
  BOOST_TEST(a.body == error_body(status, message));
  expect_json_headers(a);
}

void expect_reconnect(const Answer& a, std::string_view server, std::string_view path_name) {
  BOOST_TEST(a.status == 409);
  BOOST_TEST(a.body ==
             R"({"error":"reconnect_required","message":)" +
                 http::json_quote("Reconnect required for \"" + std::string(server) + "\"") +
                 R"(,"status_code":409,"connect_path":"/api/v1/user/credentials/)" +
                 std::string(path_name) + R"(/connect"})");
  expect_json_headers(a);
}

void expect_bad_gateway(const Answer& a, std::string_view upstream_error = "") {
  BOOST_TEST(a.status == 502);
  expect_json_headers(a);
  if (upstream_error.empty()) {
    BOOST_TEST(
        a.body ==
        R"({"error":"Bad Gateway","message":"Upstream token endpoint failed","status_code":502})");
    return;
  }
  // The members exactly, in any order (see the report: the order differs from the 409's).
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  BOOST_TEST(d.MemberCount() == 4u, a.body);
  BOOST_TEST(d["error"].GetString() == std::string("Bad Gateway"));
  BOOST_TEST(d["message"].GetString() == std::string("Upstream token endpoint failed"));
  BOOST_TEST(d["status_code"].GetInt() == 502);
  BOOST_TEST(d["upstream_error"].GetString() == upstream_error);
}

rapidjson::Document json(const Answer& a) {
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  return d;
}

/** The exact 200 body; `expires_at` 0: none. */
std::string ok_body(std::string_view server, std::string_view token, std::int64_t expires_at,
                    std::string_view header = "Authorization",
                    std::string_view header_value_prefix = "Bearer ") {
  std::string out = "{\"server\":" + json_string(server) +
                    ",\"token_type\":\"Bearer\",\"access_token\":" + json_string(token);
  if (expires_at != 0) out += ",\"expires_at\":" + json_string(format_rfc3339(expires_at));
  out += ",\"header\":{\"name\":" + json_string(header) +
         ",\"value\":" + json_string(std::string(header_value_prefix) + std::string(token)) + "}}";
  return out;
}

/** A 200 whose expiry was computed upstream-side as now + `lifetime`: the body is exact with the
 *  expiry the handler chose, and that expiry lies between `before` + lifetime and now + lifetime.
 */
void expect_ok_expiring(const Answer& a, std::string_view server, std::string_view token,
                        std::int64_t before, std::int64_t lifetime,
                        std::string_view header = "Authorization",
                        std::string_view prefix = "Bearer ") {
  BOOST_TEST_REQUIRE(a.status == 200, a.body);
  expect_json_headers(a);
  const auto d = json(a);
  BOOST_TEST_REQUIRE(d.HasMember("expires_at"), a.body);
  const std::string expires = d["expires_at"].GetString();
  BOOST_TEST(expires >= format_rfc3339(before + lifetime));
  BOOST_TEST(expires <= format_rfc3339(now() + lifetime));
  std::string expected = ok_body(server, token, 0, header, prefix);
  const std::string marker = ",\"header\":";
  expected.insert(expected.find(marker), ",\"expires_at\":" + json_string(expires));
  BOOST_TEST(a.body == expected);
}

store::Credential stored(std::int64_t expires_at, std::string refresh = std::string(kStoredRefresh),
                         std::int64_t updated_at = 0) {
  store::Credential c;
  c.access_token = std::string(kStoredAccess);
  c.refresh_token = std::move(refresh);
  c.token_type = "Bearer";
  c.expires_at = expires_at;
  c.scopes = {"repo"};
  c.obtained_via = "connect_flow";
  c.updated_at = updated_at != 0 ? updated_at : now() - 3600;
  return c;
}

void seed(std::string_view user, const std::string& server, const store::Credential& c) {
  seed_credential(S().redis.url(), S().stack->keys(), user, key_of(server), c);
}

std::optional<store::Credential> load(std::string_view user, const std::string& server) {
  return load_credential(S().redis.url(), S().stack->keys(), user, key_of(server));
}

std::vector<RecordedRequest> posts_with_grant(std::string_view grant) {
  std::vector<RecordedRequest> out;
  for (const auto& r : S().as.requests()) {
    const auto parsed = http::parse_query(r.body);
    if (!parsed) continue;
    for (const auto& [k, v] : *parsed) {
      if (k == "grant_type" && v == grant) out.push_back(r);
    }
  }
  return out;
}

/** The list entry for `server` as user `user` sees it. */
std::map<std::string, std::string> list_entry(std::string_view user, std::string_view server) {
  const auto a = S().stack->get(kList, S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 200, a.body);
  const auto d = json(a);
  for (const auto& e : d["credentials"].GetArray()) {
    if (server != e["server"].GetString()) continue;
    std::map<std::string, std::string> out;
    for (const auto& m : e.GetObject()) {
      if (m.value.IsString()) out[m.name.GetString()] = m.value.GetString();
    }
    return out;
  }
  BOOST_FAIL("no list entry for " << server);
  return {};
}

/** No sentinel, client secret or any of `more` (subject tokens, say) in `text`. */
void expect_no_secrets(std::string_view text, const std::vector<std::string>& more = {}) {
  for (const auto s : kSentinels) BOOST_TEST(text.find(s) == std::string_view::npos, s);
  for (const auto& s : more) {
    BOOST_TEST(text.find(s) == std::string_view::npos, "a subject token");
    // The signature alone identifies the token too.
    BOOST_TEST(text.find(s.substr(s.rfind('.') + 1)) == std::string_view::npos, "a signature");
  }
}

// ---------------------------------------------------------------------------------------------
// Requests from outside the front: another loopback address, and the handler as plain CGI.

/** Sends `method target` (a POST with body "{}") from source address `from` (another loopback
 *  address), bypassing curl; returns the status and the raw answer. */
std::pair<int, std::string> post_from(std::string_view from, int port, std::string_view target,
                                      std::string_view method = "POST") {
  const std::string body = method == "POST" ? "{}" : "";
  std::string out = std::string(method) + " " + std::string(target) +
                    " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  if (!body.empty()) {
    out +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n" + body;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_TEST_REQUIRE(fd >= 0);
  sockaddr_in source{};
  source.sin_family = AF_INET;
  BOOST_TEST_REQUIRE(::inet_pton(AF_INET, std::string(from).c_str(), &source.sin_addr) == 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
    ::close(fd);
    BOOST_FAIL("cannot bind " << from);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    BOOST_FAIL("connect to the front failed");
  }
  std::string_view left = out;
  while (!left.empty()) {
    const ssize_t n = ::send(fd, left.data(), left.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string in;
  char buf[16384];
  while (in.size() < (1u << 20)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;  // bounded: a hang fails below
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (in.size() < 12 || !in.starts_with("HTTP/1.")) return {0, in};
  return {std::stoi(in.substr(9, 3)), in};
}

/** credbroker-resolve run once as CGI (no front) with `config` and `keys`: a POST of `body`
 *  with the given caller token. */
Answer cgi_resolve(const std::string& config, const std::string& keys, std::string_view method,
                   const std::string& body, const std::string& caller) {
  TempDir dir("credbroker-resolve-cgi");
  const std::string body_file = dir.file("body");
  write_file(body_file, body);
  ProcessOptions p;
  p.argv = {"/bin/sh", "-c", "exec \"$0\" < \"$1\"",
            std::string(CREDBROKER_BIN_DIR) + "/credbroker-resolve", body_file};
  p.env = {{"GATEWAY_INTERFACE", "CGI/1.1"},
           {"REQUEST_METHOD", std::string(method)},
           {"REQUEST_URI", std::string(kResolve)},
           {"SCRIPT_NAME", std::string(kResolve)},
           {"SERVER_PROTOCOL", "HTTP/1.1"},
           {"CONTENT_TYPE", "application/json"},
           {"CONTENT_LENGTH", std::to_string(body.size())},
           {"HTTP_AUTHORIZATION", "Bearer " + caller},
           {"CREDBROKER_CONFIG", config},
           {"CREDBROKER_KEYS", keys}};
  p.stdout_path = dir.file("out");
  p.stderr_path = dir.file("err");
  ChildProcess handler(std::move(p));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (handler.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  handler.stop();
  const std::string out = read_file(dir.file("out"));
  const std::string err = read_file(dir.file("err"));
  expect_no_secrets(err, {caller});
  Answer a;
  const auto end = out.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(end != std::string::npos, "no CGI answer: " << out << err);
  std::string_view head(out.data(), end);
  while (!head.empty()) {
    const auto eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value(line.substr(colon + 1));
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "status") a.status = std::stoi(value);
      a.headers.emplace_back(name, value);
    }
    head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  }
  a.body = out.substr(end + 4);
  return a;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(routing, Clean)

BOOST_AUTO_TEST_CASE(methods_other_than_post_get_405_with_allow_post) {
  for (const char* method : {"GET", "PUT", "DELETE", "PATCH"}) {
    const auto a = S().stack->request(method, kResolve,
                                      {{"Authorization", "Bearer " + S().issuer.service_token()}});
    BOOST_TEST(a.status == 405, method);
    BOOST_TEST(a.header("allow").value_or("") == "POST", method);
    BOOST_TEST(a.header("cache-control").value_or("") == "no-store", method);
    BOOST_TEST(json(a)["error"].GetString() == std::string("Method Not Allowed"), method);
  }
}

BOOST_AUTO_TEST_CASE(paths_other_than_the_exact_one_are_404) {
  const std::string subject = S().issuer.token("alice");
  for (const std::string& path :
       {std::string(kResolve) + "/", std::string(kResolve) + "x", std::string(kResolve) + "/github",
        std::string("/api/v1/internal/credentials"), std::string("/api/v1/internal/resolve")}) {
    const auto a = S().stack->request("POST", path,
                                      {{"Authorization", "Bearer " + S().issuer.service_token()},
                                       {"Content-Type", "application/json"}},
                                      request_body("github", subject));
    BOOST_TEST(a.status == 404, path << ": " << a.body);
    BOOST_TEST(json(a)["error"].GetString() == std::string("Not Found"), path);
  }
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(without_a_resolve_block_the_route_is_404_for_any_method) {
  // The handler itself, as CGI, with the suite's config minus its "resolve" member: the answer is
  // the handler's, whatever front would carry it.
  std::string config = read_file(S().stack->config_path());
  const std::string block = resolve_config_json(S().issuer);
  BOOST_TEST_REQUIRE(config.find(block) != std::string::npos);
  config.erase(config.find(block), block.size());
  TempDir dir("credbroker-resolve-absent");
  write_file(dir.file("config.json"), config);
  for (const std::string method : {"POST", "GET", "DELETE"}) {
    // A body only with POST: GET and DELETE with one are refused (400) before any route runs.
    const auto a = cgi_resolve(
        dir.file("config.json"), S().stack->keys(), method,
        method == "POST" ? request_body("github", S().issuer.token("alice")) : std::string(),
        S().issuer.service_token());
    expect_error(a, 404, "Not found");
  }
}

BOOST_AUTO_TEST_CASE(the_route_is_refused_to_clients_outside_the_internal_networks) {
  if (S().stack->kind() == "lambda") {
    BOOST_TEST_MESSAGE(
        "lambda: the restriction is the private REST API and its VPC-endpoint "
        "policy in template.yaml, which the emulator does not play; skipped");
    return;
  }
  // The default allows 127.0.0.1 and ::1 only; 127.0.0.2 is loopback too, but another address.
  const auto [status, answer] = post_from("127.0.0.2", S().stack->port(), kResolve);
  BOOST_TEST(status == 403, answer);
  BOOST_TEST(
      answer.find(
          R"({"error":"Forbidden","message":"Not reachable from this address","status_code":403})") !=
          std::string::npos,
      answer);
  // Only the internal route: the user routes still answer that client.
  const auto [list_status, list_answer] = post_from("127.0.0.2", S().stack->port(), kList, "GET");
  BOOST_TEST(list_status == 401, list_answer);
  // And from 127.0.0.1 the same request reaches the handler (no caller token: 401).
  const auto [local_status, local_answer] = post_from("127.0.0.1", S().stack->port(), kResolve);
  BOOST_TEST(local_status == 401, local_answer);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(caller, Clean)

BOOST_AUTO_TEST_CASE(no_caller_token_or_another_scheme_is_401_with_a_bearer_challenge) {
  const std::string body = request_body("github", S().issuer.token("alice"));
  for (const std::optional<std::string>& caller :
       {std::optional<std::string>(), std::optional<std::string>("Basic Z2F0ZXdheTpzZWNyZXQ="),
        std::optional<std::string>("Bearer"), std::optional<std::string>("")}) {
    const auto a = post(*S().stack, body, caller);
    BOOST_TEST(a.status == 401, caller.value_or("(none)") << ": " << a.body);
    BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer");
    BOOST_TEST(json(a)["error"].GetString() == std::string("Unauthorized"));
    expect_json_headers(a);
  }
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(bad_signature_expiry_or_unknown_key_is_401_invalid_token) {
  const std::string body = request_body("github", S().issuer.token("alice"));
  std::string tampered = S().issuer.service_token();
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  const auto stranger = generate_key(identity::Alg::kES256, "test-service-1");  // same kid
  const auto unknown = generate_key(identity::Alg::kES256, "unknown-kid");
  const std::int64_t t = now();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tampered signature", tampered},
      {"another key under the service kid",
       mint(stranger, S().issuer.service_claims().exp(t + 300))},
      {"unknown kid", mint(unknown, S().issuer.service_claims().exp(t + 300))},
      {"expired beyond leeway",
       mint(S().issuer.service_key(), S().issuer.service_claims().iat(t - 900).exp(t - 600))},
      {"not a JWT", "not-a-jwt"},
  };
  for (const auto& [what, token] : cases) {
    const auto a = post(*S().stack, body, "Bearer " + token);
    BOOST_TEST(a.status == 401, what << ": " << a.body);
    BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"", what);
    expect_json_headers(a);
  }
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(valid_tokens_for_another_audience_issuer_or_subject_are_403) {
  const std::string body = request_body("github", S().issuer.token("alice"));
  const std::int64_t t = now();
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A user's own token, signed by a key the resolve block trusts, for the user audience.
      {"an end-user token as caller", S().issuer.token("gateway-svc")},
      {"another issuer",
       mint(S().issuer.service_key(),
            S().issuer.service_claims().iss("https://elsewhere.test").exp(t + 300))},
      {"another audience", S().issuer.service_token(kGatewaySubject, "some-other-api")},
      {"a subject not allowed", S().issuer.service_token("intruder-svc")},
  };
  for (const auto& [what, token] : cases) {
    const auto a = post(*S().stack, body, "Bearer " + token);
    expect_error(a, 403, "Caller is not allowed to resolve credentials");
    BOOST_TEST(a.status == 403, what);
  }
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(either_configured_audience_is_accepted) {
  seed("alice", "github", stored(now() + 3600));
  const std::string alt =
      S().issuer.service_token(kGatewaySubject, std::string(kServiceAudience) + "-alt");
  const auto a =
      post(*S().stack, request_body("github", S().issuer.token("alice")), "Bearer " + alt);
  BOOST_TEST(a.status == 200, a.body);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(bodies, Clean)

BOOST_AUTO_TEST_CASE(content_type_must_be_json_parameters_allowed) {
  seed("alice", "github", stored(now() + 3600));
  const std::string body = request_body("github", S().issuer.token("alice"));
  const std::string caller = "Bearer " + S().issuer.service_token();
  for (const std::optional<std::string>& type :
       {std::optional<std::string>(), std::optional<std::string>("text/plain"),
        std::optional<std::string>("application/x-www-form-urlencoded"),
        std::optional<std::string>("application/jsonx")}) {
    const auto a = post(*S().stack, body, caller, type);
    expect_error(a, 415, "Content-Type must be application/json");
  }
  for (const std::string type : {"application/json; charset=utf-8", "Application/JSON"}) {
    const auto a = post(*S().stack, body, caller, type);
    BOOST_TEST(a.status == 200, type << ": " << a.body);
  }
}

BOOST_AUTO_TEST_CASE(a_body_over_32_kib_is_413) {
  const std::string subject = S().issuer.token("alice");
  std::string body = request_body("github", subject);
  body.insert(body.size() - 1, std::string(32769 - body.size(), ' '));
  BOOST_TEST_REQUIRE(body.size() == 32769u);
  const auto a = post(*S().stack, body, "Bearer " + S().issuer.service_token());
  BOOST_TEST(a.status == 413, a.body);
  BOOST_TEST(json(a)["error"].GetString() == std::string("Payload Too Large"));
  expect_json_headers(a);
  // Exactly at the limit the body is read (and answered on its merits).
  seed("alice", "github", stored(now() + 3600));
  body.erase(body.size() - 2, 1);
  BOOST_TEST_REQUIRE(body.size() == 32768u);
  BOOST_TEST(post(*S().stack, body, "Bearer " + S().issuer.service_token()).status == 200);
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_the_strict_object_is_400) {
  const std::string subject = json_string(S().issuer.token("alice"));
  const std::vector<std::string> bodies = {
      "",
      "not json",
      "[]",
      "\"github\"",
      "{}",
      R"({"server":"github"})",
      R"({"subject_token":)" + subject + "}",
      R"({"server":"github","subject_token":)" + subject + R"(,"user":"bob"})",
      R"({"server":"github","server":"jira","subject_token":)" + subject + "}",
      R"({"server":1,"subject_token":)" + subject + "}",
      R"({"server":"github","subject_token":null})",
      R"({"server":["github"],"subject_token":)" + subject + "}",
      R"({"server":"github","subject_token":)" + subject + "} x",
      R"({"server":"github","subject_token":)" + subject + "",
  };
  for (const auto& body : bodies) {
    const auto a = post(*S().stack, body, "Bearer " + S().issuer.service_token());
    BOOST_TEST(a.status == 400, body << ": " << a.body);
    const auto d = json(a);
    BOOST_TEST(d["error"].GetString() == std::string("Bad Request"));
    BOOST_TEST(std::string(d["message"].GetString()).starts_with("Invalid request body"), a.body);
    expect_json_headers(a);
    expect_no_secrets(a.body, {S().issuer.token("alice")});
  }
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_subject_token_that_does_not_verify_under_identity_is_403) {
  seed("alice", "github", stored(now() + 3600));
  const std::int64_t t = now();
  const auto stranger = generate_key(identity::Alg::kES256, "test-key-1");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"expired", user_token("alice", t - 600)},
      {"another key", mint(stranger, S().issuer.claims("alice").exp(t + 300))},
      {"wrong audience",
       mint(S().issuer.key(), S().issuer.claims("alice").aud("other").exp(t + 300))},
      {"the gateway's own service token", S().issuer.service_token()},
      {"garbage", "garbage"},
  };
  for (const auto& [what, subject] : cases) {
    const auto a = resolve("github", subject);
    BOOST_TEST(a.status == 403, what << ": " << a.body);
    BOOST_TEST(
        a.body ==
        R"({"error":"invalid_subject_token","message":"Subject token refused","status_code":403})");
    expect_json_headers(a);
    expect_no_secrets(a.body, {subject});
  }
}

BOOST_AUTO_TEST_CASE(unknown_or_unbrokered_servers_are_404_names_trimmed_and_case_insensitive) {
  const std::string subject = S().issuer.token("alice");
  expect_error(resolve("nope", subject), 404, "Unknown server \"nope\"");
  expect_error(resolve("plain", subject), 404, "Unknown server \"plain\"");
  const std::int64_t expires = now() + 3600;
  seed("alice", "github", stored(expires));
  BOOST_TEST(resolve("  GitHub ", subject).body == ok_body("github", kStoredAccess, expires));
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(oauth_connect, Clean)

BOOST_AUTO_TEST_CASE(a_fresh_credential_is_handed_out_as_stored_without_a_token_request) {
  const std::int64_t expires = now() + 3600;
  seed("alice", "github", stored(expires));
  const auto a = resolve("github", S().issuer.token("alice"));
  BOOST_TEST(a.status == 200);
  BOOST_TEST(a.body == ok_body("github", kStoredAccess, expires));
  expect_json_headers(a);
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_credential_without_expiry_has_no_expires_at) {
  seed("alice", "github", stored(0));
  const auto a = resolve("github", S().issuer.token("alice"));
  BOOST_TEST(a.body == ok_body("github", kStoredAccess, 0));
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(the_header_comes_from_the_servers_header_and_header_format) {
  const std::int64_t expires = now() + 3600;
  seed("alice", "Basic Wiki", stored(expires));
  const auto a = resolve("basic wiki", S().issuer.token("alice"));
  BOOST_TEST(a.body == ok_body("Basic Wiki", kStoredAccess, expires, "X-Wiki-Token", "Token "));
}

BOOST_AUTO_TEST_CASE(nothing_stored_is_409_reconnect_required) {
  expect_reconnect(resolve("github", S().issuer.token("alice")), "github", "github");
  expect_reconnect(resolve("Basic Wiki", S().issuer.token("alice")), "Basic Wiki", "Basic%20Wiki");
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(expired_without_a_refresh_token_is_409) {
  seed("alice", "github", stored(now() - 10, ""));
  expect_reconnect(resolve("github", S().issuer.token("alice")), "github", "github");
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(near_expiry_is_refreshed_first_rotating_the_refresh_token) {
  seed("alice", "github", stored(now() + 30));
  const std::string subject = S().issuer.token("alice");
  const std::int64_t before = now();
  const auto a = resolve("github", subject);
  expect_ok_expiring(a, "github", kNewAccess, before, 3600);

  const auto refreshes = posts_with_grant("refresh_token");
  BOOST_TEST_REQUIRE(refreshes.size() == 1u);
  const auto& r = refreshes.front();
  BOOST_TEST(r.method == "POST");
  BOOST_TEST(r.target == "/token");
  BOOST_TEST(r.header("content-type").value_or("") == "application/x-www-form-urlencoded");
  const auto form = form_of(r);
  BOOST_TEST(form.size() == 4u);
  BOOST_TEST(one(form, "grant_type") == "refresh_token");
  BOOST_TEST(one(form, "refresh_token") == kStoredRefresh);
  BOOST_TEST(one(form, "client_id") == "gh-client");
  BOOST_TEST(one(form, "client_secret") == kClientSecret);
  BOOST_TEST(!r.header("authorization"));

  const auto c = load("alice", "github");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->access_token == kNewAccess);
  BOOST_TEST(c->refresh_token == kNewRefresh);
  // Handed out again as stored: no second refresh.
  BOOST_TEST(json(resolve("github", subject))["access_token"].GetString() == kNewAccess);
  BOOST_TEST(S().as.request_count() == 1u);
  expect_no_secrets(S().stack->log(), {subject});
}

BOOST_AUTO_TEST_CASE(
    a_refresh_answer_without_refresh_token_keeps_the_old_one_and_no_expires_in_means_no_expiry) {
  S().as.set_handler([](const RecordedRequest&) {
    return json_answer(R"({"access_token":")" + std::string(kNewAccess) +
                       R"(","token_type":"Bearer"})");
  });
  seed("alice", "github", stored(now() + 30));
  const auto a = resolve("github", S().issuer.token("alice"));
  BOOST_TEST(a.body == ok_body("github", kNewAccess, 0));
  const auto c = load("alice", "github");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->refresh_token == kStoredRefresh);
  BOOST_TEST(c->expires_at == 0);

  S().as.set_handler([](const RecordedRequest&) {
    return json_answer(R"({"access_token":")" + std::string(kNewAccess) +
                       R"(","token_type":"Bearer","expires_in":0})");
  });
  seed("bob", "github", stored(now() + 30));
  BOOST_TEST(resolve("github", S().issuer.token("bob")).body == ok_body("github", kNewAccess, 0));
}

BOOST_AUTO_TEST_CASE(the_refresh_window_is_at_most_half_the_credentials_lifetime) {
  const std::int64_t t = now();
  // Lifetime 60 s, 40 s left: inside the 60 s window but not in its first half: handed out.
  seed("alice", "github", stored(t + 40, std::string(kStoredRefresh), t - 20));
  BOOST_TEST(resolve("github", S().issuer.token("alice")).body ==
             ok_body("github", kStoredAccess, t + 40));
  BOOST_TEST(S().as.request_count() == 0u);
  // Lifetime 140 s, 40 s left: the window is the configured 60 s: refreshed.
  seed("bob", "github", stored(t + 40, std::string(kStoredRefresh), t - 100));
  BOOST_TEST(json(resolve("github", S().issuer.token("bob")))["access_token"].GetString() ==
             kNewAccess);
  BOOST_TEST(posts_with_grant("refresh_token").size() == 1u);
  // A server's own window: Basic Wiki's is 120 s, so 100 s left of 3700 s is refreshed.
  seed("carol", "Basic Wiki", stored(t + 100));
  BOOST_TEST(json(resolve("Basic Wiki", S().issuer.token("carol")))["access_token"].GetString() ==
             kNewAccess);
  BOOST_TEST(posts_with_grant("refresh_token").size() == 2u);
}

BOOST_AUTO_TEST_CASE(past_expiry_with_a_refresh_token_is_listed_connected_and_refreshed) {
  seed("alice", "github", stored(now() - 10));
  const auto entry = list_entry("alice", "github");
  BOOST_TEST(entry.at("status") == "connected");
  BOOST_TEST(!entry.contains("connect_path"));
  const std::int64_t before = now();
  expect_ok_expiring(resolve("github", S().issuer.token("alice")), "github", kNewAccess, before,
                     3600);
}

BOOST_AUTO_TEST_CASE(refresh_authenticates_the_client_as_configured) {
  seed("alice", "Basic Wiki", stored(now() + 30));
  seed("alice", "public", stored(now() + 30));
  BOOST_TEST(resolve("Basic Wiki", S().issuer.token("alice")).status == 200);
  BOOST_TEST(resolve("public", S().issuer.token("alice")).status == 200);
  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 2u);
  // RFC 6749 §2.3.1: form-encoded id and secret, then base64.
  BOOST_TEST(requests[0].header("authorization").value_or("") ==
             "Basic " + crypto::base64_encode("wiki+client:" + std::string(kClientSecret)));
  const auto basic = form_of(requests[0]);
  BOOST_TEST(one(basic, "grant_type") == "refresh_token");
  BOOST_TEST(!basic.contains("client_secret"));
  const auto pub = form_of(requests[1]);
  BOOST_TEST(one(pub, "grant_type") == "refresh_token");
  BOOST_TEST(one(pub, "client_id") == "public-client");
  BOOST_TEST(!pub.contains("client_secret"));
  BOOST_TEST(!requests[1].header("authorization"));
}

BOOST_AUTO_TEST_CASE(invalid_grant_marks_the_credential_for_reconnect) {
  S().as.set_handler([](const RecordedRequest&) {
    return json_answer(
        R"({"error":"invalid_grant","error_description":")" + std::string(kUpstreamSecret) + "\"}",
        400);
  });
  seed("alice", "github", stored(now() + 30));
  const std::string subject = S().issuer.token("alice");
  expect_reconnect(resolve("github", subject), "github", "github");
  const auto entry = list_entry("alice", "github");
  BOOST_TEST(entry.at("status") == "expired");
  BOOST_TEST(entry.at("connect_path") == "/api/v1/user/credentials/github/connect");
  // Marked: the next resolve does not try the refused refresh token again.
  expect_reconnect(resolve("github", subject), "github", "github");
  BOOST_TEST(S().as.request_count() == 1u);
  expect_no_secrets(S().stack->log(), {subject});
}

BOOST_AUTO_TEST_CASE(a_token_endpoint_that_is_down_or_answers_garbage_is_502) {
  const std::string subject = S().issuer.token("alice");
  seed("alice", "down", stored(now() + 30));
  expect_bad_gateway(resolve("down", subject));
  for (const auto& garbage : {ScriptedResponse{.status = 200, .body = "<html>not a token</html>"},
                              ScriptedResponse{.status = 200,
                              .headers = {{"Content-Type", "application/json"}},
                              .body = R"({"token_type":"Bearer"})"},
                              ScriptedResponse{.status = 500, .body = "oops"},
                              ScriptedResponse{.close_without_answer = true}}) {
    S().as.set_handler([garbage](const RecordedRequest&) { return garbage; });
    seed("alice", "github", stored(now() + 30));
    expect_bad_gateway(resolve("github", subject));
    // The stored credential is untouched.
    const auto c = load("alice", "github");
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(c->access_token == kStoredAccess);
    BOOST_TEST(c->refresh_token == kStoredRefresh);
  }
  expect_no_secrets(S().stack->log(), {subject});
}

BOOST_AUTO_TEST_CASE(a_token_endpoint_slower_than_the_timeout_is_502) {
  S().as.set_handler([](const RecordedRequest& r) {
    auto a = token_answer(r);
    a.delay_ms = kSlowDelayMs;
    return a;
  });
  seed("alice", "github", stored(now() + 30));
  const auto started = std::chrono::steady_clock::now();
  expect_bad_gateway(resolve("github", S().issuer.token("alice")));
  BOOST_TEST(
      (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(kSlowDelayMs)));
  // The scripted server serves one connection at a time: let it finish that late answer before
  // the next case needs it (bounded: the scripted delay, once).
  std::this_thread::sleep_until(started + std::chrono::milliseconds(kSlowDelayMs + 50));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(exchange, Clean)

BOOST_AUTO_TEST_CASE(token_exchange_posts_rfc_8693_stores_and_reuses_the_result) {
  const std::int64_t exp = now() + 300;
  const std::string subject = user_token("alice", exp);
  const auto a = resolve("jira", subject);
  // The upstream's 3600 s are cut to the subject token's expiry.
  BOOST_TEST(a.body == ok_body("jira", kExchanged, exp));
  expect_json_headers(a);

  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const auto form = form_of(requests.front());
  BOOST_TEST(form.size() == 9u);
  BOOST_TEST(one(form, "grant_type") == kTokenExchange);
  BOOST_TEST(one(form, "subject_token") == subject);
  BOOST_TEST(one(form, "subject_token_type") == kAccessTokenType);
  BOOST_TEST(one(form, "requested_token_type") == kAccessTokenType);
  BOOST_TEST(one(form, "resource") == "https://jira.example.test/rest");
  BOOST_TEST(one(form, "audience") == "jira-api");
  BOOST_TEST(one(form, "scope") == "read:jira-work write:jira-work");
  BOOST_TEST(one(form, "client_id") == "jira-client");
  BOOST_TEST(one(form, "client_secret") == kClientSecret);

  const auto entry = list_entry("alice", "jira");
  BOOST_TEST(entry.at("status") == "connected");
  BOOST_TEST(entry.at("obtained_via") == "token_exchange");
  BOOST_TEST(entry.at("expires_at") == format_rfc3339(exp));

  BOOST_TEST(resolve("jira", subject).body == ok_body("jira", kExchanged, exp));
  BOOST_TEST(S().as.request_count() == 1u);
  expect_no_secrets(S().stack->log(), {subject});
}

BOOST_AUTO_TEST_CASE(a_stored_exchange_result_inside_the_window_is_exchanged_again) {
  store::Credential c;
  c.access_token = std::string(kOldExchanged);
  c.expires_at = now() + 5;
  c.obtained_via = "token_exchange";
  c.updated_at = now() - 600;
  seed("alice", "jira", c);
  const std::int64_t exp = now() + 900;
  const auto a = resolve("jira", user_token("alice", exp));
  BOOST_TEST(a.body == ok_body("jira", kExchanged, exp));
  BOOST_TEST(posts_with_grant(kTokenExchange).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_refused_exchange_is_502_with_the_upstream_error_and_stores_nothing) {
  // RFC 6749 §5.2 errors are passed on as upstream_error.
  for (const std::string error : {"invalid_grant", "invalid_scope", "unauthorized_client"}) {
    S().as.set_handler([error](const RecordedRequest&) {
      return json_answer(R"({"error":")" + error + R"(","error_description":")" +
                             std::string(kUpstreamSecret) + "\"}",
                         400);
    });
    const std::string subject = S().issuer.token("alice");
    expect_bad_gateway(resolve("jira", subject), error);
    BOOST_TEST(!load("alice", "jira").has_value());
    BOOST_TEST(list_entry("alice", "jira").at("status") == "not_connected");
    expect_no_secrets(S().stack->log(), {subject});
  }
}

BOOST_AUTO_TEST_CASE(entra_on_behalf_of_posts_the_jwt_bearer_grant_and_stores_the_result) {
  const std::int64_t exp = now() + 600;
  const std::string subject = user_token("alice", exp);
  const auto a = resolve("entra", subject);
  BOOST_TEST(a.body == ok_body("entra", kOboToken, exp));

  const auto requests = S().as.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const auto form = form_of(requests.front());
  BOOST_TEST(form.size() == 6u);
  BOOST_TEST(one(form, "grant_type") == kJwtBearer);
  BOOST_TEST(one(form, "assertion") == subject);
  BOOST_TEST(one(form, "requested_token_use") == "on_behalf_of");
  BOOST_TEST(one(form, "scope") == "https://graph.example.test/.default");
  BOOST_TEST(one(form, "client_id") == "entra-client");
  BOOST_TEST(one(form, "client_secret") == kClientSecret);

  const auto entry = list_entry("alice", "entra");
  BOOST_TEST(entry.at("status") == "connected");
  BOOST_TEST(entry.at("obtained_via") == "entra_obo");
  BOOST_TEST(resolve("entra", subject).body == ok_body("entra", kOboToken, exp));
  BOOST_TEST(S().as.request_count() == 1u);
  expect_no_secrets(S().stack->log(), {subject});
}

BOOST_AUTO_TEST_CASE(an_exchange_endpoint_that_is_down_is_502) {
  S().as.set_handler(
      [](const RecordedRequest&) { return ScriptedResponse{.close_without_answer = true}; });
  expect_bad_gateway(resolve("jira", S().issuer.token("alice")));
  BOOST_TEST(!load("alice", "jira").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------

// Issue #11 item 9, freshness: a record deleted by the user stays deleted, whoever puts its old
// sealed value back into Redis, and whatever renewal was in flight when the delete came.
BOOST_FIXTURE_TEST_SUITE(freshness, Clean)

const std::string kAliceCredentials = store::user_key("credbroker:", "alice", "cred:alice");

BOOST_AUTO_TEST_CASE(a_deleted_credential_put_back_from_a_backup_is_refused_and_not_listed) {
  seed("alice", "github", stored(now() + 3600));
  const std::string subject = S().issuer.token("alice");
  BOOST_TEST_REQUIRE(resolve("github", subject).status == 200);
  const std::string backup =
      S().redis.cli({"HGET", std::string(kAliceCredentials), key_of("github")}).str;
  BOOST_TEST_REQUIRE(S().stack->del("/api/v1/user/credentials/github", subject).status == 200);
  S().redis.cli({"HSET", std::string(kAliceCredentials), key_of("github"), backup});

  expect_reconnect(resolve("github", subject), "github", "github");
  BOOST_TEST(list_entry("alice", "github").at("status") == "not_connected");
  BOOST_TEST(!load("alice", "github").has_value());
  const std::string log = S().stack->log();
  BOOST_TEST(log.find(R"("reason":"stale")") != std::string::npos);
  expect_no_secrets(log, {subject});

  // Connecting again after the delete works as ever.
  seed("alice", "github", stored(now() + 3600));
  const auto again = resolve("github", subject);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(list_entry("alice", "github").at("status") == "connected");
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_refresh_racing_a_delete_does_not_bring_the_credential_back) {
  seed("alice", "github", stored(now() + 30));  // due for a refresh
  const std::string subject = S().issuer.token("alice");
  // While the refresh is at the token endpoint, the user disconnects, and the old record is
  // copied back into the hash, so the renewal's compare-and-set finds the value it read.
  // (The handler runs on the server's thread: it only records, the checks run here.)
  std::atomic<int> deleted{0};
  S().as.set_handler([&subject, &deleted](const RecordedRequest& r) {
    const std::string field = key_of("github");
    const std::string backup = S().redis.cli({"HGET", std::string(kAliceCredentials), field}).str;
    // Its own client: the front's belongs to the test's thread, which is waiting on resolve.
    auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 10000});
    http::OutboundRequest d;
    d.method = "DELETE";
    d.url = S().stack->url("/api/v1/user/credentials/github");
    d.headers = {{"Authorization", "Bearer " + subject}};
    const auto answer = client->send(d);
    deleted = answer ? answer->status : -1;
    S().redis.cli({"HSET", std::string(kAliceCredentials), field, backup});
    return token_answer(r);
  });
  expect_reconnect(resolve("github", subject), "github", "github");
  BOOST_TEST(deleted.load() == 200);
  BOOST_TEST(posts_with_grant("refresh_token").size() == 1u);
  BOOST_TEST(list_entry("alice", "github").at("status") == "not_connected");
  BOOST_TEST(!load("alice", "github").has_value());
  // Nothing usable was written: the next resolve does not refresh again, it is refused.
  expect_reconnect(resolve("github", subject), "github", "github");
  BOOST_TEST(S().as.request_count() == 1u);
  const std::string log = S().stack->log();
  BOOST_TEST(log.find("credential_renewal_superseded") != std::string::npos);
  BOOST_TEST(log.find(kNewAccess) == std::string::npos);
  expect_no_secrets(log, {subject});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(users_and_state, Clean)

BOOST_AUTO_TEST_CASE(each_user_token_reaches_that_users_credential_only) {
  const std::int64_t expires = now() + 3600;
  store::Credential bobs = stored(expires);
  bobs.access_token = std::string(kNewAccess);
  seed("alice", "github", stored(expires));
  seed("bob", "github", bobs);
  BOOST_TEST(resolve("github", S().issuer.token("alice")).body ==
             ok_body("github", kStoredAccess, expires));
  BOOST_TEST(resolve("github", S().issuer.token("bob")).body ==
             ok_body("github", kNewAccess, expires));
  expect_reconnect(resolve("github", S().issuer.token("carol")), "github", "github");
  // An exchange stored for alice is never handed to bob: bob's token is exchanged for bob.
  const std::string alice = S().issuer.token("alice");
  const std::string bob = S().issuer.token("bob");
  BOOST_TEST(resolve("jira", alice).status == 200);
  BOOST_TEST(resolve("jira", bob).status == 200);
  const auto exchanges = posts_with_grant(kTokenExchange);
  BOOST_TEST_REQUIRE(exchanges.size() == 2u);
  BOOST_TEST(one(form_of(exchanges[1]), "subject_token") == bob);
}

BOOST_AUTO_TEST_CASE(redis_down_is_503_and_no_token_request_is_made) {
  seed("alice", "github", stored(now() + 30));
  S().redis.stop();
  const auto a = resolve("github", S().issuer.token("alice"));
  BOOST_TEST(a.status == 503, a.body);
  BOOST_TEST(json(a)["error"].GetString() == std::string("Service Unavailable"));
  expect_json_headers(a);
  BOOST_TEST(S().as.request_count() == 0u);
  S().redis.start();
}

BOOST_AUTO_TEST_CASE(without_a_sealing_key_it_is_503) {
  // The handler itself, as CGI, with the suite's config and no CREDBROKER_KEYS.
  const auto a =
      cgi_resolve(S().stack->config_path(), "", "POST",
                  request_body("github", S().issuer.token("alice")), S().issuer.service_token());
  BOOST_TEST(a.status == 503, a.body);
  BOOST_TEST(json(a)["error"].GetString() == std::string("Service Unavailable"));
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
  BOOST_TEST(S().as.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(fifty_concurrent_resolves_on_two_fronts_refresh_once) {
  Front& second = S().other();
  seed("alice", "github", stored(now() + 20));
  // When the refresh answer goes out (its scripted delay after it arrived): requests sent before
  // then overlapped the refresh, which is what this case is about.
  using Clock = std::chrono::steady_clock;
  std::atomic<Clock::rep> refresh_answered{Clock::time_point::max().time_since_epoch().count()};
  S().as.set_handler([&refresh_answered](const RecordedRequest& r) {
    auto a = token_answer(r);
    a.delay_ms = 300;  // long enough for every request to arrive during the refresh
    refresh_answered =
        (Clock::now() + std::chrono::milliseconds(a.delay_ms)).time_since_epoch().count();
    return a;
  });
  const std::string subject = S().issuer.token("alice");
  const std::string caller = "Bearer " + S().issuer.service_token();
  constexpr int kCallers = 50;
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> answers;
  std::vector<Clock::time_point> sent;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
      Front& front = (i % 2 == 0) ? *S().stack : second;
      http::OutboundRequest r;
      r.method = "POST";
      r.url = front.url(kResolve);
      r.headers = {{"Authorization", caller}, {"Content-Type", "application/json"}};
      r.body = request_body("github", subject);
      ++ready;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (ready.load() < kCallers && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      const auto start = Clock::now();
      auto a = client->send(r);
      std::lock_guard lock(mutex);
      sent.push_back(start);
      if (a) {
        answers.emplace_back(a->status, a->body);
      } else {
        answers.emplace_back(-1, std::string(http::describe(a.error())));
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(posts_with_grant("refresh_token").size() == 1u);
  const Clock::time_point answered{Clock::duration(refresh_answered.load())};
  const auto overlapping =
      std::count_if(sent.begin(), sent.end(), [&](Clock::time_point t) { return t < answered; });
  BOOST_TEST_MESSAGE(overlapping << " of " << kCallers << " requests were sent during the refresh");
  BOOST_TEST(overlapping >= kCallers / 2);
  BOOST_TEST(answers.size() == static_cast<std::size_t>(kCallers));
  int fresh = 0;
  for (const auto& [status, body] : answers) {
    BOOST_TEST(status == 200, body);
    if (status == 200 && body.find(kNewAccess) != std::string::npos) ++fresh;
  }
  BOOST_TEST(fresh == kCallers);
  const auto c = load("alice", "github");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->refresh_token == kNewRefresh);
  expect_no_secrets(S().stack->log(), {subject});
  expect_no_secrets(second.log(), {subject});
}

BOOST_AUTO_TEST_SUITE_END()
