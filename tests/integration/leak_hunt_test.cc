// Leak hunt: drive every route and every outcome through the front with a recognisable sentinel
// planted in every secret we can choose, collect the secrets we cannot choose but can observe,
// then search everything a person, a log reader or a Redis reader could see.
//
// Planted (all contain kMarker): the client secret in the config, the Redis password
// (requirepass, handed to the handlers as CREDBROKER_REDIS_PASSWORD), the sealing key
// (CREDBROKER_KEYS: its raw bytes carry the marker, its base64 is searched as is), every
// authorization code we send, every access and refresh token the scripted token endpoint hands
// out (also inside its error bodies, redirects and oversized answers), and the authorization
// server's error texts. Observed: the states (from connect's Location), the PKCE verifiers (from
// the token requests the scripted endpoint recorded) and every user JWT we minted.
//
// Searched: every status, header and body of every answer; every log line (the front's log and
// error log, which hold the handlers' stderr); the whole Redis keyspace, each value dumped by type.
// No secret may appear anywhere, with exactly two exceptions for the state, both by protocol:
//   1. connect's 302 Location to the authorization server carries it as its `state` parameter
//      (RFC 6749 §4.1.1): there, and only there, once, it is allowed;
//   2. the callback URLs this test requests carry state and code: they are what we send, never
//      searched (the callback's own answer, its Location to the UI included, is searched).
// Redis may hold secrets only inside sealed records (credential hash fields, pending flows), which
// are searched too: ciphertext must not contain a sentinel either.
#define BOOST_TEST_MODULE integration_leak_hunt
#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <mutex>

#include "shared/crypto/base64.h"
#include "shared/http/url.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kMarker = "LEAKHUNT";
constexpr std::string_view kClientSecret = "LEAKHUNT-client-secret-b7d0";
constexpr std::string_view kRedisPassword = "LEAKHUNT-redis-password-4c1e";
constexpr std::string_view kSealingKey = "LEAKHUNT-sealing-key-32-bytes-00";  // 32 raw bytes
constexpr std::string_view kAsIssuer = "https://as.leakhunt.test";
constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kKeyId = "lh1";

std::string sealing_key_bytes() {
  static_assert(kSealingKey.size() == 32);
  return std::string(kSealingKey);
}

std::string access_token(int n) {
  return "LEAKHUNT-access-" + std::to_string(n);
}
std::string refresh_token(int n) {
  return "LEAKHUNT-refresh-" + std::to_string(n);
}

/** Hands out numbered tokens; every answer's tokens carry the marker. */
class TokenEndpoint {
 public:
  ScriptedResponse good() {
    const int n = next_++;
    return {.status = 200,
            .headers = {{"Content-Type", "application/json"}},
            .body = R"({"access_token":")" + access_token(n) + R"(","refresh_token":")" +
                    refresh_token(n) + R"(","token_type":"Bearer","expires_in":3600})"};
  }
  int issued() const { return next_; }

 private:
  std::atomic<int> next_{0};
};

std::string servers_json(int as_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  return R"([
    {"name": "github", "url": "https://github.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token", "client_id": "gh-client",
       "client_secret": ")" +
         std::string(kClientSecret) + R"(", "issuer": ")" + std::string(kAsIssuer) + R"("}},
    {"name": "Basic Wiki", "url": "https://wiki.example.test",
     "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" +
         as + R"(/authorize", "token_endpoint": ")" + as + R"(/token", "client_id": "wiki",
       "client_secret": ")" +
         std::string(kClientSecret) + R"(", "token_endpoint_auth_method": "client_secret_basic"}},
    {"name": "jira", "url": "https://jira.example.test",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         as + R"(/token", "client_id": "jira", "client_secret": ")" + std::string(kClientSecret) +
         R"("}}
  ])";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : redis(RedisServerOptions{.password = std::string(kRedisPassword)}),
        as([this](const RecordedRequest&) { return tokens.good(); }),
        stack(start_front(issuer, options(true))),
        disabled(start_front(issuer, options(false))) {}
  StackOptions options(bool sealing) {
    return {.redis_url = redis.url(),
            .sealing = sealing,
            .keys = std::string(kKeyId) + ":" + crypto::base64_encode(sealing_key_bytes()),
            .servers_json = servers_json(as.port()),
            .extra_config = R"(,"http":{"connect_timeout_ms":500,"timeout_ms":1500})",
            .env = {{"CREDBROKER_REDIS_PASSWORD", std::string(kRedisPassword)}}};
  }
  RedisServer redis;
  TestIssuer issuer;
  TokenEndpoint tokens;
  HttpServer as;
  std::unique_ptr<Front> stack;
  std::unique_ptr<Front> disabled;  // no CREDBROKER_KEYS
};
CREDBROKER_TEST_SUITE(Suite)

// ---------------------------------------------------------------------------------------------
// What we saw, and what must not be in it.

struct Seen {
  std::string where;  // "GET /api/... → 302", "log", "redis HGET ..."
  std::string text;
};

/** The secrets to look for, in the spellings they could take on the way out. */
class Secrets {
 public:
  void add(std::string label, std::string value) {
    if (value.empty()) return;
    for (const auto& spelling : {value, http::percent_encode(value)}) {
      values_.emplace_back(label, spelling);
    }
  }
  /** A JWT: the whole token and, alone, its signature. */
  void add_jwt(const std::string& token) {
    add("user JWT", token);
    add("user JWT signature", token.substr(token.rfind('.') + 1));
  }
  /** Every secret `text` contains, by label. */
  std::vector<std::string> found_in(std::string_view text) const {
    std::vector<std::string> out;
    if (text.find(kMarker) != std::string_view::npos) out.emplace_back("a planted sentinel");
    for (const auto& [label, value] : values_) {
      if (text.find(value) != std::string_view::npos) out.push_back(label);
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

/** Everything the scenarios received, and the secrets they observed on the way. */
struct Hunt {
  std::vector<Seen> answers;
  std::vector<std::string> states;
  std::vector<std::string> jwts;
  int codes = 0;

  std::string jwt(std::string_view user) {
    jwts.push_back(S().issuer.token(user));
    return jwts.back();
  }
  std::string code() { return "LEAKHUNT-code-" + std::to_string(codes++); }

  Answer call(Front& front, std::string_view method, std::string_view path,
              std::optional<std::string> token) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (token) headers.emplace_back("Authorization", "Bearer " + *token);
    auto a = front.request(method, path, std::move(headers));
    std::string text = "HTTP " + std::to_string(a.status) + "\n";
    for (const auto& [k, v] : a.headers) {
      std::string value = v;
      // Exception 1: connect's redirect to the authorization server carries the state, as the
      // `state` parameter, once. Taken out here; everything else in the answer is searched.
      if (k == "location" && a.status == 302 && path.ends_with("/connect")) {
        const auto q = value.find('?');
        BOOST_TEST_REQUIRE(q != std::string::npos);
        const auto params = http::parse_query(std::string_view(value).substr(q + 1));
        BOOST_TEST_REQUIRE(params.has_value());
        std::string state;
        for (const auto& [pk, pv] : *params) {
          if (pk == "state") state = pv;
        }
        BOOST_TEST_REQUIRE(!state.empty());
        states.push_back(state);
        const std::string param = "state=" + http::percent_encode(state);
        const auto at = value.find(param);
        BOOST_TEST_REQUIRE(at != std::string::npos);
        value.erase(at, param.size());
      }
      text += k + ": " + value + "\n";
    }
    text += "\n" + a.body;
    answers.push_back(
        {std::string(method) + " " + std::string(path) + " -> " + std::to_string(a.status),
         std::move(text)});
    return a;
  }

  /** connect as `user`; the state. */
  std::string connect(Front& front, std::string_view user, std::string_view server = "github") {
    const auto a =
        call(front, "GET", std::string(kList) + "/" + http::percent_encode(server) + "/connect",
             jwt(user));
    BOOST_TEST_REQUIRE(a.status == 302, "connect: " << a.status << " " << a.body);
    return states.back();
  }

  /** callback as `user` with `query`; the label ("" when connected). */
  std::string callback(Front& front, std::string_view user, const std::string& query,
                       std::string_view server = "github") {
    // Exception 2: this URL carries state and code; it is ours, never searched.
    const auto a = call(
        front, "GET",
        std::string(kList) + "/" + http::percent_encode(server) + "/callback?" + query, jwt(user));
    BOOST_TEST_REQUIRE(a.status == 302, "callback: " << a.status << " " << a.body);
    const std::string location = a.header("location").value_or("");
    const auto at = location.find("credential_error=");
    return at == std::string::npos ? "" : location.substr(at + 17);
  }

  std::string code_query(const std::string& state) {
    return http::build_query({{"code", code()}, {"state", state}, {"iss", std::string(kAsIssuer)}});
  }
};

/** Every key and every value in Redis, each value read the way its type is read. */
std::vector<Seen> dump_redis() {
  std::vector<Seen> out;
  for (const auto& key : S().redis.cli({"KEYS", "*"}).elements) {
    const std::string type = S().redis.cli({"TYPE", key.str}).str;
    out.push_back({"redis key (" + type + ")", key.str});
    if (type == "string") {
      out.push_back({"redis GET " + key.str, S().redis.cli({"GET", key.str}).str});
    } else if (type == "hash") {
      for (const auto& e : S().redis.cli({"HGETALL", key.str}).elements) {
        out.push_back({"redis HGETALL " + key.str, e.str});
      }
    } else if (type == "zset") {
      for (const auto& e : S().redis.cli({"ZRANGE", key.str, "0", "-1", "WITHSCORES"}).elements) {
        out.push_back({"redis ZRANGE " + key.str, e.str});
      }
    } else if (type == "set") {
      for (const auto& e : S().redis.cli({"SMEMBERS", key.str}).elements) {
        out.push_back({"redis SMEMBERS " + key.str, e.str});
      }
    } else if (type == "list") {
      for (const auto& e : S().redis.cli({"LRANGE", key.str, "0", "-1"}).elements) {
        out.push_back({"redis LRANGE " + key.str, e.str});
      }
    } else {
      out.push_back({"redis " + type + " " + key.str, "unexpected type"});
    }
  }
  return out;
}

/** The sealed record layout (shared/crypto/seal.h): 0x01, key id length, key id, then bytes. */
/** A sealed record: format 1 (flows), or format 2 (credentials: an 8-byte generation follows the
 *  key id). */
bool sealed(std::string_view value) {
  const std::string id = static_cast<char>(kKeyId.size()) + std::string(kKeyId);
  const std::string v1 = std::string("\x01", 1) + id;
  const std::string v2 = std::string("\x02", 1) + id;
  if (value.substr(0, v1.size()) == v1) return value.size() > v1.size() + 12 + 16;
  return value.substr(0, v2.size()) == v2 && value.size() > v2.size() + 8 + 12 + 16;
}

Secrets secrets_of(const Hunt& hunt) {
  Secrets s;
  s.add("client secret", std::string(kClientSecret));
  s.add("redis password", std::string(kRedisPassword));
  s.add("sealing key (base64)", crypto::base64_encode(sealing_key_bytes()));
  s.add("sealing key (base64url)", crypto::base64url_encode(sealing_key_bytes()));
  s.add("sealing key (raw)", sealing_key_bytes());
  for (const auto& state : hunt.states) s.add("state", state);
  for (const auto& jwt : hunt.jwts) s.add_jwt(jwt);
  for (const auto& r : S().as.requests()) {
    const auto form = http::parse_query(r.body);
    BOOST_TEST_REQUIRE(form.has_value());
    for (const auto& [k, v] : *form) {
      if (k == "code_verifier") s.add("PKCE verifier", v);
    }
  }
  return s;
}

std::string where_found(const std::vector<Seen>& seen, const Secrets& secrets) {
  std::string out;
  for (const auto& s : seen) {
    for (const auto& label : secrets.found_in(s.text)) out += label + " in " + s.where + "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

ScriptedResponse json_answer(int status, std::string body) {
  return {.status = status, .headers = {{"Content-Type", "application/json"}}, .body = body};
}

void every_route_when_things_go_right(Hunt& h) {
  Front& f = *S().stack;
  h.call(f, "GET", "/api/v1/healthz", std::nullopt);
  h.call(f, "GET", kList, h.jwt("alice"));
  BOOST_TEST(h.callback(f, "alice", h.code_query(h.connect(f, "alice"))) == "");
  BOOST_TEST(h.callback(f, "alice", h.code_query(h.connect(f, "alice", "Basic Wiki")),
                        "Basic Wiki") == "");
  BOOST_TEST(h.call(f, "GET", kList, h.jwt("alice")).body.find("\"connected\"") !=
             std::string::npos);
  BOOST_TEST(h.call(f, "DELETE", std::string(kList) + "/github", h.jwt("alice")).status == 200);
}

void every_refusal(Hunt& h) {
  Front& f = *S().stack;
  const auto& key = S().issuer.key();
  const std::int64_t now = system_clock().now_seconds();
  for (const auto& bad :
       {mint(key, S().issuer.claims("alice").exp(now - 3600)),
        crypto::base64url_encode(R"({"alg":"none"})") + "." +
            crypto::base64url_encode(S().issuer.claims("alice").exp(now + 600).json()) + ".",
        hs256(public_key_pem(S().issuer.rsa_key()), R"({"alg":"HS256","kid":"test-rsa-1"})",
              S().issuer.claims("alice").exp(now + 600).json())}) {
    h.jwts.push_back(bad);
    BOOST_TEST(h.call(f, "GET", kList, bad).status == 401);
  }
  BOOST_TEST(h.call(f, "GET", kList, std::nullopt).status == 401);
  BOOST_TEST(h.call(f, "GET", std::string(kList) + "/github/connect", std::nullopt).status == 401);
  BOOST_TEST(h.call(f, "GET", std::string(kList) + "/jira/connect", h.jwt("alice")).status == 400);
  BOOST_TEST(h.call(f, "GET", std::string(kList) + "/nope/connect", h.jwt("alice")).status == 404);
  BOOST_TEST(h.call(f, "DELETE", std::string(kList) + "/nope", h.jwt("alice")).status == 404);
  BOOST_TEST(h.call(f, "DELETE", std::string(kList) + "/%20", h.jwt("alice")).status == 400);
  BOOST_TEST(h.call(f, "DELETE", std::string(kList) + "/%zz", h.jwt("alice")).status == 400);
  BOOST_TEST(h.call(f, "POST", kList, h.jwt("alice")).status == 405);
  BOOST_TEST(h.call(f, "GET", "/api/v1/nothing", h.jwt("alice")).status == 404);
  // An anonymous callback with a live state and a code.
  const auto state = h.connect(f, "alice");
  BOOST_TEST(
      h.call(f, "GET", std::string(kList) + "/github/callback?" + h.code_query(state), std::nullopt)
          .status == 401);
}

void every_callback_label(Hunt& h) {
  Front& f = *S().stack;
  const auto with_error = [&](std::string error) {
    return http::build_query({{"error", error},
                              {"error_description", "LEAKHUNT-as-description"},
                              {"state", h.connect(f, "alice")}});
  };
  BOOST_TEST(h.callback(f, "alice", with_error("access_denied")) == "access_denied");
  BOOST_TEST(h.callback(f, "alice", with_error("LEAKHUNT-as-error")) == "authorization_denied");
  BOOST_TEST(h.callback(f, "alice", h.code_query("LEAKHUNT-unknown-state")) == "invalid_state");
  BOOST_TEST(h.callback(f, "alice", "code=" + h.code()) == "invalid_state");
  const auto twice = h.connect(f, "alice");
  BOOST_TEST(h.callback(f, "alice", "code=" + h.code() + "&state=" + twice + "&state=" + twice) ==
             "invalid_state");
  BOOST_TEST(h.callback(f, "mallory", h.code_query(twice)) == "user_mismatch");
  BOOST_TEST(h.callback(f, "alice",
                        http::build_query({{"code", h.code()},
                                           {"state", h.connect(f, "alice")},
                                           {"iss", "https://LEAKHUNT-evil.test"}})) ==
             "issuer_mismatch");
  BOOST_TEST(h.callback(f, "alice", "state=" + h.connect(f, "alice")) == "connect_failed");
  BOOST_TEST(h.callback(f, "alice",
                        "code=" + h.code() + "&code=" + h.code() +
                            "&state=" + h.connect(f, "alice")) == "connect_failed");
}

void every_misbehaving_token_endpoint(Hunt& h) {
  Front& f = *S().stack;
  HttpServer elsewhere([](const RecordedRequest&) { return ScriptedResponse{.status = 200}; });
  const auto tokens = [](int n) {
    return R"("access_token":")" + access_token(1000 + n) + R"(","refresh_token":")" +
           refresh_token(1000 + n) + "\"";
  };
  const std::vector<std::pair<std::string, HttpServer::Handler>> cases = {
      {"500 with tokens",
       [&](const RecordedRequest&) { return json_answer(500, "{" + tokens(0) + "}"); }},
      {"400 invalid_grant describing a token",
       [&](const RecordedRequest&) {
         return json_answer(400, R"({"error":"invalid_grant","error_description":")" +
                                     refresh_token(1001) + R"("})");
       }},
      {"400 with an unknown error",
       [&](const RecordedRequest&) {
         return json_answer(400, R"({"error":"LEAKHUNT-custom-error"})");
       }},
      {"302 carrying tokens",
       [&](const RecordedRequest&) {
         return ScriptedResponse{
             .status = 302,
             .headers = {{"Location", elsewhere.url("/?access_token=" + access_token(1003))}}};
       }},
      {"not JSON",
       [&](const RecordedRequest&) {
         return json_answer(200, "<html>" + access_token(1004) + "</html>");
       }},
      {"no access_token",
       [&](const RecordedRequest&) {
         return json_answer(200, R"({"refresh_token":")" + refresh_token(1005) + R"("})");
       }},
      {"2 MiB",
       [&](const RecordedRequest&) {
         return json_answer(200,
                            "{" + tokens(6) + R"(,"pad":")" + std::string(2 << 20, 'p') + "\"}");
       }},
      {"not UTF-8",
       [&](const RecordedRequest&) {
         return json_answer(200, "{" + tokens(7) + ",\"token_type\":\"\xFF\"}");
       }},
      {"closed",
       [](const RecordedRequest&) { return ScriptedResponse{.close_without_answer = true}; }},
      {"slow past the timeout", [&](const RecordedRequest&) {
         auto a = json_answer(200, "{" + tokens(9) + "}");
         a.delay_ms = 2000;
         return a;
       }}};
  for (const auto& [what, handler] : cases) {
    BOOST_TEST_CONTEXT(what) {
      S().as.set_handler(handler);
      BOOST_TEST(h.callback(f, "alice", h.code_query(h.connect(f, "alice"))) == "connect_failed");
    }
  }
  S().as.set_handler([](const RecordedRequest&) { return S().tokens.good(); });
  BOOST_TEST(elsewhere.request_count() == 0u);
}

void redis_down_and_store_disabled(Hunt& h) {
  Front& f = *S().stack;
  const auto state = h.connect(f, "alice");
  S().redis.stop();
  BOOST_TEST(h.call(f, "GET", "/api/v1/healthz", std::nullopt).status == 503);
  BOOST_TEST(h.call(f, "GET", kList, h.jwt("alice")).status == 200);
  BOOST_TEST(h.call(f, "DELETE", std::string(kList) + "/github", h.jwt("alice")).status == 503);
  BOOST_TEST(h.call(f, "GET", std::string(kList) + "/github/connect", h.jwt("alice")).status ==
             503);
  BOOST_TEST(h.callback(f, "alice", h.code_query(state)) == "unavailable");
  S().redis.start();

  Front& d = *S().disabled;
  BOOST_TEST(h.call(d, "GET", kList, h.jwt("alice")).status == 200);
  BOOST_TEST(h.call(d, "DELETE", std::string(kList) + "/github", h.jwt("alice")).status == 503);
  BOOST_TEST(h.call(d, "GET", std::string(kList) + "/github/connect", h.jwt("alice")).status ==
             503);
  BOOST_TEST(h.callback(d, "alice", h.code_query("LEAKHUNT-state")) == "unavailable");
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_search_finds_what_it_looks_for) {
  // Each search path, fed a planted secret, reports it: a clean result below means something.
  Hunt h;
  h.jwts.push_back(S().issuer.token("scratch"));
  h.states.push_back("scratch-state-value");
  const Secrets s = secrets_of(h);
  const std::string jwt_signature = h.jwts[0].substr(h.jwts[0].rfind('.') + 1);
  const std::vector<std::string> planted_texts = {
      "x" + access_token(7) + "y",
      "{\"k\":\"" + jwt_signature + "\"}",
      "state=scratch-state-value",
      "Basic " + crypto::base64_encode(sealing_key_bytes()),
      "x" + http::percent_encode(crypto::base64_encode(sealing_key_bytes())),
      std::string(kRedisPassword)};
  for (const auto& planted : planted_texts) {
    BOOST_TEST_CONTEXT(planted) {
      BOOST_TEST(!s.found_in(planted).empty());
    }
  }
  BOOST_TEST(s.found_in("nothing secret here: alice, github, connect_failed").empty());

  // The Redis dump reads every type, and sealed() tells a sealed record from plaintext.
  S().redis.flushall();
  S().redis.cli({"SET", "scratch:string", access_token(1)});
  S().redis.cli({"HSET", "scratch:hash", "field", refresh_token(1)});
  S().redis.cli({"ZADD", "scratch:zset", "1", std::string(kClientSecret)});
  S().redis.cli({"SADD", "scratch:set", "LEAKHUNT-set"});
  S().redis.cli({"RPUSH", "scratch:list", "LEAKHUNT-list"});
  const auto dump = dump_redis();
  BOOST_TEST(where_found(dump, s).size() > 0u);
  for (const std::string key : {"string", "hash", "zset", "set", "list"}) {
    BOOST_TEST_CONTEXT(key) {
      BOOST_TEST(std::count_if(dump.begin(), dump.end(), [&](const Seen& e) {
                   return e.where.find("scratch:" + key) != std::string::npos &&
                          !s.found_in(e.text).empty();
                 }) >= 1);
    }
  }
  BOOST_TEST(!sealed(access_token(1)));
  S().redis.flushall();
}

BOOST_AUTO_TEST_CASE(no_secret_in_any_answer_log_line_or_redis_value) {
  S().redis.flushall();
  S().as.clear_requests();
  Hunt h;
  every_route_when_things_go_right(h);
  every_refusal(h);
  every_callback_label(h);
  every_misbehaving_token_endpoint(h);
  redis_down_and_store_disabled(h);  // restarts Redis: what follows is what the dump sees
  // Leave a stored credential (tokens inside) and a pending flow (verifier inside) in Redis.
  BOOST_TEST(h.callback(*S().stack, "alice", h.code_query(h.connect(*S().stack, "alice"))) == "");
  h.connect(*S().stack, "bob", "Basic Wiki");

  // The hunt saw what it had to: tokens were issued, verifiers recorded, states collected.
  BOOST_TEST(S().tokens.issued() >= 3);
  BOOST_TEST(h.states.size() >= 20u);
  BOOST_TEST(S().as.request_count() >= 12u);
  BOOST_TEST(h.answers.size() >= 50u);
  const Secrets secrets = secrets_of(h);

  BOOST_TEST(where_found(h.answers, secrets) == "");

  const std::vector<Seen> logs = {{"stack log", S().stack->log()},
                                  {"disabled log", S().disabled->log()}};
  // The logs hold what they should (so an empty search result is not an empty log)...
  BOOST_TEST(logs[0].text.find(R"("event":"credential_connected")") != std::string::npos);
  BOOST_TEST(logs[0].text.find(R"("oauth_error":"invalid_grant")") != std::string::npos);
  BOOST_TEST(logs[0].text.find(R"("reason":"user_mismatch")") != std::string::npos);
  BOOST_TEST(logs[1].text.find(R"("event":"request")") != std::string::npos);
  // ...and no secret.
  BOOST_TEST(where_found(logs, secrets) == "");

  const auto redis = dump_redis();
  BOOST_TEST(where_found(redis, secrets) == "");
  bool credential = false, flow = false;
  for (const auto& key : S().redis.cli({"KEYS", "*"}).elements) {
    const std::string type = S().redis.cli({"TYPE", key.str}).str;
    BOOST_TEST_CONTEXT(key.str) {
      const auto tagged = key.str.find("}:");
      const std::string kind =
          key.str.starts_with("credbroker:u:{") && tagged != std::string::npos
              ? key.str.substr(tagged + 2, key.str.find(':', tagged + 2) - tagged - 2)
              : "";
      if (kind == "cred") {
        BOOST_TEST(type == "hash");
        const auto fields = S().redis.cli({"HGETALL", key.str}).elements;
        for (std::size_t i = 1; i < fields.size(); i += 2) BOOST_TEST(sealed(fields[i].str));
        credential = true;
      } else if (kind == "flow") {
        BOOST_TEST(type == "string");
        BOOST_TEST(sealed(S().redis.cli({"GET", key.str}).str));
        flow = true;
      } else if (kind == "gen") {
        // A user's record generations (bumped by the delete): field = server key, value a number.
        BOOST_TEST(type == "hash");
        const auto fields = S().redis.cli({"HGETALL", key.str}).elements;
        for (std::size_t i = 1; i < fields.size(); i += 2) {
          BOOST_TEST(fields[i].str.find_first_not_of("0123456789") == std::string::npos);
        }
      } else if (kind == "rate") {
        // A per-user rate-limit counter: a number only.
        BOOST_TEST(type == "string");
        const std::string count = S().redis.cli({"GET", key.str}).str;
        BOOST_TEST(count.find_first_not_of("0123456789") == std::string::npos);
      } else {
        // The per-user flow index: SHA-256 ids only, scored by time.
        BOOST_TEST(kind == "flows");
        BOOST_TEST(type == "zset");
        for (const auto& m : S().redis.cli({"ZRANGE", key.str, "0", "-1"}).elements) {
          BOOST_TEST(m.str.size() == 64u);
          BOOST_TEST(m.str.find_first_not_of("0123456789abcdef") == std::string::npos);
        }
      }
    }
  }
  BOOST_TEST(credential);
  BOOST_TEST(flow);
}
