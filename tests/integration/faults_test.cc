// Fault injection against the whole stack, with real processes: Redis killed, paused and restarted
// under concurrent load; a token endpoint that never answers; a handler process killed in the
// middle of a request, and every handler process killed between requests; Redis refusing writes
// (out of memory). Each Redis or token endpoint fault must end in the documented answer (never a
// 500, a hang or a reset connection), a killed handler in the front's own 5xx, and the service
// must come back by itself. Runs once per front (CREDBROKER_FRONT): lighttpd, nginx, Apache
// mod_proxy_fcgi and mod_fcgid, the Lambda emulator.
#define BOOST_TEST_MODULE integration_faults
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "shared/http/url.h"
#include "shared/store/user_keys.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/handler_processes.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kAccessToken = "AT-SENTINEL-5d2e8c17";
constexpr std::string_view kClientSecret = "CS-SENTINEL-3f9a6b04";
constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kHealth = "/api/v1/healthz";
constexpr int kProcs = 2;  // handler processes per route (health always has one)

const std::string kStoreUnavailable =
    R"({"error":"Service Unavailable","message":"Credential store is unavailable","status_code":503})";
const std::string kHealthFailing =
    R"({"status":"unavailable","checks":{"config":"ok","redis":"failing"}})";

ScriptedResponse good_token_answer(const RecordedRequest&) {
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"access_token":")" + std::string(kAccessToken) +
                  R"(","token_type":"Bearer","expires_in":3600})"};
}

/**
 * A token endpoint that hangs: a listening socket nobody accepts on. The kernel completes the
 * handshake and takes the request into its buffers, and no answer ever comes.
 */
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 64) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len)) {
      throw std::runtime_error("BlackHole: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  int port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string servers_json(const HttpServer& as, const BlackHole& hole, int closed_port) {
  return R"([
    {"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as.url("/authorize") + R"(", "token_endpoint": ")" + as.url("/token") + R"(",
       "client_id": "gh-client", "client_secret": ")" +
         std::string(kClientSecret) + R"("}},
    {"name": "stuck", "url": "https://stuck.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as.url("/authorize") + R"(", "token_endpoint": ")" + hole.url("/token") + R"(",
       "client_id": "stuck-client", "client_secret": ")" +
         std::string(kClientSecret) + R"("}},
    {"name": "down", "url": "https://down.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as.url("/authorize") + R"(", "token_endpoint": "http://127.0.0.1:)" +
         std::to_string(closed_port) +
         R"(/token", "client_id": "down-client", "client_secret": ")" + std::string(kClientSecret) +
         R"("}}
  ])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(good_token_answer),
        stack(start_front(
            issuer, {.redis_url = redis.url(),
                     .servers_json = servers_json(as, hole, closed_port),
                     // Small, so a hanging token endpoint costs two seconds; large enough that a
                     // test can kill the handler while it waits.
                     .extra_config = R"(,"http":{"connect_timeout_ms":500,"timeout_ms":2000})",
                     .procs = kProcs})) {}
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  BlackHole hole;
  int closed_port = free_port();  // a token endpoint that is down: nothing listens there
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.ensure_running();
    S().redis.cli({"CONFIG", "SET", "maxmemory", "0"});
    S().redis.flushall();
    S().as.set_handler(good_token_answer);
    S().as.clear_requests();
  }
  ~Clean() {
    S().redis.ensure_running();
    S().redis.cli({"CONFIG", "SET", "maxmemory", "0"});
  }
};

/** Polls `done` every 10 ms for up to `seconds`; true once it held. */
template <typename Pred>
bool eventually(Pred done, int seconds = 30) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string connect_path(std::string_view server) {
  return std::string(kList) + "/" + std::string(server) + "/connect";
}

std::string callback_path(std::string_view server, std::string_view state) {
  return std::string(kList) + "/" + std::string(server) + "/callback?" +
         http::build_query({{"code", "good-code"}, {"state", std::string(state)}});
}

std::string ui(std::string_view server, std::string_view label) {
  std::string out = "/ui/?credential_server=" + std::string(server);
  return label.empty() ? out + "&credential_connected=1"
                       : out + "&credential_error=" + std::string(label);
}

/** GET connect for `user`; returns the state from the authorize URL. */
std::string start(std::string_view user, std::string_view server = "github") {
  const auto a = S().stack->get(connect_path(server), S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "connect answered " << a.status << " " << a.body);
  const auto location = a.header("location").value_or("");
  const auto query = http::parse_query(location.substr(location.find('?') + 1));
  BOOST_TEST_REQUIRE(query.has_value());
  for (const auto& [k, v] : *query) {
    if (k == "state") return v;
  }
  BOOST_FAIL("no state in " << location);
  return {};
}

/** GET callback for `user`; returns the Location it redirects to. */
std::string finish(std::string_view user, std::string_view state,
                   std::string_view server = "github") {
  const auto a = S().stack->get(callback_path(server, state), S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "callback answered " << a.status << " " << a.body);
  return a.header("location").value_or("");
}

long long stored_credentials() {
  long long n = 0;
  for (const auto& k : S().redis.cli({"KEYS", "credbroker:u:*:cred:*"}).elements) {
    n += S().redis.cli({"HLEN", k.str}).integer;
  }
  return n;
}

/** mod_fcgid starts handler processes on demand (at most kProcs per route) and may stop idle
 *  ones; every other front keeps a fixed set from its start: lighttpd and the Lambda emulator
 *  their own, nginx and mod_proxy_fcgi a HandlerPool's. */
bool fixed_pool() {
  return S().stack->kind() != "apache-fcgid";
}

/** With a fixed pool, how many handler processes the front runs: kProcs for each route, one for
 *  health. Lambda has no authorize function (no front sub-request to serve). */
std::size_t pool_size() {
  const std::size_t routes = S().stack->kind() == "lambda" ? 5 : 6;
  return routes * kProcs + 1;
}

/** Whether the front replaces a dead handler process by itself, before any request asks: lighttpd
 *  (its bin-path processes), nginx's and mod_proxy_fcgi's spawner (multiwatch). The Lambda
 *  emulator starts a fresh one for the next invocation, as Lambda does; mod_fcgid when a request
 *  needs one. */
bool replaces_eagerly() {
  return fixed_pool() && S().stack->kind() != "lambda";
}

std::size_t keys_matching(std::string_view pattern) {
  return S().redis.cli({"KEYS", std::string(pattern)}).elements.size();
}

/** SIGKILL to redis-server (no shutdown, no goodbye to clients), and wait until it is reaped. */
void kill_redis() {
  const std::string info = S().redis.cli({"INFO", "server"}).str;
  const auto at = info.find("process_id:");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  const pid_t pid = static_cast<pid_t>(std::stol(info.substr(at + 11)));
  BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(eventually([] { return !S().redis.running(); }));
}

int health_status() {
  return S().stack->request("GET", kHealth).status;
}

// ---- Redis outage under load ----------------------------------------------------------------

/** Where Redis stands; the load threads stamp each request with the epoch it was sent and
 *  answered in, so a request that lived entirely inside one outage must show that outage, and one
 *  that lived entirely between outages must show none. kChanging covers each switch. */
enum class Phase { kUp, kChanging, kKilled, kPaused };

struct Outcome {
  std::string route;
  int status = 0;
  std::string content_type;
  std::string body;
  std::string location;
  std::string failure;  // transport error: a reset, a timeout
  int sent_epoch = 0;
  int done_epoch = 0;
};

class Timeline {
 public:
  Timeline() { phases_.push_back(Phase::kUp); }
  int epoch() const { return epoch_.load(); }
  void enter(Phase p) {
    std::lock_guard lock(mu_);
    phases_.push_back(p);
    epoch_.store(static_cast<int>(phases_.size()) - 1);
  }
  Phase at(int epoch) const {
    std::lock_guard lock(mu_);
    return phases_.at(static_cast<std::size_t>(epoch));
  }

 private:
  mutable std::mutex mu_;
  std::vector<Phase> phases_;
  std::atomic<int> epoch_{0};
};

struct LoadRoute {
  std::string name;
  std::string method;
  std::string path;
};

const std::vector<LoadRoute>& load_routes() {
  static const std::vector<LoadRoute> routes = {
      {"list", "GET", std::string(kList)},
      {"delete", "DELETE", std::string(kList) + "/github"},
      {"connect", "GET", connect_path("github")},
      {"health", "GET", std::string(kHealth)}};
  return routes;
}

/** What each route may answer: its healthy answer, or its documented degraded one. */
void check_outcome(const Outcome& o, bool redis_was_out_throughout) {
  BOOST_TEST_CONTEXT(o.route << " answered " << o.status << " " << o.body << o.failure) {
    BOOST_TEST(o.failure.empty());
    BOOST_TEST(o.status != 500);
    if (o.route == "list") {
      // Always 200: every entry is unavailable while Redis is out (README, "Responses").
      BOOST_TEST(o.status == 200);
      BOOST_TEST(o.content_type == "application/json");
      rapidjson::Document d;
      d.Parse(o.body.c_str());
      BOOST_TEST_REQUIRE((!d.HasParseError() && d.IsObject() && d.HasMember("credentials")));
      for (const auto& e : d["credentials"].GetArray()) {
        const std::string status = e["status"].GetString();
        BOOST_TEST((status == "unavailable" || status == "not_connected"));
        if (redis_was_out_throughout) BOOST_TEST(status == "unavailable");
      }
      return;
    }
    BOOST_TEST((o.status == 503 || !redis_was_out_throughout));
    if (o.status == 503) {
      BOOST_TEST(o.content_type == "application/json");
      BOOST_TEST(o.body == (o.route == "health" ? kHealthFailing : kStoreUnavailable));
      return;
    }
    if (o.route == "delete") {
      BOOST_TEST(o.status == 200);
      BOOST_TEST(o.body == R"({"message":"Disconnected credential for \"github\"","revoked":[]})");
    } else if (o.route == "connect") {
      BOOST_TEST(o.status == 302);
      BOOST_TEST(o.location.starts_with(S().as.url("/authorize?")));
    } else {
      BOOST_TEST(o.status == 200);
      BOOST_TEST(o.body == R"({"status":"ok"})");
    }
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(redis_outage, Clean)

BOOST_AUTO_TEST_CASE(every_request_is_answered_while_redis_is_killed_paused_and_restarted) {
  constexpr int kThreads = 4;
  constexpr int kMaxPerThread = 1000;  // the bound; the phases below end the load long before
  // The front may still be spawning handlers when its port opens (mod_fcgid spawns its own as
  // the requests come).
  if (fixed_pool()) {
    BOOST_TEST_REQUIRE(eventually(
        [] { return handler_processes(S().stack->config_path()).size() == pool_size(); }));
  }
  const auto handlers_before = handler_processes(S().stack->config_path());

  Timeline timeline;
  std::atomic<int> completed{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread its own client; a generous total timeout, so a hang shows as a failure.
      auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
      const std::string token = S().issuer.token("load" + std::to_string(t));
      for (int i = 0; i < kMaxPerThread && !stop.load(); ++i) {
        const auto& route = load_routes()[static_cast<std::size_t>(t + i) % load_routes().size()];
        Outcome o{.route = route.name, .sent_epoch = timeline.epoch()};
        auto answer = client->send({.method = route.method,
                                    .url = S().stack->url(route.path),
                                    .headers = {{"Authorization", "Bearer " + token}}});
        o.done_epoch = timeline.epoch();
        if (answer) {
          o.status = answer->status;
          o.body = answer->body;
          for (const auto& [k, v] : answer->headers) {
            if (k == "content-type") o.content_type = v;
            if (k == "location") o.location = v;
          }
        } else {
          o.failure = std::string(http::describe(answer.error()));
        }
        std::lock_guard lock(mu);
        outcomes.push_back(std::move(o));
        completed.fetch_add(1);
      }
    });
  }
  // Phases end after a number of answers, not after a time: each sees load whatever the speed.
  const auto after = [&](int answers) {
    const int target = completed.load() + answers;
    return eventually([&] { return completed.load() >= target; }, 60);
  };
  const auto returned = [&] { return eventually([] { return health_status() == 200; }); };

  bool ok = after(40);
  timeline.enter(Phase::kChanging);
  kill_redis();
  timeline.enter(Phase::kKilled);
  BOOST_TEST(health_status() == 503);
  ok = ok && after(80);
  timeline.enter(Phase::kChanging);
  S().redis.start();
  BOOST_TEST(returned());  // nobody restarted a handler: they reconnect by themselves
  timeline.enter(Phase::kUp);
  ok = ok && after(40);
  timeline.enter(Phase::kChanging);
  S().redis.pause();
  timeline.enter(Phase::kPaused);
  BOOST_TEST(health_status() == 503);
  ok = ok && after(24);  // each of these waits out the 300 ms command timeout
  timeline.enter(Phase::kChanging);
  S().redis.resume();
  BOOST_TEST(returned());
  timeline.enter(Phase::kUp);
  ok = ok && after(40);
  stop.store(true);
  for (auto& t : threads) t.join();
  BOOST_TEST(ok, "the load stalled");

  std::map<std::string, int> degraded;
  std::map<Phase, int> per_phase;
  for (const auto& o : outcomes) {
    const bool one_phase = o.sent_epoch == o.done_epoch;
    const Phase phase = timeline.at(o.sent_epoch);
    if (one_phase) ++per_phase[phase];
    check_outcome(o, one_phase && (phase == Phase::kKilled || phase == Phase::kPaused));
    // Between outages every answer is the healthy one.
    if (one_phase && phase == Phase::kUp) {
      BOOST_TEST_CONTEXT(o.route << " epoch " << o.sent_epoch) {
        BOOST_TEST(o.status != 503);
      }
    }
    if (o.status == 503 || o.body.find("unavailable") != std::string::npos) ++degraded[o.route];
  }
  BOOST_TEST_MESSAGE(outcomes.size() << " requests: " << per_phase[Phase::kUp] << " up, "
                                     << per_phase[Phase::kKilled] << " killed, "
                                     << per_phase[Phase::kPaused] << " paused");
  // The load saw both outages on every route.
  BOOST_TEST(per_phase[Phase::kKilled] > 0);
  BOOST_TEST(per_phase[Phase::kPaused] > 0);
  for (const auto& r : load_routes()) BOOST_TEST(degraded[r.name] > 0, r.name);

  // Not one handler died, was respawned or is stuck: the same processes, all alive (mod_fcgid
  // may have started more for the load, never more than kProcs a route).
  const auto handlers_after = handler_processes(S().stack->config_path());
  std::vector<pid_t> before, after_pids;
  for (const auto& p : handlers_before) before.push_back(p.pid);
  for (const auto& p : handlers_after) {
    after_pids.push_back(p.pid);
    BOOST_TEST((p.state == 'S' || p.state == 'R'), p.route << " is in state " << p.state);
  }
  std::sort(before.begin(), before.end());
  std::sort(after_pids.begin(), after_pids.end());
  if (fixed_pool()) {
    BOOST_TEST(before == after_pids);
  } else {
    BOOST_TEST(std::includes(after_pids.begin(), after_pids.end(), before.begin(), before.end()));
    BOOST_TEST(after_pids.size() <= pool_size());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- A token endpoint that never answers ----------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(hanging_token_endpoint, Clean)

BOOST_AUTO_TEST_CASE(the_callback_gives_up_with_connect_failed_and_the_next_callbacks_work) {
  // More hanging callbacks than there are handler processes: none stays stuck.
  for (int i = 0; i < kProcs + 1; ++i) {
    const auto state = start("alice", "stuck");
    BOOST_TEST(finish("alice", state, "stuck") == ui("stuck", "connect_failed"));
    BOOST_TEST(finish("alice", state, "stuck") == ui("stuck", "invalid_state"));  // consumed
  }
  BOOST_TEST(stored_credentials() == 0);
  const auto log = S().stack->log();
  BOOST_TEST(log.find(R"("cause":"transport:timeout")") != std::string::npos);
  BOOST_TEST(log.find(kClientSecret) == std::string::npos);

  for (int i = 0; i < kProcs + 1; ++i) {
    BOOST_TEST(finish("alice", start("alice")) == ui("github", ""));
  }
  BOOST_TEST(S().as.request_count() == static_cast<std::size_t>(kProcs + 1));
  BOOST_TEST(stored_credentials() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- A token endpoint that is down -----------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(token_endpoint_down, Clean)

BOOST_AUTO_TEST_CASE(a_refused_connection_is_connect_failed_and_the_next_callbacks_work) {
  const auto state = start("carol", "down");
  BOOST_TEST(finish("carol", state, "down") == ui("down", "connect_failed"));
  BOOST_TEST(finish("carol", state, "down") == ui("down", "invalid_state"));  // consumed
  BOOST_TEST(stored_credentials() == 0);
  const auto log = S().stack->log();
  BOOST_TEST(log.find(R"("cause":"transport:connect")") != std::string::npos);
  BOOST_TEST(log.find(kClientSecret) == std::string::npos);
  BOOST_TEST(finish("carol", start("carol")) == ui("github", ""));
  BOOST_TEST(stored_credentials() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- A handler process killed in the middle of a request ------------------------------------

BOOST_FIXTURE_TEST_SUITE(handler_death, Clean)

/** What each front answers for a request whose handler process died before answering. */
struct DeadHandlerAnswer {
  int status;
  std::string content_type;
  std::string body;  // empty: not compared (a server's HTML page)
};

DeadHandlerAnswer dead_handler_answer(std::string_view front) {
  // lighttpd 1.4.69: 500 and its HTML page. nginx: 502 and its page ("upstream prematurely closed
  // connection"). mod_proxy_fcgi: 503 (AH01075, the backend's connection reset). mod_fcgid: 500
  // ("Premature end of script headers" / "End of script output before headers"). API Gateway
  // in front of a function whose runtime exited (Runtime.ExitError): 502 and its JSON message.
  if (front == "lighttpd") return {500, "text/html", ""};
  if (front == "nginx") return {502, "text/html", ""};
  if (front == "apache-proxy-fcgi") return {503, "text/html; charset=iso-8859-1", ""};
  if (front == "apache-fcgid") return {500, "text/html; charset=iso-8859-1", ""};
  return {502, "application/json", R"({"message":"Internal Server Error"})"};
}

BOOST_AUTO_TEST_CASE(the_front_answers_the_request_with_a_5xx_and_respawns_the_handler) {
  const std::string config = S().stack->config_path();
  // mod_fcgid starts a callback process when the first callback comes; the others run them all
  // from their start.
  if (fixed_pool()) {
    BOOST_TEST_REQUIRE(
        eventually([&] { return handler_pids(config, "callback").size() == kProcs; }));
  }

  // A callback that hangs on the token endpoint: its handler is busy until we kill it.
  const auto state = start("alice", "stuck");
  std::optional<Result<http::OutboundResponse, http::FetchError>> answer;
  std::thread caller([&] {
    auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
    answer = client->send({.url = S().stack->url(callback_path("stuck", state)),
                           .headers = {{"Authorization", "Bearer " + S().issuer.token("alice")}}});
  });
  pid_t busy = 0;
  const bool found = eventually(
      [&] {
        for (pid_t pid : handler_pids(config, "callback")) {
          if (connected_to(pid, S().hole.port())) busy = pid;
        }
        return busy != 0;
      },
      10);
  if (found) ::kill(busy, SIGKILL);
  caller.join();
  BOOST_TEST_REQUIRE(found, "no callback handler ever reached the token endpoint");

  // The front answers for the dead handler with a 5xx of its own. lighttpd's and nginx's error
  // logs then name the request with its query -- a callback's code and state -- which no setting
  // turns off (README, "Deployment behind a front server").
  BOOST_TEST_REQUIRE(answer.has_value());
  if (!answer->ok()) BOOST_FAIL("the request failed: " << http::describe(answer->error()));
  const int status = (*answer)->status;
  BOOST_TEST_MESSAGE(S().stack->kind() << " answered " << status << " for the killed handler");
  const auto expected = dead_handler_answer(S().stack->kind());
  BOOST_TEST(status == expected.status);
  std::string content_type;
  for (const auto& [k, v] : (*answer)->headers) {
    if (k == "content-type") content_type = v;
  }
  BOOST_TEST(content_type == expected.content_type);
  if (!expected.body.empty()) BOOST_TEST((*answer)->body == expected.body);
  BOOST_TEST((*answer)->body.find(kClientSecret) == std::string::npos);
  BOOST_TEST((*answer)->body.find(state) == std::string::npos);
  BOOST_TEST(stored_credentials() == 0);

  // The dead process is replaced and callbacks work again. Where the front replaces it by itself,
  // wait for that first: lighttpd sends a request that comes before the replacement to the dead
  // process's socket and answers it 500 too ("Connection reset by peer" in its log).
  const auto replaced = [&] {
    const auto now = handler_pids(config, "callback");
    return (fixed_pool() ? now.size() == kProcs : !now.empty()) &&
           std::find(now.begin(), now.end(), busy) == now.end();
  };
  if (replaces_eagerly()) BOOST_TEST_REQUIRE(eventually(replaced));
  for (int i = 0; i < 2 * kProcs; ++i) {
    BOOST_TEST(finish("alice", start("alice")) == ui("github", ""));
  }
  BOOST_TEST(S().as.request_count() == static_cast<std::size_t>(2 * kProcs));
  BOOST_TEST(eventually(replaced));
}

BOOST_AUTO_TEST_CASE(every_handler_process_killed_between_requests_is_replaced) {
  // Under mod_fcgid the processes are Apache's to start: the ones found by their executable are
  // killed, and Apache must start new ones. The same holds for every front.
  const std::string config = S().stack->config_path();
  const auto token = S().issuer.token("bob");
  BOOST_TEST_REQUIRE(finish("bob", start("bob")) == ui("github", ""));
  BOOST_TEST_REQUIRE(S().stack->get(kList, token).status == 200);
  BOOST_TEST_REQUIRE(health_status() == 200);
  std::vector<pid_t> killed;
  for (const auto& p : handler_processes(config)) {
    if (p.route == "authorize") continue;  // a sub-request's, tested with the proxy suite
    killed.push_back(p.pid);
  }
  BOOST_TEST_REQUIRE(killed.size() >= 4u);  // at least list, connect, callback and health
  for (pid_t pid : killed) ::kill(pid, SIGKILL);
  // Reaped, so the front has seen each death; and where it replaces them by itself (see above),
  // replaced.
  BOOST_TEST_REQUIRE(eventually([&] {
    for (pid_t pid : killed) {
      if (std::filesystem::exists("/proc/" + std::to_string(pid))) return false;
    }
    return !replaces_eagerly() || handler_processes(config).size() == pool_size();
  }));

  // Each route answers as before, from a new process.
  const auto list = S().stack->get(kList, token);
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.body.find(R"("server":"github","mode":"oauth_connect","status":"connected")") !=
             std::string::npos);
  BOOST_TEST(health_status() == 200);
  BOOST_TEST(finish("bob", start("bob")) == ui("github", ""));
  BOOST_TEST(S().stack->del(std::string(kList) + "/github", token).status == 200);
  BOOST_TEST(stored_credentials() == 0);
  for (const char* route : {"list", "health", "connect", "callback", "delete"}) {
    const auto now = handler_pids(config, route);
    BOOST_TEST(!now.empty(), route);
    for (pid_t pid : now) {
      BOOST_TEST((std::find(killed.begin(), killed.end(), pid) == killed.end()), route);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Redis refusing writes -------------------------------------------------------------------

namespace {

/** noeviction with a limit below what Redis already uses: every write that may grow memory is
 *  refused ("OOM command not allowed"); reads and deletions still run. */
void fill_redis_memory() {
  S().redis.cli({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  S().redis.cli({"CONFIG", "SET", "maxmemory", "1"});
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(redis_refuses_writes, Clean)

BOOST_AUTO_TEST_CASE(out_of_memory_connect_is_a_503_and_leaves_no_flow_behind) {
  fill_redis_memory();
  const auto a = S().stack->get(connect_path("github"), S().issuer.token("alice"));
  BOOST_TEST(a.status == 503);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.body == kStoreUnavailable);
  BOOST_TEST(S().redis.cli({"DBSIZE"}).integer == 0);
  BOOST_TEST(S().stack->log().find("OOM command not allowed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(out_of_memory_callback_is_unavailable_and_stores_nothing) {
  const auto state = start("alice");
  fill_redis_memory();
  BOOST_TEST(finish("alice", state) == ui("github", "unavailable"));
  // The exchange cannot be counted against the user's rate limit (a write), so the code is never
  // sent: nothing can be stored anyway.
  BOOST_TEST(S().as.request_count() == 0u);
  BOOST_TEST(stored_credentials() == 0);
  // Flow taken, index entry gone; only the connect's rate counter (written before) is left.
  BOOST_TEST(keys_matching("credbroker:u:*:flow*") == 0u);
  BOOST_TEST(S().redis.cli({"DBSIZE"}).integer ==
             static_cast<std::int64_t>(keys_matching("credbroker:u:*:rate:*")));
  BOOST_TEST(S().stack->log().find(kAccessToken) == std::string::npos);
  S().redis.cli({"CONFIG", "SET", "maxmemory", "0"});
  BOOST_TEST(finish("alice", state) == ui("github", "invalid_state"));  // the flow is spent
}

BOOST_AUTO_TEST_CASE(out_of_memory_delete_and_list_still_answer) {
  BOOST_TEST(finish("alice", start("alice")) == ui("github", ""));
  fill_redis_memory();
  const auto token = S().issuer.token("alice");
  auto list = S().stack->get(kList, token);
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.body.find(R"("server":"github","mode":"oauth_connect","status":"connected")") !=
             std::string::npos);
  // HDEL frees memory, so Redis runs it even when full.
  const auto del = S().stack->del(std::string(kList) + "/github", token);
  BOOST_TEST(del.status == 200);
  BOOST_TEST(stored_credentials() == 0);
  list = S().stack->get(kList, token);
  BOOST_TEST(list.status == 200);
  BOOST_TEST(
      list.body.find(R"("server":"github","mode":"oauth_connect","status":"not_connected")") !=
      std::string::npos);
  BOOST_TEST(health_status() == 200);  // PING needs no memory
}

BOOST_AUTO_TEST_CASE(a_flow_whose_index_cannot_be_written_is_removed_again) {
  // The flow record is written first, then the user's index. Make the second write fail the
  // way only real Redis can on demand: the index key holds a string (WRONGTYPE). The connect is
  // a 503, so nobody holds the state: a flow left behind would be dead weight outside the cap.
  S().redis.cli({"SET", store::user_key("credbroker:", "mallory", "flows"), "not-a-sorted-set"});
  const auto a = S().stack->get(connect_path("github"), S().issuer.token("mallory"));
  BOOST_TEST(a.status == 503);
  BOOST_TEST(a.body == kStoreUnavailable);
  BOOST_TEST(keys_matching("credbroker:u:*:flow:*") == 0u);
  // Only the string we planted, besides the connect's rate counter.
  BOOST_TEST(S().redis.cli({"DBSIZE"}).integer ==
             1 + static_cast<std::int64_t>(keys_matching("credbroker:u:*:rate:*")));
}

BOOST_AUTO_TEST_SUITE_END()
