#pragma once
// The integration stack: a test issuer (signing key + JWKS file), and lighttpd spawning the real
// handler executables from build/bin with the config from infra/lighttpd, on a free loopback
// port. Start one per suite (a global fixture), never one per test case.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/http/client.h"
#include "shared/store/credential_store.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/process.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

inline constexpr std::string_view kTestIssuer = "https://issuer.credbroker.test";
inline constexpr std::string_view kTestAudience = "credbroker-tests";
/** The audience of the gateway's service tokens for the resolve route (resolve_config_json). */
inline constexpr std::string_view kServiceAudience = "credbroker-resolve";
/** The service the resolve block of resolve_config_json admits. */
inline constexpr std::string_view kGatewaySubject = "gateway-svc";

/**
 * Signs tokens for the stacks: an ES256 and an RS256 key, whose JWKS the handlers trust for users;
 * and a third (ES256) key for services such as the gateway calling the resolve route. The service
 * JWKS holds the service key and the user ES256 key, so that a user's token presented as a caller
 * verifies and is refused for its audience, not its signature.
 */
class TestIssuer {
 public:
  TestIssuer();
  const std::string& jwks_path() const { return jwks_path_; }
  const std::string& service_jwks_path() const { return service_jwks_path_; }
  const SigningKey& key() const { return key_; }
  const SigningKey& rsa_key() const { return rsa_key_; }
  const SigningKey& service_key() const { return service_key_; }
  /** A valid token for `user`: iss, aud, exp = now + ttl. */
  std::string token(std::string_view user, std::int64_t ttl_seconds = 3600) const;
  /** Claims of a valid token, for tests that change one thing. */
  Claims claims(std::string_view user) const;
  /** A service token signed with the service key: sub, iss kTestIssuer, aud, exp = now + ttl. */
  std::string service_token(std::string_view sub = kGatewaySubject,
                            std::string_view aud = kServiceAudience,
                            std::int64_t ttl_seconds = 300) const;
  /** Claims of a valid service token (without exp), for tests that change one thing. */
  Claims service_claims(std::string_view sub = kGatewaySubject,
                        std::string_view aud = kServiceAudience) const;

 private:
  TempDir dir_;
  SigningKey key_;
  SigningKey rsa_key_;
  SigningKey service_key_;
  std::string jwks_path_;
  std::string service_jwks_path_;
};

/** The servers every stack brokers unless a test says otherwise (a JSON array). */
std::string default_servers_json();

struct StackOptions {
  std::string redis_url;
  std::string identity_header = "Authorization";
  bool sealing = true;  // CREDBROKER_KEYS set
  std::string keys;     // with sealing: this keyring spec (empty: a fresh random key)
  std::string servers_json = default_servers_json();
  // Non-empty: "servers_file" (a reference gateway config's path) instead of "servers".
  std::string servers_file;
  std::int64_t flow_ttl_seconds = 600;
  std::int64_t max_pending_flows_per_user = 16;
  // The "limits" object. Suites connect one user many times a minute, so stacks lift the per-user
  // rate limits unless a test asks for others; empty: the config's defaults (20 a minute).
  std::string limits = R"({"connects_per_minute": 10000, "code_exchanges_per_minute": 10000})";
  std::string extra_config;    // more top-level members, each starting with ','
  std::string extra_identity;  // more "identity" members, each starting with ','
  std::string jwks_url;        // non-empty: identity.jwks_url instead of the issuer's jwks_file
  std::string alb_json;        // non-empty: identity.alb (this object) and no other key source
  // Non-empty: identity.hmac_secret_env naming this variable (give its value in `env`), and no
  // issuer, audience, algorithms or key file: the reference gateway's HS256 setup.
  std::string hmac_secret_env;
  std::vector<std::pair<std::string, std::string>> env;  // more handler environment
  // The header names a front sets on proxied upstream requests (authorize route); the identity
  // header is always cleared besides.
  std::vector<std::string> proxy_headers = {"Authorization"};
  // lighttpd only: the "host:port" origins its mod_proxy may reach (it cannot choose one per
  // request).
  std::vector<std::string> proxy_origins;
  int procs = 1;
};

/** One HTTP exchange's answer; headers lower-cased. */
struct Answer {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const;
};

/**
 * A front server with the handlers behind it, serving on a free loopback port. The base class
 * owns what every front shares: the port, the keyring, the config file it writes, the log, and the
 * HTTP client the tests talk through. Subclasses start the actual server processes.
 */
class Front {
 public:
  virtual ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  /** "lighttpd", "nginx", ... */
  virtual std::string_view kind() const = 0;
  int port() const { return port_; }
  std::string url(std::string_view path) const;
  const std::string& keys() const { return keys_; }
  const StackOptions& options() const { return options_; }
  const std::string& config_path() const { return config_path_; }
  /** Everything the handlers and the front server wrote to their logs so far. */
  virtual std::string log() const;

  Answer request(std::string_view method, std::string_view path,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 std::string body = {});
  /** GET/DELETE with "Authorization: Bearer <token>". */
  Answer get(std::string_view path, std::string_view token);
  Answer del(std::string_view path, std::string_view token);

 protected:
  /** Picks the port and keyring and writes config.json into dir(). */
  Front(const TestIssuer& issuer, StackOptions options, std::string_view tag);
  const TempDir& dir() const { return dir_; }
  /** CREDBROKER_CONFIG, CREDBROKER_KEYS and options().env: what every handler process needs. */
  std::vector<std::pair<std::string, std::string>> handler_env() const;
  /** Log files (besides "front.log" in dir()) that log() concatenates. */
  std::vector<std::string> log_files_;
  /** A copy of the repository's ui/ in dir(), readable by every user (a front's workers may run
   *  as "nobody"): what CREDBROKER_UI_DIR names. */
  std::string copy_ui() const;
  /** Waits (bounded) for the port; throws with the logs if it never opens. */
  void wait_until_serving(std::string_view what) const;

 private:
  StackOptions options_;
  TempDir dir_;
  int port_ = 0;
  std::string keys_;
  std::string config_path_;
  std::unique_ptr<http::HttpClient> client_;
};

/** lighttpd (mod_fastcgi) spawning the handlers, from infra/lighttpd/credbroker.conf. */
class LighttpdFront final : public Front {
 public:
  LighttpdFront(const TestIssuer& issuer, StackOptions options);
  ~LighttpdFront() override;
  std::string_view kind() const override { return "lighttpd"; }

 private:
  std::optional<ChildProcess> lighttpd_;
};

/** The front named by the environment variable CREDBROKER_FRONT (default "lighttpd"). */
std::string front_kind();
/** Starts a front of front_kind(). Black-box suites use this so ctest can run them per front. */
std::unique_ptr<Front> start_front(const TestIssuer& issuer, StackOptions options);

/**
 * A top-level "resolve" member for StackOptions::extra_config (starts with ','): service tokens of
 * `issuer` (its service JWKS, issuer kTestIssuer, audience kServiceAudience or "<it>-alt", ES256
 * and RS256, leeway 60 s) whose sub is one of `allowed_subjects`.
 */
std::string resolve_config_json(const TestIssuer& issuer,
                                const std::vector<std::string>& allowed_subjects = {
                                    std::string(kGatewaySubject)});

/** A fresh "id:base64" keyring spec with one random 32-byte key. */
std::string random_keyring_spec(std::string_view id = "it1");

/** Writes a credential the way the handlers do (same keyring, same Redis). */
void seed_credential(const std::string& redis_url, const std::string& keys, std::string_view user,
                     std::string_view server_key, const store::Credential& credential);

/** Reads a credential back the way the handlers do; nullopt when absent or unopenable. */
std::optional<store::Credential> load_credential(const std::string& redis_url,
                                                 const std::string& keys, std::string_view user,
                                                 std::string_view server_key);

/** The server key the stack's config gives `name` (default servers). */
std::string default_server_key(std::string_view name);

}  // namespace credbroker::testing
