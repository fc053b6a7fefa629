#pragma once
// The configuration: one JSON file (CREDBROKER_CONFIG), parsed once at start into immutable
// structs. Field errors name the key ("servers[2].auth_broker.token_endpoint: required for mode
// \"oauth_connect\""); cross-field rules live in validate() in parse.cc.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/config/redis_url.h"
#include "shared/util/result.h"

namespace credbroker::config {

enum class BrokerMode { kOAuthConnect, kTokenExchange, kEntraObo };
std::string_view mode_name(BrokerMode m);  // "oauth_connect", ...

enum class ClientAuthMethod { kClientSecretPost, kClientSecretBasic, kNone };

struct AuthBroker {
  BrokerMode mode;
  std::string authorization_endpoint;  // required for oauth_connect
  std::string token_endpoint;          // required for every mode
  std::string client_id;               // required for every mode
  std::string client_secret;           // from client_secret or the env var client_secret_env
  ClientAuthMethod token_endpoint_auth_method = ClientAuthMethod::kClientSecretPost;
  std::vector<std::string> scopes;
  std::string resource;  // RFC 8707 resource indicator, also the credential's "audience"
  std::string issuer;    // RFC 9207: expected "iss" on the callback, when set
  std::vector<std::pair<std::string, std::string>> authorization_params;  // static extras
  std::string audience;  // RFC 8693 §2.1 "audience" of a token exchange, when set
  // RFC 7009: where a disconnect revokes the stored tokens; empty means nothing is revoked.
  std::string revocation_endpoint;
  // The header a resolved credential is presented in (the reference gateway's auth_broker.header
  // and header_format); "{token}" in the format stands for the access token.
  std::string header = "Authorization";
  std::string header_format = "Bearer {token}";
  // A credential this close to its expiry is refreshed (oauth_connect) or exchanged again before
  // it is handed out; shortened to half the credential's lifetime for short-lived tokens.
  std::int64_t refresh_window_seconds = 60;
};

struct Server {
  std::string name;
  std::string url;
  std::optional<AuthBroker> auth_broker;  // absent: not brokered, never listed
  std::string key;  // "<name>_<first 16 hex of sha256("<name>|<url>")>", computed at parse
};

/** AWS ALB mode (identity.alb): tokens from an ALB's x-amzn-oidc-data, bound to our ALB. */
struct AlbIdentity {
  std::vector<std::string> signer_arns;  // required: header "signer" must equal one exactly
  std::vector<std::string> client_ids;   // optional: header "client" must equal one
  // Exactly one: a URL with "{kid}" (AWS: https://public-keys.auth.elb.<region>.amazonaws.com/
  // {kid}), or a directory holding "<kid>.pem" files.
  std::string key_url_pattern;
  std::string key_dir;
};

struct Identity {
  std::string header = "Authorization";  // Bearer scheme; any other header carries the raw JWT
  std::string issuer;
  std::vector<std::string> audiences;
  std::string user_claim = "sub";
  std::vector<std::string> algorithms = {"RS256", "ES256"};
  std::int64_t leeway_seconds = 60;
  // Take the user from the claims API Gateway's JWT authorizer already verified (Lambda only);
  // safe only when every route that reaches the functions has that authorizer
  // (docs/deploy/lambda.md).
  bool trust_api_gateway_authorizer = false;
  // Header "typ" values accepted (absent is always accepted): RFC 8725 §3.11 explicit typing.
  std::vector<std::string> allowed_types = {"JWT", "at+jwt"};
  // exp - iat (exp - now without iat) beyond this is refused (RFC 8725 §3.10: short-lived).
  std::int64_t max_token_lifetime_seconds = 24 * 3600;
  // Refuse ECDSA signatures in high-S form (S > n/2): only for an issuer known to sign low-S,
  // since most signers do not normalise S (docs/security.md, "ECDSA low-S").
  bool require_low_s_signatures = false;
  // ALB mode: "aud" not required, padding allowed, header signer/client/exp checked, keys by kid
  // from alb's URL pattern or directory (then none of the three key sources below).
  std::optional<AlbIdentity> alb;
  // Exactly one key source:
  std::string jwks_file;
  std::string jwks_url;
  std::string public_key_pem_file;
  // Or the shared-secret mode (identity only, never resolve): the NAME of the environment variable
  // holding the reference gateway's HS256 key in base64 or base64url. Then HS256 is the only
  // algorithm, no other key source is allowed, and issuer and audience are optional.
  std::string hmac_secret_env;
  std::string hmac_secret;  // the decoded key bytes (>= 32) from that variable
};

/**
 * Who may call the resolve route: services (a gateway) with their own JWT in "Authorization:
 * Bearer", verified like end-user identity but against this block, and whose "sub" is listed.
 */
struct ResolveCallers {
  Identity verifier;  // header "Authorization", user_claim "sub"; issuer, audiences, algorithms,
                      // leeway and exactly one key source from the "resolve" block
  std::vector<std::string> allowed_subjects;  // non-empty
};

/**
 * The front authorizer (credbroker-authorize): a front server asks it, for a request to
 * "<path_prefix><server>/<rest>", whether the signed-in user may go through to that upstream and
 * with which header.
 */
struct Authorize {
  std::string path_prefix = "/upstream/";  // starts and ends with "/", no dot segments
};

struct Redis {
  // Parsed from "url" (CREDBROKER_REDIS_URL overrides it; redis_url.h lists the schemes), its
  // password replaced by CREDBROKER_REDIS_PASSWORD when set, TLS files from "tls".
  RedisEndpoint endpoint = {.hosts = {{"127.0.0.1", 6379}}};
  std::int64_t connect_timeout_ms = 500;
  std::int64_t command_timeout_ms = 500;
  std::string key_prefix = "credbroker:";
};

struct Outbound {
  std::int64_t connect_timeout_ms = 2000;
  std::int64_t timeout_ms = 5000;
  std::string ca_file;
};

/** Audit events (audit/events.h): always logged; also appended to a Redis stream when named. */
struct Audit {
  std::string redis_stream;       // the stream's key, as it is (no key_prefix); empty: log only
  std::int64_t max_len = 100000;  // XADD … MAXLEN ~ max_len
};

/** Per-user rate limits (store/rate_limiter.h), each per one-minute window. They protect the
 *  organisation's OAuth clients: every connect and code exchange can reach a token endpoint with
 *  the client's own authentication, which an upstream may throttle for everyone. */
struct Limits {
  std::int64_t connects_per_minute = 20;
  std::int64_t code_exchanges_per_minute = 20;
};

struct Config {
  std::string public_base_url;  // absolute http(s) URL, no trailing slash after parse
  std::string ui_redirect = "/ui/";
  Identity identity;
  Redis redis;
  Outbound http;
  std::int64_t flow_ttl_seconds = 600;
  std::int64_t max_pending_flows_per_user = 16;
  std::optional<ResolveCallers> resolve;  // absent: the resolve route answers 404
  std::optional<Authorize> authorize;     // absent: the authorize route answers 404
  Audit audit;
  Limits limits;
  std::vector<Server> servers;  // in file order; brokered() gives the sorted brokered subset

  /** Brokered servers sorted by name. */
  std::vector<const Server*> brokered() const;
  /** The brokered server whose name matches case-insensitively, or nullptr. */
  const Server* find_brokered(std::string_view name) const;
};

/** Reads an environment variable; injected so tests do not touch the process environment. */
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_env();

/** Reads a whole file (servers_file); injected so tests need no files. The error is a reason
 *  such as "No such file or directory", never the content. */
using FileLookup = std::function<Result<std::string, std::string>(const std::string& path)>;
FileLookup process_files();

/** Parses and validates a config document. The error is one line naming the field. */
Result<Config, std::string> parse(std::string_view json, const EnvLookup& env,
                                  const FileLookup& files);
/** parse() reading servers_file from the file system. */
Result<Config, std::string> parse(std::string_view json, const EnvLookup& env);
/** Reads `path` and parses it; errors start with the path. */
Result<Config, std::string> load_file(const std::string& path, const EnvLookup& env);

/** Computes a server key (docs/architecture.md "Data in Redis"). */
std::string server_key(std::string_view name, std::string_view url);

}  // namespace credbroker::config
