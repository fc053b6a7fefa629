// Abuse limits, through the front with real processes: one user hammering connect cannot grow
// Redis past the pending-flow cap, a stream of distinct valid tokens cannot grow a handler's
// verified-token cache past its capacity, and one user cannot make the OAuth client send more
// than the per-minute limits of connects and code exchanges.
#define BOOST_TEST_MODULE integration_abuse_limits
#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <thread>

#include "shared/crypto/hash.h"
#include "shared/store/user_keys.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/handler_processes.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::int64_t kCap = 16;
constexpr std::string_view kConnect = "/api/v1/user/credentials/github/connect";

struct Suite : SuiteInstance<Suite> {
  Suite()
      : stack(start_front(issuer, {.redis_url = redis.url(),
                                   .max_pending_flows_per_user = kCap,
                                   // The floods below are about the cap, not the rate limit
                                   // (the stack's lifted limits).
                                   .procs = 2})) {}
  RedisServer redis;
  TestIssuer issuer;
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
  }
};

/** Bytes Redis has allocated, less its client buffers (which grow and shrink with traffic). */
std::int64_t data_memory() {
  const std::string info = S().redis.cli({"INFO", "memory"}).str;
  const auto field = [&](std::string_view name) -> std::int64_t {
    const auto at = info.find("\r\n" + std::string(name) + ":");
    BOOST_TEST_REQUIRE(at != std::string::npos, name);
    return std::stoll(info.substr(at + name.size() + 3));
  };
  return field("used_memory") - field("mem_clients_normal");
}

std::vector<std::string> keys(std::string_view pattern) {
  std::vector<std::string> out;
  for (const auto& k : S().redis.cli({"KEYS", std::string(pattern)}).elements) out.push_back(k.str);
  return out;
}

std::vector<std::string> index_members(std::string_view user) {
  std::vector<std::string> out;
  const auto r =
      S().redis.cli({"ZRANGE", store::user_key("credbroker:", user, "flows"), "0", "-1"});
  for (const auto& m : r.elements) out.push_back(m.str);
  return out;
}

}  // namespace

namespace {

struct Flood {
  int redirected = 0;             // connects answered 302
  int other = 0;                  // anything else, transport failures included
  std::int64_t grown = 0;         // Redis memory over the flood, client buffers aside
  std::int64_t record_bytes = 0;  // MEMORY USAGE of one flow record
  std::vector<std::string> flooder;
};

/** `threads` clients, each its own connection, each sending `per_thread` connects as "flooder",
 *  after a bystander started one flow and a warm-up user went past the cap. */
Flood flood(int threads, int per_thread) {
  BOOST_TEST_REQUIRE(S().stack->get(kConnect, S().issuer.token("bystander")).status == 302);
  // Redis allocates some things once, on first use (Redis 7 keeps a latency histogram per
  // command): take the baseline after every command of a capped connect, and INFO, have run.
  for (int i = 0; i <= kCap; ++i) {
    BOOST_TEST_REQUIRE(S().stack->get(kConnect, S().issuer.token("warmup")).status == 302);
  }
  (void)data_memory();
  const std::int64_t memory_before = data_memory();

  std::atomic<int> redirected{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&] {
      auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
      const std::string auth = "Bearer " + S().issuer.token("flooder");
      for (int i = 0; i < per_thread; ++i) {
        auto a =
            client->send({.url = S().stack->url(kConnect), .headers = {{"Authorization", auth}}});
        (a && a->status == 302 ? redirected : other).fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  Flood out;
  out.grown = data_memory() - memory_before;  // before any other command runs
  out.redirected = redirected.load();
  out.other = other.load();
  out.flooder = index_members("flooder");
  for (const auto& id : out.flooder) {
    out.record_bytes = std::max<std::int64_t>(
        out.record_bytes,
        S().redis.cli({"MEMORY", "USAGE", store::user_key("credbroker:", "flooder", "flow:" + id)})
            .integer);
  }
  BOOST_TEST_MESSAGE("after " << threads * per_thread << " connects the flooder holds "
                              << out.flooder.size() << " pending flows; one record takes "
                              << out.record_bytes << " B; Redis grew by " << out.grown << " B");
  return out;
}

/** Every flow key is in exactly one user's index and every index entry has its flow key; the
 *  bystander's flow survived; nothing else was left behind. */
void expect_nothing_outside_the_indexes(const Flood& f) {
  const auto bystander = index_members("bystander");
  BOOST_TEST(bystander.size() == 1u);
  std::set<std::string> expected;
  for (const std::string user : {"flooder", "bystander", "warmup"}) {
    for (const auto& id : index_members(user)) {
      expected.insert(store::user_key("credbroker:", user, "flow:" + id));
    }
  }
  BOOST_TEST(index_members("flooder") == f.flooder);
  const auto flow_keys = keys("credbroker:u:*:flow:*");
  BOOST_TEST((std::set<std::string>(flow_keys.begin(), flow_keys.end()) == expected));
  // Plus the three indexes and the users' connect counters (one per user and minute).
  BOOST_TEST(keys("*").size() == flow_keys.size() + 3u + keys("credbroker:u:*:rate:*").size());
}

/** A thousand kept records would take ~1000 * record_bytes; a quarter of that is far above the
 *  cap's share (a few KiB, or a few ten with Redis's own bookkeeping). */
void expect_memory_bounded(const Flood& f, int connects) {
  BOOST_TEST_REQUIRE(f.record_bytes > 0);
  BOOST_TEST(f.grown < connects * f.record_bytes / 4);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(pending_flows, Clean)

BOOST_AUTO_TEST_CASE(the_cap_holds_exactly_under_1000_rapid_connects_in_a_row) {
  const auto f = flood(1, 1000);
  BOOST_TEST(f.redirected == 1000);
  BOOST_TEST(f.other == 0);
  BOOST_TEST(f.flooder.size() == static_cast<std::size_t>(kCap));
  expect_nothing_outside_the_indexes(f);
  expect_memory_bounded(f, 1000);
}

BOOST_AUTO_TEST_CASE(the_cap_holds_under_1000_connects_from_4_clients_at_once) {
  // Two connect processes behind the front (procs = 2), so puts of one user interleave.
  const auto f = flood(4, 250);
  BOOST_TEST(f.redirected == 1000);
  BOOST_TEST(f.other == 0);
  // FlowStore::put is one script (store, index, trim, expire), so interleaved puts of one user
  // never count each other's half-done trim: exactly the cap is left.
  BOOST_TEST(f.flooder.size() == static_cast<std::size_t>(kCap));
  expect_nothing_outside_the_indexes(f);
  expect_memory_bounded(f, 1000);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- The verified-token cache ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(token_cache)

BOOST_AUTO_TEST_CASE(a_handler_stays_bounded_across_twice_its_cache_capacity_of_distinct_tokens) {
  // The unit tests prove cache_size() == capacity (identity_authenticator_test.cc); this shows
  // the bound in a real handler process, from outside: its resident memory. Each token names a
  // 1 KiB user, so a cache entry costs ~1 KiB more than usual and a missing bound shows as
  // megabytes. Its own front with one process per route, so one process sees every token.
  constexpr int kCapacity = 4096;  // Authenticator's default capacity, which app::run uses
  constexpr int kThreads = 4;
  auto front = start_front(S().issuer, {.redis_url = S().redis.url(), .procs = 1});
  const std::string config = front->config_path();

  std::vector<std::string> tokens;
  for (int i = 0; i < 2 * kCapacity + 64; ++i) {
    std::string user = "user-" + std::to_string(i) + "-";
    user.resize(1024, 'x');
    tokens.push_back(S().issuer.token(user));
  }
  std::atomic<int> not_found{0};
  // DELETE of a server nobody configured: authenticated (else 401), then 404, no Redis involved.
  const auto send_range = [&](int from, int to) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto client =
            http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 20000});
        for (int i = from + t; i < to; i += kThreads) {
          auto a = client->send(
              {.method = "DELETE",
               .url = front->url("/api/v1/user/credentials/nope"),
               .headers = {{"Authorization", "Bearer " + tokens[static_cast<std::size_t>(i)]}}});
          if (a && a->status == 404) not_found.fetch_add(1);
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  send_range(0, 64);  // warm-up: buffers, curl, OpenSSL; a front that spawns on demand spawns now
  const auto pids = handler_pids(config, "delete");
  BOOST_TEST_REQUIRE(pids.size() == 1u);
  const pid_t pid = pids.front();
  const std::size_t rss_start = resident_kib(pid);
  send_range(64, 64 + kCapacity);  // fills the cache
  const std::size_t rss_full = resident_kib(pid);
  send_range(64 + kCapacity, 64 + 2 * kCapacity);  // evicts as much as it adds
  const std::size_t rss_end = resident_kib(pid);
  BOOST_TEST(not_found.load() == 2 * kCapacity + 64);
  BOOST_TEST(handler_pids(config, "delete") == pids);  // the same process all along

  const long filling = static_cast<long>(rss_full) - static_cast<long>(rss_start);
  const long steady = static_cast<long>(rss_end) - static_cast<long>(rss_full);
  BOOST_TEST_MESSAGE("resident KiB: " << rss_start << " at start, " << rss_full << " after "
                                      << kCapacity << " tokens, " << rss_end << " after "
                                      << 2 * kCapacity);
  BOOST_TEST(filling > 2048, "filling the cache should show (else this test proves nothing)");
  BOOST_TEST(steady < filling / 4);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Per-user rate limits ----------------------------------------------------------------------

namespace {

/** Sleeps into the next one-minute window when fewer than `seconds` are left in this one, so a
 *  burst is counted in one window (the limiter's windows start at multiples of 60 s). */
void within_one_window(std::int64_t seconds) {
  const std::int64_t left = 60 - system_clock().now_seconds() % 60;
  if (left < seconds)
    std::this_thread::sleep_for(std::chrono::seconds(left) + std::chrono::milliseconds(100));
}

std::string state_in(const Answer& connect) {
  const std::string location = connect.header("location").value_or("");
  const auto at = location.find("&state=");
  BOOST_TEST_REQUIRE(at != std::string::npos, location);
  const auto start = at + 7;
  return location.substr(start, location.find('&', start) - start);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(rate_limits, Clean)

BOOST_AUTO_TEST_CASE(the_21st_connect_of_a_user_in_a_minute_is_429_with_retry_after) {
  auto front = start_front(S().issuer, {.redis_url = S().redis.url(), .limits = ""});  // defaults
  within_one_window(20);
  const std::string token = S().issuer.token("hasty");
  for (int i = 0; i < 20; ++i) BOOST_TEST_REQUIRE(front->get(kConnect, token).status == 302);
  const auto flows_before = keys("credbroker:u:*:flow:*").size();
  const auto a = front->get(kConnect, token);
  const std::int64_t left = 60 - system_clock().now_seconds() % 60;
  BOOST_TEST(a.status == 429);
  BOOST_TEST(
      a.body ==
      R"({"error":"Too Many Requests","message":"Too many connect attempts","status_code":429})");
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  const std::int64_t retry_after = std::stoll(a.header("retry-after").value_or("0"));
  BOOST_TEST((retry_after >= left && retry_after <= left + 1), retry_after << " vs " << left);
  BOOST_TEST(!a.header("location").has_value());
  BOOST_TEST(keys("credbroker:u:*:flow:*").size() == flows_before);
  BOOST_TEST(front->get(kConnect, S().issuer.token("patient")).status == 302);
}

BOOST_AUTO_TEST_CASE(a_junk_code_callback_flood_stops_reaching_the_token_endpoint_after_20) {
  HttpServer as([](const RecordedRequest&) {
    return ScriptedResponse{.status = 400,
                            .headers = {{"Content-Type", "application/json"}},
                            .body = R"({"error":"invalid_grant"})"};
  });
  const std::string token_endpoint = as.url("/token");
  auto front = start_front(
      S().issuer, {.redis_url = S().redis.url(),
                   .servers_json = R"([{"name": "github", "url": "https://github.example.test",
         "auth_broker": {"mode": "oauth_connect",
                         "authorization_endpoint": "http://127.0.0.1:9/authorize",
                         "token_endpoint": ")" +
                                   token_endpoint + R"(",
                         "client_id": "gh-client", "client_secret": "gh-secret"}}])",
                   .max_pending_flows_per_user = 100,
                   // Only the exchanges are limited here (the default 20); connects may go on.
                   .limits = R"({"connects_per_minute": 1000})"});
  within_one_window(30);
  const std::string token = S().issuer.token("flooder");
  std::vector<std::string> states;
  for (int i = 0; i < 30; ++i) {
    const auto a = front->get(kConnect, token);
    BOOST_TEST_REQUIRE(a.status == 302);
    states.push_back(state_in(a));
  }
  std::map<std::string, int> labels;
  for (const auto& state : states) {
    const auto a =
        front->get("/api/v1/user/credentials/github/callback?code=junk&state=" + state, token);
    BOOST_TEST_REQUIRE(a.status == 302);
    const std::string location = a.header("location").value_or("");
    labels[location.substr(location.find("credential_error=") + 17)] += 1;
  }
  BOOST_TEST(as.request_count() == 20u);
  BOOST_TEST((labels == std::map<std::string, int>{{"connect_failed", 20}, {"rate_limited", 10}}));
}

BOOST_AUTO_TEST_SUITE_END()
