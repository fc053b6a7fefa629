// The bad input catalogue, through the front (start_front(): lighttpd unless CREDBROKER_FRONT says
// otherwise): oversized identity headers, hostile JWTs, hostile {server} segments and query
// strings, Unicode server names, header names that spoof the identity header, and hostile JWKS
// and token endpoint documents. Every case gets a 4xx JSON error with an exact body (or the
// documented callback label), or the front's own refusal where the front has a limit; never a 500,
// a crash or a hang, and never a log line holding what the request carried as a secret.
//
// Requests go out over a raw socket (raw_request below) so that the bytes on the wire are exactly
// the case's: libcurl would squash "/../", and would not let a test send a header twice.
#define BOOST_TEST_MODULE integration_bad_input
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <tuple>

#include "shared/crypto/base64.h"
#include "shared/http/request.h"
#include "shared/http/url.h"
#include "shared/util/clock.h"
#include "shared/util/strings.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kAccessToken = "AT-BADINPUT-5e81c0";
// "Jira Ünïcode" (precomposed, NFC) and "日本語", and their percent-encoded UTF-8.
constexpr std::string_view kUnicodeName =
    "Jira \xC3\x9Cn\xC3\xAF"
    "code";
constexpr std::string_view kUnicodePath = "Jira%20%C3%9Cn%C3%AFcode";
constexpr std::string_view kCjkName = "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
constexpr std::string_view kCjkPath = "%E6%97%A5%E6%9C%AC%E8%AA%9E";

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: one request per connection, bytes exactly as given, every wait bounded.

constexpr int kIoTimeoutMs = 15000;
constexpr std::size_t kMaxAnswerBytes = 8 << 20;

using Headers = std::vector<std::pair<std::string, std::string>>;

Answer parse_answer(const std::string& raw) {
  Answer a;
  const auto head_end = raw.find("\r\n\r\n");
  BOOST_TEST_REQUIRE(head_end != std::string::npos, "no response head in: " << raw.substr(0, 200));
  const auto lines = split(std::string_view(raw).substr(0, head_end), '\n');
  const std::string_view status_line = trim(lines.at(0));
  BOOST_TEST_REQUIRE(status_line.size() >= 12u, "status line: " << status_line);
  a.status = std::stoi(std::string(status_line.substr(9, 3)));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = trim(lines[i]);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    a.headers.emplace_back(to_lower(trim(line.substr(0, colon))),
                           std::string(trim(line.substr(colon + 1))));
  }
  a.body = raw.substr(head_end + 4);
  if (const auto length = a.header("content-length")) {
    a.body.resize(std::min<std::size_t>(a.body.size(), std::stoul(*length)));
  } else if (iequals(a.header("transfer-encoding").value_or(""), "chunked")) {
    std::string body;  // RFC 9112 §7.1: hex size, CRLF, data, CRLF; a zero size ends it
    std::size_t at = 0;
    while (at < a.body.size()) {
      const auto eol = a.body.find("\r\n", at);
      BOOST_TEST_REQUIRE(eol != std::string::npos, "truncated chunked body");
      const std::size_t size = std::stoul(a.body.substr(at, eol - at), nullptr, 16);
      if (size == 0) break;
      body += a.body.substr(eol + 2, size);
      at = eol + 2 + size + 2;
    }
    a.body = std::move(body);
  }
  return a;
}

/** Sends `method target` with `headers` (plus Host and Connection: close) and reads the answer. */
Answer raw_request(int port, std::string_view method, std::string_view target,
                   const Headers& headers = {}) {
  std::string out = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  out += "Host: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n";

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_TEST_REQUIRE(fd >= 0);
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
    if (n <= 0) break;  // the front may answer (431) and close before reading everything
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string in;
  char buf[65536];
  while (in.size() < kMaxAnswerBytes) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kIoTimeoutMs) <= 0) break;  // a hang is a failure below, not a hung test
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_answer(in);
}

// ---------------------------------------------------------------------------------------------
// The suite's servers.

ScriptedResponse good_token_answer(const RecordedRequest&) {
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"access_token":")" + std::string(kAccessToken) +
                  R"(","token_type":"Bearer","expires_in":3600})"};
}

std::string servers_json(int as_port) {
  const std::string as = "http://127.0.0.1:" + std::to_string(as_port);
  const auto server = [&](std::string_view name, std::string_view url) {
    return R"({"name": )" + json_string(name) + R"(, "url": ")" + std::string(url) +
           R"(", "auth_broker": {"mode": "oauth_connect", "authorization_endpoint": ")" + as +
           R"(/authorize", "token_endpoint": ")" + as +
           R"(/token", "client_id": "bad-input-client", "token_endpoint_auth_method": "none"}})";
  };
  return "[" + server("github", "https://github.example.test") + "," +
         server(kUnicodeName, "https://jira.example.test") + "," +
         server(kCjkName, "https://nihongo.example.test") + "]";
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : as(good_token_answer),
        stack(start_front(issuer, {.redis_url = redis.url(),
                                   .servers_json = servers_json(as.port()),
                                   .extra_config = R"(,"http":{"timeout_ms":3000})"})),
        alb(start_front(issuer, {.redis_url = redis.url(),
                                 .identity_header = "x-amzn-oidc-data",
                                 .servers_json = servers_json(as.port())})) {}
  RedisServer redis;
  TestIssuer issuer;
  HttpServer as;
  std::unique_ptr<Front> stack;  // Authorization: Bearer
  std::unique_ptr<Front> alb;    // x-amzn-oidc-data, as behind an AWS ALB
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
    S().as.set_handler(good_token_answer);
    S().as.clear_requests();
  }
};

bool is_lighttpd(const Front& f) {
  return f.kind() == "lighttpd";
}

std::string bearer(std::string_view token) {
  return "Bearer " + std::string(token);
}

Answer get(std::string_view target, std::string_view token) {
  return raw_request(S().stack->port(), "GET", target, {{"Authorization", bearer(token)}});
}

Answer del(std::string_view target, std::string_view token) {
  return raw_request(S().stack->port(), "DELETE", target, {{"Authorization", bearer(token)}});
}

std::string error_body(int status, std::string_view message) {
  return "{\"error\":\"" + std::string(http::reason_phrase(status)) +
         "\",\"message\":" + http::json_quote(message) +
         ",\"status_code\":" + std::to_string(status) + "}";
}

void expect_error(const Answer& a, int status, std::string_view message) {
  BOOST_TEST(a.status == status);
  BOOST_TEST(a.body == error_body(status, message));
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  BOOST_TEST(a.header("cache-control").value_or("") == "no-store");
}

void expect_refused_token(const Answer& a) {
  expect_error(a, 401, "Authentication required");
  BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"");
}

/** Request log lines the handlers wrote so far, on `front`. */
std::size_t handled_requests(const Front& front) {
  const std::string log = front.log();
  std::size_t n = 0;
  for (auto at = log.find(R"("event":"request")"); at != std::string::npos;
       at = log.find(R"("event":"request")", at + 1)) {
    ++n;
  }
  return n;
}

/** The last request log line on `front`. */
std::string last_request_line(const Front& front) {
  const std::string log = front.log();
  const auto at = log.rfind(R"("event":"request")");
  if (at == std::string::npos) return {};
  const auto newline = log.rfind('\n', at);
  const std::size_t from = newline == std::string::npos ? 0 : newline + 1;
  const auto end = log.find('\n', at);
  return log.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

/** `secret` (and, for a JWT, its signature) appear in no log line of `front`. */
void expect_not_logged(const Front& front, std::string_view secret) {
  const std::string log = front.log();
  BOOST_TEST(log.find(secret) == std::string::npos, "logged: " << secret.substr(0, 60));
  const auto dot = secret.rfind('.');
  if (dot != std::string_view::npos && secret.size() - dot > 16) {
    BOOST_TEST(log.find(secret.substr(dot + 1)) == std::string::npos, "signature logged");
  }
}

/**
 * The front refused `a` itself (its own limits, no handler involved), or let it through and the
 * handler answered `handler_status` with `message`. Which one happens is the front's choice; what
 * lighttpd does is pinned exactly (`lighttpd_refuses`: with `front_status`); any other front may
 * refuse with a 4xx of its own.
 */
void expect_front_or_handler(const Front& front, const Answer& a, std::size_t handled_before,
                             int front_status, int handler_status, std::string_view message,
                             bool lighttpd_refuses) {
  if (is_lighttpd(front)) {
    if (lighttpd_refuses) {
      BOOST_TEST(a.status == front_status);
      BOOST_TEST(handled_requests(front) == handled_before, "the handler saw it");
    } else {
      expect_error(a, handler_status, message);
    }
    return;
  }
  if (handled_requests(front) > handled_before) {
    expect_error(a, handler_status, message);
  } else {
    BOOST_TEST((a.status >= 400 && a.status < 500), "front answered " << a.status);
  }
}

std::int64_t now() {
  return system_clock().now_seconds();
}

Claims good_claims(std::string_view user = "alice") {
  return S().issuer.claims(user).exp(now() + 600);
}

rapidjson::Document json(const Answer& a) {
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  return d;
}

std::string status_of(const Answer& list, std::string_view server) {
  const auto d = json(list);
  for (const auto& e : d["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return e["status"].GetString();
  }
  return "missing";
}

using Params = std::map<std::string, std::vector<std::string>>;

Params query_of(std::string_view url) {
  Params out;
  const auto q = url.find('?');
  if (q == std::string_view::npos) return out;
  const auto parsed = http::parse_query(url.substr(q + 1));
  BOOST_TEST_REQUIRE(parsed.has_value());
  for (const auto& [k, v] : *parsed) out[k].push_back(v);
  return out;
}

/** connect for `server_path` (already percent-encoded) as alice; the state it issued. */
std::string start_flow(std::string_view server_path, std::string_view user = "alice") {
  const auto a =
      get(std::string(kList) + "/" + std::string(server_path) + "/connect", S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "connect answered " << a.status << " " << a.body);
  const auto p = query_of(a.header("location").value_or(""));
  BOOST_TEST_REQUIRE(p.count("state") == 1u);
  return p.at("state").front();
}

std::string callback_location(std::string_view server_path, std::string_view query,
                              std::string_view user = "alice") {
  const auto a =
      get(std::string(kList) + "/" + std::string(server_path) + "/callback?" + std::string(query),
          S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 302, "callback answered " << a.status << " " << a.body);
  return a.header("location").value_or("");
}

std::string ui(std::string_view server_path, std::string_view label) {
  return "/ui/?credential_server=" + std::string(server_path) +
         (label.empty() ? std::string("&credential_connected=1")
                        : "&credential_error=" + std::string(label));
}

long long stored_credentials() {
  long long n = 0;
  for (const auto& k : S().redis.cli({"KEYS", "credbroker:u:*:cred:*"}).elements) {
    n += S().redis.cli({"HLEN", k.str}).integer;
  }
  return n;
}

/** base64url of `bytes` whose last character carries non-zero unused bits (same bytes when read
 *  leniently; RFC 4648 §3.5 canonical decoders refuse it). Needs a length with unused bits. */
std::string non_canonical_b64url(std::string_view bytes) {
  std::string s = crypto::base64url_encode(bytes);
  BOOST_TEST_REQUIRE(bytes.size() % 3 != 0);
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  s.back() = kAlphabet[kAlphabet.find(s.back()) + 1];
  return s;
}

}  // namespace

// =============================================================================================
BOOST_FIXTURE_TEST_SUITE(identity_header, Clean)

BOOST_AUTO_TEST_CASE(a_header_between_16_and_32_kib_reaches_the_handler_and_is_a_401) {
  const std::string marker = "OVERSIZE-MARKER-3b7f";
  const std::string value = "Bearer " + marker + std::string(20 * 1024, 'A');
  const auto before = handled_requests(*S().stack);
  const auto a = raw_request(S().stack->port(), "GET", kList, {{"Authorization", value}});
  expect_error(a, 401, "Authentication required");
  BOOST_TEST(handled_requests(*S().stack) == before + 1);
  if (is_lighttpd(*S().stack)) {
    BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer error=\"invalid_token\"");
    BOOST_TEST(S().stack->log().find(R"("reason":"identity_header_too_large")") !=
               std::string::npos);
  }
  BOOST_TEST(S().stack->log().find(marker) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_header_over_32_kib_is_refused_by_the_front_itself) {
  const std::string marker = "HUGE-MARKER-91d2";
  const std::string value = "Bearer " + marker + std::string(40 * 1024, 'A');
  const auto before = handled_requests(*S().stack);
  const auto a = raw_request(S().stack->port(), "GET", kList, {{"Authorization", value}});
  // lighttpd: server.max-request-field-size (32 KiB for the whole head) answers 431 itself.
  expect_front_or_handler(*S().stack, a, before, 431, 401, "Authentication required", true);
  BOOST_TEST(S().stack->log().find(marker) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(underscore_spellings_of_the_identity_header_never_authenticate) {
  Front& alb = *S().alb;
  const auto alice = S().issuer.token("alice");
  const auto bob = S().issuer.token("bob");
  // The real header works...
  auto a = raw_request(alb.port(), "GET", kList, {{"X-Amzn-Oidc-Data", alice}});
  BOOST_TEST(a.status == 200);
  // ...while every spelling FastCGI would also turn into HTTP_X_AMZN_OIDC_DATA is dropped by the
  // front, so the handler sees no identity at all.
  for (const std::string name : {"X_Amzn_Oidc_Data", "x-amzn_oidc-data", "X.Amzn.Oidc.Data"}) {
    BOOST_TEST_CONTEXT(name) {
      a = raw_request(alb.port(), "GET", kList, {{name, alice}});
      expect_error(a, 401, "Authentication required");
      BOOST_TEST(a.header("www-authenticate").value_or("") == "Bearer");
    }
  }
  // A client-sent underscore copy placed before the proxy's real header does not win.
  a = raw_request(alb.port(), "GET", kList,
                  {{"X_Amzn_Oidc_Data", alice}, {"X-Amzn-Oidc-Data", bob}});
  BOOST_TEST(a.status == 200);
  BOOST_TEST(last_request_line(alb).find(R"("status":200,"user":"bob")") != std::string::npos);
  a = raw_request(alb.port(), "GET", kList,
                  {{"X_Amzn_Oidc_Data", alice}, {"X-Amzn-Oidc-Data", "not-a-token"}});
  expect_refused_token(a);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_FIXTURE_TEST_SUITE(hostile_jwt, Clean)

BOOST_AUTO_TEST_CASE(refused_tokens_are_a_401_and_never_logged) {
  const auto& es = S().issuer.key();
  const auto& rsa = S().issuer.rsa_key();
  const std::string claims = good_claims().json();
  const std::string es_header = default_header(es);

  std::vector<std::pair<std::string, std::string>> cases = {
      {"alg none, empty signature", crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})") +
                                        "." + crypto::base64url_encode(claims) + "."},
      {"alg none with a kid and a real signature's bytes",
       crypto::base64url_encode(R"({"alg":"none","kid":"test-key-1"})") + "." +
           crypto::base64url_encode(claims) + "." + crypto::base64url_encode(std::string(64, 'x'))},
      {"alg None (case)", crypto::base64url_encode(R"({"alg":"None"})") + "." +
                              crypto::base64url_encode(claims) + "."},
      {"HS256 keyed with the RSA public key PEM",
       hs256(public_key_pem(rsa), R"({"alg":"HS256","kid":"test-rsa-1"})", claims)},
      {"HS256 keyed with the RSA public key DER",
       hs256(public_key_der(rsa), R"({"alg":"HS256","kid":"test-rsa-1"})", claims)},
      {"HS256 keyed with the RSA JWK", hs256(jwk_json(rsa), R"({"alg":"HS256"})", claims)},
      {"unknown kid", sign(es, R"({"alg":"ES256","kid":"no-such-key"})", claims)},
      {"kid with a path", sign(es, R"({"alg":"ES256","kid":"../../../../etc/passwd"})", claims)},
      {"kid naming a device", sign(es, R"({"alg":"ES256","kid":"/dev/null"})", claims)},
      {"kid with SQL", sign(es, R"({"alg":"ES256","kid":"test-key-1' OR '1'='1"})", claims)},
      {"kid with a NUL", sign(es, R"({"alg":"ES256","kid":"test-key-1\u0000"})", claims)},
      {"kid as a number", sign(es, R"({"alg":"ES256","kid":1})", claims)},
      {"crit naming exp",
       sign(es, R"({"alg":"ES256","kid":"test-key-1","crit":["exp"],"exp":1})", claims)},
      {"crit empty", sign(es, R"({"alg":"ES256","kid":"test-key-1","crit":[]})", claims)},
      {"duplicate alg in the header",
       sign(es, R"({"alg":"none","alg":"ES256","kid":"test-key-1"})", claims)},
      {"duplicate kid in the header",
       sign(es, R"({"alg":"ES256","kid":"no-such-key","kid":"test-key-1"})", claims)},
      {"duplicate sub in the payload",
       sign(es, es_header,
            R"({"sub":"mallory","sub":"alice","iss":")" + std::string(kTestIssuer) +
                R"(","aud":")" + std::string(kTestAudience) + R"(","exp":)" +
                std::to_string(now() + 600) + "}")},
      {"exp 1e400", mint(es, good_claims().claim_raw("exp", "1e400"))},
      {"exp beyond int64", mint(es, good_claims().claim_raw("exp", "99999999999999999999999"))},
      {"exp past year 9999", mint(es, good_claims().claim_raw("exp", "253402300800"))},
      {"exp 1e308", mint(es, good_claims().claim_raw("exp", "1e308"))},
      {"exp negative", mint(es, good_claims().claim_raw("exp", "-1"))},
      {"exp as a string", mint(es, good_claims().claim_raw("exp", "\"4102444800\""))},
      {"nbf 1e400", mint(es, good_claims().claim_raw("nbf", "1e400"))},
      {"payload nested 100 deep",
       mint(es, good_claims().claim_raw("x", std::string(100, '[') + std::string(100, ']')))},
      {"four segments", mint(es, good_claims()) + ".e30"},
      {"a space inside", [&] {
         auto t = mint(es, good_claims());
         t.insert(t.find('.') + 3, " ");
         return t;
       }()}};

  // Non-canonical base64url (RFC 4648 §3.5, RFC 7515 §2): the same bytes under another spelling.
  {
    const std::string input =
        crypto::base64url_encode(es_header) + "." + crypto::base64url_encode(claims);
    const std::string sig = raw_signature(es, input);  // 64 bytes: 86 characters, 4 unused bits
    cases.emplace_back("signature with non-zero unused bits",
                       input + "." + non_canonical_b64url(sig));
    cases.emplace_back("padded signature with an extra '='",
                       input + "." + crypto::base64url_encode(sig) + "===");
    // Signed over the non-canonical header text itself, so only the spelling is wrong.
    const std::string header = R"({"alg":"ES256","kid":"test-key-1","typ":"JWT"})";  // 46 bytes
    const std::string odd_input =
        non_canonical_b64url(header) + "." + crypto::base64url_encode(claims);
    cases.emplace_back("header with non-zero unused bits, validly signed",
                       odd_input + "." + crypto::base64url_encode(raw_signature(es, odd_input)));
    // The standard alphabet's '+' and '/' in place of '-' and '_'.
    std::string std_alphabet;
    for (int i = 0; i < 64 && std_alphabet.empty(); ++i) {
      const auto t = mint(es, good_claims());
      const auto s = t.substr(t.rfind('.') + 1);
      if (s.find_first_of("-_") == std::string::npos) continue;
      std_alphabet = t;
      for (auto j = t.rfind('.') + 1; j < t.size(); ++j) {
        if (std_alphabet[j] == '-') std_alphabet[j] = '+';
        if (std_alphabet[j] == '_') std_alphabet[j] = '/';
      }
    }
    BOOST_TEST_REQUIRE(!std_alphabet.empty());
    cases.emplace_back("signature in the standard alphabet", std_alphabet);
  }

  for (const auto& [what, token] : cases) {
    BOOST_TEST_CONTEXT(what) {
      expect_refused_token(get(kList, token));
      expect_not_logged(*S().stack, token);
    }
  }
  // The same keys and claims, minted properly, are accepted: every refusal above is the flaw's.
  BOOST_TEST(get(kList, mint(es, good_claims())).status == 200);
  BOOST_TEST(get(kList, sign(es, es_header, claims)).status == 200);
  BOOST_TEST(get(kList, mint(rsa, good_claims())).status == 200);
}

BOOST_AUTO_TEST_CASE(jku_x5u_and_jwk_header_parameters_are_ignored_and_never_fetched) {
  const auto attacker = generate_key(identity::Alg::kES256, "attacker-1");
  HttpServer keys([&attacker](const RecordedRequest&) {
    return ScriptedResponse{.status = 200,
                            .headers = {{"Content-Type", "application/json"}},
                            .body = jwks_json({attacker})};
  });
  const std::string pointers = R"("jku":")" + keys.url("/jwks.json") + R"(","x5u":")" +
                               keys.url("/cert.pem") + R"(","jwk":)" + jwk_json(attacker);
  const std::string claims = good_claims().json();
  // Signed by a key only those parameters vouch for: refused.
  for (const std::string kid : {"attacker-1", "test-key-1"}) {
    BOOST_TEST_CONTEXT(kid) {
      const auto token =
          sign(attacker, R"({"alg":"ES256","kid":")" + kid + R"(",)" + pointers + "}", claims);
      expect_refused_token(get(kList, token));
      expect_not_logged(*S().stack, token);
    }
  }
  // Signed by the configured key: accepted, the parameters simply not read.
  const auto ours =
      sign(S().issuer.key(), R"({"alg":"ES256","kid":"test-key-1",)" + pointers + "}", claims);
  BOOST_TEST(get(kList, ours).status == 200);
  BOOST_TEST(keys.request_count() == 0u);
  // The server is reachable: a count of 0 means "never asked", not "could not connect".
  auto client = http::make_curl_client({.connect_timeout_ms = 2000, .total_timeout_ms = 5000});
  BOOST_TEST(client->send({.url = keys.url("/jwks.json")})->status == 200);
  BOOST_TEST(keys.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(jws_strictness_refusals_are_a_401_logged_with_their_label) {
  const auto& es = S().issuer.key();
  const std::string claims = good_claims().json();
  const std::string input =
      crypto::base64url_encode(default_header(es)) + "." + crypto::base64url_encode(claims);
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"typ JWE", sign(es, R"({"alg":"ES256","kid":"test-key-1","typ":"JWE"})", claims),
       "typ_not_allowed"},
      {"b64 false", sign(es, R"({"alg":"ES256","kid":"test-key-1","b64":false})", claims),
       "b64_unsupported"},
      {"padded Bearer token", mint(es, good_claims().claim_string("p", "x"), true),
       "padded_base64url"},
      {"a lifetime of a year", mint(es, good_claims().iat(now()).exp(now() + 365 * 86400)),
       "lifetime_too_long"}};
  for (const auto& [what, token, label] : cases) {
    BOOST_TEST_CONTEXT(what) {
      expect_refused_token(get(kList, token));
      BOOST_TEST(
          last_request_line(*S().stack).find(R"("reason":")" + label + "\"") != std::string::npos,
          last_request_line(*S().stack));
    }
  }
  for (const std::string header : {R"({"alg":"ES256","kid":"test-key-1","typ":"at+jwt"})",
                                   R"({"alg":"ES256","kid":"test-key-1"})"}) {
    BOOST_TEST(get(kList, sign(es, header, claims)).status == 200, header);
  }
  BOOST_TEST(get(kList, input + "." + crypto::base64url_encode(raw_signature(es, input))).status ==
             200);
  // A high-S ECDSA signature is accepted by default (identity.require_low_s_signatures is
  // opt-in: most signers do not normalise S; docs/security.md "ECDSA low-S").
  BOOST_TEST(
      get(kList, input + "." + crypto::base64url_encode(high_s(raw_signature(es, input)))).status ==
      200);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_FIXTURE_TEST_SUITE(server_segment, Clean)

BOOST_AUTO_TEST_CASE(malformed_and_overlong_percent_encoding_is_a_400_or_404_never_a_match) {
  const auto token = S().issuer.token("alice");
  Front& f = *S().stack;
  const std::string bad_encoding = error_body(400, "Server name is not valid percent-encoding");
  struct Case {
    std::string segment;
    int handler_status;        // DELETE, when the handler answers it: this status...
    std::string handler_body;  // ...and exactly this body
    bool lighttpd_refuses;     // lighttpd answers 400 itself (url-ctrls-reject, invalid UTF-8)
  };
  const std::vector<Case> cases = {
      {"%zz", 400, bad_encoding, false},
      {"git%2", 400, bad_encoding, false},
      {"%", 400, bad_encoding, false},
      // Overlong UTF-8 for "..": just bytes to the handler, repeated as U+FFFD.
      {"%c0%ae%c0%ae", 404, error_body(404, "Unknown server \"\xC0\xAE\xC0\xAE\""), true},
      {"%ff", 404, error_body(404, "Unknown server \"\xFF\""), true},
      {"%2567ithub", 404, error_body(404, "Unknown server \"%67ithub\""), false},  // decoded once
      // "github/": one segment, so a name (names may hold "/"), and not a configured one.
      {"gith%75b%2F", 404, error_body(404, "Unknown server \"github/\""), false},
      {"git%00hub", 400, bad_encoding, true},
      {"git%0d%0ahub", 404, error_body(404, "Unknown server"), true},  // never quoted back
      {"%22%3E%3Cscript%3E", 404, error_body(404, "Unknown server \"\"><script>\""), false}};
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.segment) {
      const std::string target = std::string(kList) + "/" + c.segment;
      const auto before = handled_requests(f);
      const auto a = del(target, token);
      if (is_lighttpd(f) && c.lighttpd_refuses) {
        BOOST_TEST(a.status == 400);
        BOOST_TEST(handled_requests(f) == before, "the handler saw it");
      } else if (is_lighttpd(f)) {
        BOOST_TEST(a.status == c.handler_status);
        BOOST_TEST(a.body == c.handler_body);
      } else if (handled_requests(f) > before) {
        // Another front may route it to another handler ("github/" is then an unknown server).
        BOOST_TEST(a.status == c.handler_status);
        BOOST_TEST(a.body.starts_with(R"({"error":")"));
      } else {
        BOOST_TEST((a.status >= 400 && a.status < 500), "front answered " << a.status);
      }
      // Nothing the segment decodes to becomes a header of the answer.
      for (const auto& [k, v] : a.headers) BOOST_TEST(k.find("hub") == std::string::npos);
      const auto connect = get(target + "/connect", token);
      BOOST_TEST((connect.status == 400 || connect.status == 404), "connect: " << connect.status);
    }
  }
  BOOST_TEST(S().redis.cli({"KEYS", "*"}).elements.empty());
  // The name is trimmed after decoding (README): "%09github" is github. lighttpd refuses the
  // control character before any handler sees it.
  const auto tab = del(std::string(kList) + "/%09github", token);
  if (is_lighttpd(f)) {
    BOOST_TEST(tab.status == 400);
  } else {
    BOOST_TEST(
        (tab.status == 400 ||
         tab.body == R"({"message":"Disconnected credential for \"github\"","revoked":[]})"));
  }
}

BOOST_AUTO_TEST_CASE(dot_segments_never_reach_another_route_or_a_file) {
  const auto token = S().issuer.token("alice");
  // alice's github credential, which no request below may remove.
  const std::string state = start_flow("github");
  BOOST_TEST(callback_location("github", "code=c&state=" + state) == ui("github", ""));
  BOOST_TEST(stored_credentials() == 1);

  // lighttpd removes dot segments before routing (url-path-dotseg-remove), so these reach a
  // handler; the handlers route on the raw REQUEST_URI and answer 404 to any path whose raw form
  // is not exactly theirs. Another front may refuse them in its own way: any 4xx is fine, a
  // match is not (the credential, the flows and the token endpoint are checked at the end).
  const auto expect_404_or_refused = [](const Answer& a) {
    if (is_lighttpd(*S().stack)) {
      expect_error(a, 404, "Not found");
    } else {
      BOOST_TEST((a.status >= 400 && a.status < 500), "answered " << a.status);
    }
  };
  const std::vector<std::pair<std::string, std::string>> deletes = {
      {"/api/v1/user/credentials/x/../github", "delete"},
      {"/api/v1/user/credentials/github/connect/..", "delete"},
      {"/api/v1/user/credentials/%2e%2e/credentials/github", "delete"},
      {"/api/v1/user/credentials/x/..%2fgithub", "delete"},
      {"/api/v1/user/credentials/github/.", "delete"}};
  for (const auto& [target, lighttpd_route] : deletes) {
    BOOST_TEST_CONTEXT("DELETE " << target) {
      const auto a = del(target, token);
      expect_404_or_refused(a);
      if (is_lighttpd(*S().stack)) {
        BOOST_TEST(S().stack->log().find(R"("route":")" + lighttpd_route + R"(","path":")" +
                                         target + "\"") != std::string::npos);
      }
    }
  }
  BOOST_TEST(stored_credentials() == 1);

  const std::vector<std::string> gets = {
      "/api/v1/user/credentials/x/../github/connect",
      "/api/v1/user/credentials/github/x/../connect",
      "/api/v1/user/credentials/github/connect/../callback?code=c&state=x",
      "/api/v1/healthz/../user/credentials/github/connect",
      "/api/v1/user/credentials/..%2f..%2f..%2fetc%2fpasswd"};
  for (const auto& target : gets) {
    BOOST_TEST_CONTEXT("GET " << target) {
      expect_404_or_refused(get(target, token));
    }
  }
  // Climbing out of /api/ leaves every handler behind: lighttpd looks for a static file in its
  // (empty) document root and answers its own 404; no file outside it is ever read.
  for (const std::string target : {"/api/v1/user/credentials/../../../../etc/passwd",
                                   "/api/v1/user/credentials/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/"
                                   "%2e%2e/%2e%2e/etc/passwd"}) {
    BOOST_TEST_CONTEXT("GET " << target) {
      const auto before = handled_requests(*S().stack);
      const auto a = get(target, token);
      BOOST_TEST((a.status >= 400 && a.status < 500));
      BOOST_TEST(a.body.find("root:") == std::string::npos);
      BOOST_TEST(handled_requests(*S().stack) == before);
    }
  }
  BOOST_TEST(S().redis.cli({"KEYS", "credbroker:u:*:flow:*"}).elements.empty());  // no connect ran
  BOOST_TEST(S().as.request_count() == 1u);                                       // no callback ran
  BOOST_TEST(stored_credentials() == 1);
}

BOOST_AUTO_TEST_CASE(unicode_server_names_list_connect_callback_and_delete_by_their_utf8) {
  const auto token = S().issuer.token("alice");
  // List: the names as UTF-8 JSON, the connect paths percent-encoded.
  auto a = get(kList, token);
  BOOST_TEST(a.status == 200);
  const std::string unicode_entry = R"({"server":")" + std::string(kUnicodeName) +
                                    R"(","mode":"oauth_connect","status":"not_connected",)"
                                    R"("connect_path":"/api/v1/user/credentials/)" +
                                    std::string(kUnicodePath) + R"(/connect"})";
  BOOST_TEST(a.body.find(unicode_entry) != std::string::npos, a.body);
  BOOST_TEST(a.body.find(std::string(kCjkPath) + "/connect") != std::string::npos);

  for (const auto& [name, path] : {std::pair{kUnicodeName, kUnicodePath}, {kCjkName, kCjkPath}}) {
    BOOST_TEST_CONTEXT(path) {
      const std::string state = start_flow(path);
      BOOST_TEST(callback_location(path, "code=c&state=" + state) == ui(path, ""));
      BOOST_TEST(status_of(get(kList, token), name) == "connected");
      // The token exchange named the callback by the same percent-encoded UTF-8.
      const auto form = query_of("?" + S().as.requests().back().body);
      BOOST_TEST(form.at("redirect_uri").front() ==
                 S().stack->url(std::string(kList) + "/" + std::string(path) + "/callback"));
      a = del(std::string(kList) + "/" + std::string(path), token);
      BOOST_TEST(a.status == 200);
      BOOST_TEST(a.body ==
                 "{\"message\":" +
                     http::json_quote("Disconnected credential for \"" + std::string(name) + "\"") +
                     ",\"revoked\":[]}");
      BOOST_TEST(status_of(get(kList, token), name) == "not_connected");
    }
  }

  // Matching is byte-for-byte after percent-decoding, ASCII letters case-insensitively: another
  // Unicode normalization (NFD "U" + U+0308) or another case of "Ü" names another server.
  const std::string nfd = "Jira%20U%CC%88n%C3%AFcode";
  expect_error(del(std::string(kList) + "/" + nfd, token), 404,
               "Unknown server \"Jira U\xCC\x88n\xC3\xAF"
               "code\"");
  expect_error(get(std::string(kList) + "/" + nfd + "/connect", token), 404,
               "Unknown server \"Jira U\xCC\x88n\xC3\xAF"
               "code\"");
  expect_error(del(std::string(kList) + "/jira%20%C3%BCn%C3%AFcode", token), 404,
               "Unknown server \"jira \xC3\xBCn\xC3\xAF"
               "code\"");
  expect_error(del(std::string(kList) + "/%E6%97%A5%E6%9C%AC", token), 404,
               "Unknown server \"\xE6\x97\xA5\xE6\x9C\xAC\"");
  BOOST_TEST(del(std::string(kList) + "/JIRA%20%C3%9Cn%C3%AFCODE", token).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_FIXTURE_TEST_SUITE(query_string, Clean)

BOOST_AUTO_TEST_CASE(duplicated_state_is_invalid_state_and_keeps_the_flow) {
  const std::string state = start_flow("github");
  BOOST_TEST(callback_location("github", "code=c&state=" + state + "&state=" + state) ==
             ui("github", "invalid_state"));
  BOOST_TEST(S().as.request_count() == 0u);
  // Refused before the flow was taken: the real callback still completes.
  BOOST_TEST(callback_location("github", "code=c&state=" + state) == ui("github", ""));
}

BOOST_AUTO_TEST_CASE(duplicated_code_is_connect_failed_and_consumes_the_flow) {
  const std::string state = start_flow("github");
  BOOST_TEST(callback_location("github", "code=c&code=c&state=" + state) ==
             ui("github", "connect_failed"));
  BOOST_TEST(callback_location("github", "code=c&state=" + state) == ui("github", "invalid_state"));
  BOOST_TEST(S().as.request_count() == 0u);
  BOOST_TEST(stored_credentials() == 0);
}

BOOST_AUTO_TEST_CASE(malformed_percent_encoding_in_the_query_is_invalid_state) {
  const std::string state = start_flow("github");
  for (const std::string& q : {"code=%zz&state=" + state, "code=c&state=" + state + "%",
                               "code=c&state=" + state + "&x=%0", "code=c&state=%00" + state}) {
    BOOST_TEST_CONTEXT(q) {
      const auto before = handled_requests(*S().stack);
      const auto a = get(std::string(kList) + "/github/callback?" + q, S().issuer.token("alice"));
      if (a.status == 302) {
        BOOST_TEST(a.header("location").value_or("") == ui("github", "invalid_state"));
      } else {
        BOOST_TEST(a.status == 400);  // the front's own refusal of a control character
        BOOST_TEST(handled_requests(*S().stack) == before);
      }
    }
  }
  BOOST_TEST(S().as.request_count() == 0u);
  BOOST_TEST(callback_location("github", "code=c&state=" + state) == ui("github", ""));
}

BOOST_AUTO_TEST_CASE(a_64_kib_query_is_refused_by_the_front_and_a_24_kib_one_is_served) {
  const std::string huge(64 * 1024, 'q');
  for (const std::string route : {"connect", "callback"}) {
    BOOST_TEST_CONTEXT(route) {
      const auto before = handled_requests(*S().stack);
      const auto a =
          get(std::string(kList) + "/github/" + route + "?pad=" + huge, S().issuer.token("alice"));
      if (is_lighttpd(*S().stack)) {
        BOOST_TEST(a.status == 431);  // the request head is over server.max-request-field-size
        BOOST_TEST(handled_requests(*S().stack) == before);
      } else {
        BOOST_TEST(a.status < 500);
      }
    }
  }
  // Under the front's limit the handlers read it like any other query.
  const std::string pad(24 * 1024, 'q');
  const auto a = get(std::string(kList) + "/github/connect?pad=" + pad, S().issuer.token("alice"));
  if (!is_lighttpd(*S().stack) && a.status == 414) return;  // this front's request-line limit
  BOOST_TEST_REQUIRE(a.status == 302);
  const std::string state = query_of(a.header("location").value_or("")).at("state").front();
  BOOST_TEST(callback_location("github", "pad=" + pad + "&code=c&state=" + state) ==
             ui("github", ""));
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================================
BOOST_FIXTURE_TEST_SUITE(hostile_documents, Clean)

BOOST_AUTO_TEST_CASE(hostile_token_responses_are_connect_failed_and_store_nothing) {
  const auto answer = [](std::string content_type, std::string body) {
    return [content_type, body](const RecordedRequest&) {
      return ScriptedResponse{
          .status = 200, .headers = {{"Content-Type", content_type}}, .body = body};
    };
  };
  const std::string deep(200000, '[');
  const std::vector<std::pair<std::string, HttpServer::Handler>> cases = {
      {"an array nested 200000 deep", answer("application/json", deep + std::string(200000, ']'))},
      {"a token beside a member nested 200000 deep",
       answer("application/json", R"({"access_token":")" + std::string(kAccessToken) + R"(","x":)" +
                                      deep + std::string(200000, ']') + "}")},
      {"unterminated nesting", answer("application/json", deep)},
      {"a token that is not UTF-8",
       answer("application/json", "{\"access_token\":\"AT-\xFF\xFE-latin1\"}")},
      {"a token type that is not UTF-8",
       answer("application/json", R"({"access_token":")" + std::string(kAccessToken) +
                                      "\",\"token_type\":\"Bea\xE9r\"}")},
      {"a form-encoded token that is not UTF-8",
       answer("application/x-www-form-urlencoded", "access_token=AT-%FF%FE&token_type=bearer")},
      {"access_token twice",
       answer("application/json", R"({"access_token":"one","access_token":"two"})")},
      {"1 MiB of one string",
       answer("application/json", R"({"access_token":")" + std::string(1 << 20, 'a') + "\"}")}};
  for (const auto& [what, handler] : cases) {
    BOOST_TEST_CONTEXT(what) {
      S().as.set_handler(handler);
      const std::string state = start_flow("github");
      BOOST_TEST(callback_location("github", "code=c&state=" + state) ==
                 ui("github", "connect_failed"));
      BOOST_TEST(stored_credentials() == 0);
    }
  }
  BOOST_TEST(S().as.request_count() == cases.size());
  BOOST_TEST(S().stack->log().find(kAccessToken) == std::string::npos);
  BOOST_TEST(S().stack->log().find("latin1") == std::string::npos);
  // The callback process survived all of it.
  S().as.set_handler(good_token_answer);
  const std::string state = start_flow("github");
  BOOST_TEST(callback_location("github", "code=c&state=" + state) == ui("github", ""));
}

BOOST_AUTO_TEST_CASE(hostile_jwks_documents_are_a_503_and_weak_keys_a_401) {
  const auto weak = generate_key(identity::Alg::kRS256, "weak-rsa-1024", 1024);
  const std::string good = jwks_json({S().issuer.key(), S().issuer.rsa_key()});
  const std::string deep(100000, '[');
  std::map<std::string, std::string> documents = {
      {"/good", good},
      {"/deep", R"({"keys":)" + deep + std::string(100000, ']') + "}"},
      {"/huge", R"({"keys":[],"pad":")" + std::string(2 << 20, 'p') + "\"}"},
      {"/not-utf8", good.substr(0, good.size() - 2) + ",{\"kty\":\"oct\",\"kid\":\"\xFF\xFE\"}]}"},
      {"/weak-only", jwks_json({weak})},
      {"/with-weak", jwks_json({S().issuer.key(), weak})},
      {"/html", "<html>keys</html>"}};
  HttpServer jwks([&documents](const RecordedRequest& r) {
    const auto it = documents.find(r.target);
    if (it == documents.end()) return ScriptedResponse{.status = 404};
    return ScriptedResponse{
        .status = 200, .headers = {{"Content-Type", "application/json"}}, .body = it->second};
  });
  const auto count = [&jwks](std::string_view path) {
    std::size_t n = 0;
    for (const auto& r : jwks.requests()) n += r.target == path;
    return n;
  };
  const auto front_for = [&](const std::string& path) {
    return start_front(S().issuer, {.redis_url = S().redis.url(),
                                    .servers_json = servers_json(S().as.port()),
                                    .jwks_url = jwks.url(path)});
  };
  const auto list = [](Front& f, std::string_view token) {
    return raw_request(f.port(), "GET", kList, {{"Authorization", bearer(token)}});
  };
  const auto token = S().issuer.token("alice");

  {
    auto f = front_for("/good");
    BOOST_TEST(list(*f, token).status == 200);
    BOOST_TEST(count("/good") == 1u);
  }
  for (const std::string path : {"/deep", "/huge", "/not-utf8", "/weak-only", "/html"}) {
    BOOST_TEST_CONTEXT(path) {
      auto f = front_for(path);
      for (int i = 0; i < 3; ++i) {
        expect_error(list(*f, token), 503, "Identity verification is unavailable");
      }
      // One fetch for three requests: the process lived on (a restarted one would fetch again)
      // and held back re-fetching, as it must for a JWKS that keeps failing.
      BOOST_TEST(count(path) == 1u);
      BOOST_TEST(f->log().find(R"("reason":"identity_keys_unavailable")") != std::string::npos);
      expect_not_logged(*f, token);
    }
  }
  {
    // RSA keys under 2048 bits are skipped (RFC 7518 §3.3): tokens they sign name no usable key.
    auto f = front_for("/with-weak");
    const auto weak_token = mint(weak, good_claims());
    expect_refused_token(list(*f, weak_token));
    expect_refused_token(list(*f, sign(weak, R"({"alg":"RS256"})", good_claims().json())));
    BOOST_TEST(list(*f, token).status == 200);
    BOOST_TEST(count("/with-weak") == 1u);
    expect_not_logged(*f, weak_token);
  }
}

BOOST_AUTO_TEST_SUITE_END()
