#include "tests/support/fronts/stack.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "shared/audit/log.h"
#include "shared/config/config.h"
#include "shared/crypto/base64.h"
#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/http/request.h"
#include "shared/util/clock.h"
#include "shared/util/strings.h"
#include "tests/support/fronts/apache_front.h"
#include "tests/support/fronts/lambda_front.h"
#include "tests/support/fronts/nginx_front.h"
#include "tests/support/servers/redis_server.h"

namespace credbroker::testing {

namespace {

struct DefaultServer {
  const char* name;
  const char* url;
};
constexpr DefaultServer kDefaultServers[] = {{"github", "https://github.example.test/api/v3"},
                                             {"jira", "https://jira.example.test"},
                                             {"Docs Wiki", "https://wiki.example.test"},
                                             {"plain", "https://plain.example.test"}};

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

class NullSink final : public audit::Sink {
 public:
  void write(std::string_view) override {}
};

/**
 * Appends one exchange as a JSON line to CREDBROKER_EXCHANGE_DIR/<program>.<front>.<pid>.jsonl,
 * which ctest's openapi.exchanges checks against docs/openapi.yaml once the suites have run
 * (tests/openapi/). Every answer a suite receives from a front goes through here.
 */
void record_exchange(std::string_view front, const http::OutboundRequest& request,
                     std::string_view path_and_query, const Answer& answer) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  const std::filesystem::path dir = CREDBROKER_EXCHANGE_DIR;
  std::filesystem::create_directories(dir);
  const std::string file = std::string(program_invocation_short_name) + "." + std::string(front) +
                           "." + std::to_string(getpid()) + ".jsonl";
  const auto query = path_and_query.find('?');
  std::string line =
      "{\"program\":" + http::json_quote(program_invocation_short_name) +
      ",\"front\":" + http::json_quote(front) + ",\"method\":" + http::json_quote(request.method) +
      ",\"path\":" + http::json_quote(path_and_query.substr(0, query)) + ",\"query\":" +
      http::json_quote(query == std::string_view::npos ? std::string_view()
                                                       : path_and_query.substr(query + 1)) +
      ",\"status\":" + std::to_string(answer.status) + ",\"headers\":[";
  for (std::size_t i = 0; i < answer.headers.size(); ++i) {
    line += (i == 0 ? "[" : ",[") + http::json_quote(answer.headers[i].first) + "," +
            http::json_quote(answer.headers[i].second) + "]";
  }
  line += "],\"body\":" + http::json_quote(answer.body) + "}\n";
  std::ofstream out(dir / file, std::ios::app | std::ios::binary);
  out << line;
  if (!out.flush()) throw std::runtime_error("cannot record an exchange in " + dir.string());
}

}  // namespace

TestIssuer::TestIssuer()
    : dir_("credbroker-issuer"),
      key_(generate_key(identity::Alg::kES256, "test-key-1")),
      rsa_key_(generate_key(identity::Alg::kRS256, "test-rsa-1")),
      service_key_(generate_key(identity::Alg::kES256, "test-service-1")) {
  jwks_path_ = dir_.file("jwks.json");
  write_file(jwks_path_, jwks_json({key_, rsa_key_}));
  service_jwks_path_ = dir_.file("service-jwks.json");
  write_file(service_jwks_path_, jwks_json({service_key_, key_}));
}

Claims TestIssuer::claims(std::string_view user) const {
  Claims c;
  c.sub(user).iss(kTestIssuer).aud(kTestAudience).iat(system_clock().now_seconds());
  return c;
}

std::string TestIssuer::token(std::string_view user, std::int64_t ttl_seconds) const {
  return mint(key_, claims(user).exp(system_clock().now_seconds() + ttl_seconds));
}

Claims TestIssuer::service_claims(std::string_view sub, std::string_view aud) const {
  Claims c;
  c.sub(sub).iss(kTestIssuer).aud(aud).iat(system_clock().now_seconds());
  return c;
}

std::string TestIssuer::service_token(std::string_view sub, std::string_view aud,
                                      std::int64_t ttl_seconds) const {
  return mint(service_key_,
              service_claims(sub, aud).exp(system_clock().now_seconds() + ttl_seconds));
}

std::string resolve_config_json(const TestIssuer& issuer,
                                const std::vector<std::string>& allowed_subjects) {
  std::string subjects;
  for (const auto& s : allowed_subjects) {
    subjects += (subjects.empty() ? "" : ", ") + json_string(s);
  }
  return ", \"resolve\": {\"issuer\": " + json_string(kTestIssuer) + ", \"audience\": [" +
         json_string(kServiceAudience) + ", " +
         json_string(std::string(kServiceAudience) + "-alt") +
         "], \"algorithms\": [\"ES256\", \"RS256\"], \"jwks_file\": " +
         json_string(issuer.service_jwks_path()) + ", \"allowed_subjects\": [" + subjects +
         "], \"leeway_seconds\": 60}";
}

std::string default_servers_json() {
  return R"([
    {"name": "github", "url": "https://github.example.test/api/v3",
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "http://127.0.0.1:9/authorize",
                     "token_endpoint": "http://127.0.0.1:9/token",
                     "client_id": "gh-client", "client_secret": "gh-secret-SENTINEL-7f3a",
                     "scopes": ["repo", "read:org"]}},
    {"name": "jira", "url": "https://jira.example.test",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": "http://127.0.0.1:9/token",
                     "client_id": "jira-client", "client_secret": "jira-secret-SENTINEL-91c2"}},
    {"name": "Docs Wiki", "url": "https://wiki.example.test",
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "http://127.0.0.1:9/authorize?tenant=docs",
                     "token_endpoint": "http://127.0.0.1:9/token", "client_id": "wiki-client",
                     "token_endpoint_auth_method": "none"}},
    {"name": "plain", "url": "https://plain.example.test"}
  ])";
}

std::string default_server_key(std::string_view name) {
  for (const auto& s : kDefaultServers) {
    if (name == s.name) return config::server_key(s.name, s.url);
  }
  throw std::runtime_error("not a default server: " + std::string(name));
}

std::string random_keyring_spec(std::string_view id) {
  return std::string(id) + ":" + crypto::base64_encode(crypto::system_random().bytes(32));
}

std::optional<std::string> Answer::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

Front::Front(const TestIssuer& issuer, StackOptions options, std::string_view tag)
    : options_(std::move(options)), dir_(std::string("credbroker-") + std::string(tag)) {
  port_ = free_port();
  if (options_.sealing) keys_ = options_.keys.empty() ? random_keyring_spec() : options_.keys;
  config_path_ = dir_.file("config.json");
  // The issuer's JWKS file, or a JWKS URL a test serves (hostile documents, fetch counts).
  const std::string key_source = !options_.alb_json.empty() ? ", \"alb\": " + options_.alb_json
                                 : options_.jwks_url.empty()
                                     ? ", \"jwks_file\": " + json_string(issuer.jwks_path())
                                     : ", \"jwks_url\": " + json_string(options_.jwks_url);
  const std::string audience =
      options_.alb_json.empty() ? ", \"audience\": " + json_string(kTestAudience) : "";
  const std::string verifier =
      !options_.hmac_secret_env.empty()
          ? ", \"hmac_secret_env\": " + json_string(options_.hmac_secret_env)
          : ", \"issuer\": " + json_string(kTestIssuer) + audience +
                ", \"algorithms\": [\"ES256\", \"RS256\"]" + key_source;
  const std::string config =
      std::string("{") +                            //
      "\"public_base_url\": \"http://127.0.0.1:" +  //
      std::to_string(port_) + "\"," +               //
      "\"ui_redirect\": \"/ui/\"," +                //
      "\"identity\": {\"header\": " +               //
      json_string(options_.identity_header) +       //
      verifier +                                    //
      options_.extra_identity + "}," +              //
      "\"redis\": {\"url\": " + json_string(options_.redis_url) +
      ", \"connect_timeout_ms\": 300, \"command_timeout_ms\": 300}," +
      "\"flow_ttl_seconds\": " + std::to_string(options_.flow_ttl_seconds) +
      ", \"max_pending_flows_per_user\": " + std::to_string(options_.max_pending_flows_per_user) +
      (options_.limits.empty() ? std::string() : ", \"limits\": " + options_.limits) +
      (options_.servers_file.empty()
           ? ", \"servers\": " + options_.servers_json
           : ", \"servers_file\": " + json_string(options_.servers_file)) +
      options_.extra_config + "}";
  write_file(config_path_, config);
  client_ = http::make_curl_client(
      {.connect_timeout_ms = 2000, .total_timeout_ms = 20000, .max_body_bytes = 4 << 20});
}

Front::~Front() = default;

std::vector<std::pair<std::string, std::string>> Front::handler_env() const {
  std::vector<std::pair<std::string, std::string>> env = {{"CREDBROKER_CONFIG", config_path_},
                                                          {"CREDBROKER_KEYS", keys_}};
  for (const auto& e : options_.env) env.push_back(e);
  return env;
}

void Front::wait_until_serving(std::string_view what) const {
  if (!wait_for_port(port_, std::chrono::seconds(15))) {
    throw std::runtime_error(std::string(what) + " did not start: " + log());
  }
}

std::string Front::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::string Front::log() const {
  std::string out = read_file(dir_.file("front.log"));
  for (const auto& f : log_files_) out += read_file(f);
  return out;
}

Answer Front::request(std::string_view method, std::string_view path,
                      std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  http::OutboundRequest r;
  r.method = std::string(method);
  r.url = url(path);
  r.headers = std::move(headers);
  r.body = std::move(body);
  auto answer = client_->send(r);
  if (!answer) {
    throw std::runtime_error("HTTP " + r.method + " " + r.url +
                             " failed: " + std::string(http::describe(answer.error())));
  }
  Answer out{answer->status, std::move(answer->headers), std::move(answer->body)};
  record_exchange(kind(), r, path, out);
  return out;
}

std::string Front::copy_ui() const {
  namespace fs = std::filesystem;
  const fs::path to = dir().file("ui");
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(fs::path(CREDBROKER_SOURCE_DIR) / "ui")) {
    const fs::path file = to / entry.path().filename();
    fs::copy_file(entry.path(), file, fs::copy_options::overwrite_existing);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
  }
  fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                          fs::perms::others_read | fs::perms::others_exec);
  return to.string();
}

Answer Front::get(std::string_view path, std::string_view token) {
  return request("GET", path, {{"Authorization", "Bearer " + std::string(token)}});
}

Answer Front::del(std::string_view path, std::string_view token) {
  return request("DELETE", path, {{"Authorization", "Bearer " + std::string(token)}});
}

LighttpdFront::LighttpdFront(const TestIssuer& issuer, StackOptions options)
    : Front(issuer, std::move(options), "lighttpd") {
  std::filesystem::create_directories(dir().file("www"));
  log_files_.push_back(dir().file("error.log"));
  ProcessOptions p;
  p.argv = {"lighttpd", "-D", "-f",
            std::string(CREDBROKER_SOURCE_DIR) + "/infra/lighttpd/credbroker.conf"};
  p.env = {{"CREDBROKER_BIND", "127.0.0.1"},
           {"CREDBROKER_PORT", std::to_string(port())},
           {"CREDBROKER_BIN_DIR", CREDBROKER_BIN_DIR},
           {"CREDBROKER_RUN_DIR", dir().path()},
           {"CREDBROKER_ERRORLOG", dir().file("error.log")},
           {"CREDBROKER_PROCS", std::to_string(this->options().procs)},
           {"CREDBROKER_PROXY_PREFIX", "/upstream/"},
           {"CREDBROKER_PROXY_HEADERS", joined(this->options().proxy_headers)},
           {"CREDBROKER_IDENTITY_HEADER", this->options().identity_header},
           {"CREDBROKER_PROXY_ORIGINS", joined(this->options().proxy_origins)},
           {"CREDBROKER_UI_DIR", copy_ui()}};
  for (const auto& e : handler_env()) p.env.push_back(e);
  // Handlers inherit lighttpd's stderr; lighttpd's own messages go to its error log.
  p.stdout_path = dir().file("front.stdout");
  p.stderr_path = dir().file("front.log");
  lighttpd_.emplace(std::move(p));
  wait_until_serving("lighttpd");
}

LighttpdFront::~LighttpdFront() {
  if (lighttpd_) lighttpd_->stop();
}

std::string front_kind() {
  const char* kind = std::getenv("CREDBROKER_FRONT");
  return kind != nullptr && *kind != '\0' ? kind : "lighttpd";
}

std::unique_ptr<Front> start_front(const TestIssuer& issuer, StackOptions options) {
  const std::string kind = front_kind();
  if (kind == "lighttpd") return std::make_unique<LighttpdFront>(issuer, std::move(options));
  if (kind == "lambda") return std::make_unique<LambdaFront>(issuer, std::move(options));
  if (kind == "nginx") return std::make_unique<NginxFront>(issuer, std::move(options));
  if (kind == "apache-proxy-fcgi") {
    return std::make_unique<ApacheFront>(issuer, std::move(options), ApacheFront::Mode::kProxyFcgi);
  }
  if (kind == "apache-fcgid") {
    return std::make_unique<ApacheFront>(issuer, std::move(options), ApacheFront::Mode::kFcgid);
  }
  throw std::runtime_error("CREDBROKER_FRONT: unknown front \"" + kind + "\"");
}

namespace {

/** Runs `use` on a CredentialStore over `redis_url` with the keyring `keys`, built as the
 *  handlers build theirs (short timeouts, the default key prefix). */
template <class Use>
auto with_store(const std::string& redis_url, const std::string& keys, Use use) {
  config::Redis rc = redis_config(redis_url);
  rc.connect_timeout_ms = 500;
  rc.command_timeout_ms = 500;
  auto redis = store::make_hiredis(rc);
  auto keyring = crypto::Keyring::parse(keys);
  if (!keyring) throw std::runtime_error(keyring.error());
  NullSink sink;
  audit::Log log(sink);
  store::CredentialStore store(*redis, *keyring, crypto::system_random(), rc.key_prefix, log);
  return use(store);
}

}  // namespace

void seed_credential(const std::string& redis_url, const std::string& keys, std::string_view user,
                     std::string_view server_key, const store::Credential& credential) {
  with_store(redis_url, keys, [&](store::CredentialStore& store) {
    if (!store.put(user, server_key, credential)) throw std::runtime_error("seed failed");
  });
}

std::optional<store::Credential> load_credential(const std::string& redis_url,
                                                 const std::string& keys, std::string_view user,
                                                 std::string_view server_key) {
  return with_store(redis_url, keys, [&](store::CredentialStore& store) {
    auto loaded = store.load(user, server_key);
    if (!loaded) throw std::runtime_error("load failed");
    return *loaded;
  });
}

}  // namespace credbroker::testing
