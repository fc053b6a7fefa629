// Parsing and validation of the config document (config.h). Reading happens in document order and
// stops at the first error; validate() at the bottom holds the rules that span several fields.
// Error texts name the field and the expected form, and quote a value only when it is a name (a
// server, an algorithm, an environment variable): never a secret, a password or a URL.

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "shared/config/config.h"
#include "shared/config/syntax.h"
#include "shared/crypto/base64.h"
#include "shared/crypto/cleanse.h"
#include "shared/http/grammar.h"
#include "shared/identity/algorithms.h"
#include "shared/util/strings.h"

namespace credbroker::config {

namespace {

using rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// Locations and the first error

bool is_plain_key(std::string_view key) {
  return is_alnum_or(key, "_-");
}

/** A JSON string literal for `s`, cut at 64 bytes so that an error stays one short line. */
std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 64;
  const bool cut = s.size() > kMax;
  if (cut) s = s.substr(0, kMax);
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += cut ? "...\"" : "\"";
  return out;
}

/** "identity" + "issuer" -> "identity.issuer"; odd keys as ["a b"]; the root is "". */
std::string child(std::string_view loc, std::string_view key) {
  if (is_plain_key(key)) {
    return loc.empty() ? std::string(key) : std::string(loc) + "." + std::string(key);
  }
  return (loc.empty() ? std::string("$") : std::string(loc)) + "[" + quoted(key) + "]";
}

std::string item(std::string_view loc, std::size_t index) {
  return std::string(loc) + "[" + std::to_string(index) + "]";
}

/** Holds the first error. Every reader returns false right after a failure, so there is one. */
class Check {
 public:
  bool fail(std::string_view where, std::string_view what) {
    error_ = std::string(where) + ": " + std::string(what);
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

std::string_view view(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// ---------------------------------------------------------------------------------------------
// Objects and scalar fields

/** One JSON object at a location. */
class Fields {
 public:
  Fields(const Value& object, std::string loc) : object_(object), loc_(std::move(loc)) {}

  const Value* get(std::string_view key) const {
    const Value name(rapidjson::StringRef(key.data(), key.size()));
    const auto it = object_.FindMember(name);
    return it == object_.MemberEnd() ? nullptr : &it->value;
  }
  std::string at(std::string_view key) const { return child(loc_, key); }
  const Value& object() const { return object_; }

 private:
  const Value& object_;
  std::string loc_;
};

/** No key twice (RapidJSON keeps both), and, when `allowed` is given, no key outside it. */
bool check_keys(const Fields& f, std::initializer_list<std::string_view> allowed, Check& c) {
  std::set<std::string_view> seen;
  for (const auto& member : f.object().GetObject()) {
    const std::string_view key = view(member.name);
    if (!seen.insert(key).second) return c.fail(f.at(key), "duplicate field");
    if (allowed.size() > 0 && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return c.fail(f.at(key), "unknown field");
    }
  }
  return true;
}

bool check_unique_keys(const Fields& f, Check& c) {
  return check_keys(f, {}, c);
}

/** A non-empty string when present; `out` keeps its default when absent. */
bool read_string(const Fields& f, std::string_view key, std::string& out, Check& c) {
  const Value* v = f.get(key);
  if (v == nullptr) return true;
  if (!v->IsString() || v->GetStringLength() == 0) {
    return c.fail(f.at(key), "must be a non-empty string");
  }
  out.assign(v->GetString(), v->GetStringLength());
  return true;
}

bool require_string(const Fields& f, std::string_view key, std::string& out, Check& c) {
  if (f.get(key) == nullptr) return c.fail(f.at(key), "required");
  return read_string(f, key, out, c);
}

bool read_int(const Fields& f, std::string_view key, std::int64_t lo, std::int64_t hi,
              std::int64_t& out, Check& c) {
  const Value* v = f.get(key);
  if (v == nullptr) return true;
  if (!v->IsInt64() || v->GetInt64() < lo || v->GetInt64() > hi) {
    return c.fail(f.at(key), "must be an integer between " + std::to_string(lo) + " and " +
                                 std::to_string(hi));
  }
  out = v->GetInt64();
  return true;
}

/** true or false when present; `out` keeps its default when absent. */
bool read_bool(const Fields& f, std::string_view key, bool& out, Check& c) {
  const Value* v = f.get(key);
  if (v == nullptr) return true;
  if (!v->IsBool()) return c.fail(f.at(key), "must be true or false");
  out = v->GetBool();
  return true;
}

/** A section that must be an object when present; nullptr when absent. */
bool section(const Fields& parent, std::string_view key, const Value*& out, Check& c) {
  out = parent.get(key);
  if (out != nullptr && !out->IsObject()) return c.fail(parent.at(key), "must be an object");
  return true;
}

// ---------------------------------------------------------------------------------------------
// URLs

constexpr std::string_view kEndpointRule =
    "must be an absolute https URL (http only for 127.0.0.1, localhost or [::1])";

/** Endpoints we send secrets or trust answers from: https, or http on loopback for development. */
bool check_endpoint(const Fields& f, std::string_view key, std::string_view value, Check& c) {
  const auto url = syntax::parse_http_url(value);
  if (!url || (!url->https && !syntax::is_loopback(url->host))) {
    return c.fail(f.at(key), kEndpointRule);
  }
  // RFC 6749 §3.1 and §3.2: endpoint URIs MUST NOT include a fragment component.
  if (url->has_fragment) return c.fail(f.at(key), "must not contain a fragment");
  return true;
}

// ---------------------------------------------------------------------------------------------
// Sections

bool read_public_base_url(const Fields& root, Config& cfg, Check& c) {
  if (!require_string(root, "public_base_url", cfg.public_base_url, c)) return false;
  const auto url = syntax::parse_http_url(cfg.public_base_url);
  if (!url) return c.fail(root.at("public_base_url"), "must be an absolute http(s) URL");
  // Redirect URIs are built from it: over plain http the authorization code and the state would
  // cross the network in the clear (RFC 6749 §3.1.2.1, RFC 9700 §2.6). Loopback is development.
  if (!url->https && !syntax::is_loopback(url->host)) {
    return c.fail(root.at("public_base_url"),
                  "must be an https URL (http only for 127.0.0.1, localhost or [::1])");
  }
  // Paths such as /connect/<name> are appended to it.
  if (url->has_query || url->has_fragment) {
    return c.fail(root.at("public_base_url"), "must not contain a query or fragment");
  }
  while (cfg.public_base_url.ends_with('/')) cfg.public_base_url.pop_back();
  return true;
}

bool read_ui_redirect(const Fields& root, Config& cfg, Check& c) {
  if (!read_string(root, "ui_redirect", cfg.ui_redirect, c)) return false;
  if (!syntax::is_relative_path(cfg.ui_redirect)) {
    return c.fail(root.at("ui_redirect"), "must be a relative path starting with \"/\"");
  }
  return true;
}

/** "RS256, RS384, ...": identity's list, for messages. */
std::string supported_algorithms() {
  std::string out;
  for (const identity::Alg alg : identity::kAlgorithms) {
    if (!out.empty()) out += ", ";
    out += identity::alg_name(alg);
  }
  return out + "; HS256 only with identity.hmac_secret_env";
}

/** Which keys a verifier block takes: public keys (identity, ALB), the shared HS256 secret
 *  (identity.hmac_secret_env), or public keys only whatever is asked (resolve's service callers).
 */
enum class KeyMode { kPublic, kHmac, kServices };

bool read_algorithms(const Fields& f, std::vector<std::string>& out, KeyMode mode, Check& c) {
  const Value* v = f.get("algorithms");
  const std::string loc = f.at("algorithms");
  // Shared-secret mode: HS256 and nothing else, so no token can pick a public-key check instead.
  const std::string hmac_only = "must be [\"HS256\"] (or absent) with hmac_secret_env";
  if (mode == KeyMode::kHmac) out = {std::string(identity::alg_name(identity::Alg::kHS256))};
  if (v == nullptr) return true;
  if (!v->IsArray() || v->Empty()) return c.fail(loc, "must be a non-empty array of strings");
  std::vector<std::string> names;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const Value& a = (*v)[i];
    if (!a.IsString()) return c.fail(item(loc, i), "must be a string");
    const std::string_view name = view(a);
    const auto alg = identity::parse_alg(name);
    if (!alg) {
      return c.fail(item(loc, i), "unsupported algorithm " + quoted(name) +
                                      " (supported: " + supported_algorithms() + ")");
    }
    if (mode == KeyMode::kHmac && !identity::is_hmac(*alg)) return c.fail(loc, hmac_only);
    if (mode == KeyMode::kPublic && identity::is_hmac(*alg)) {
      return c.fail(item(loc, i), quoted(name) + " needs identity.hmac_secret_env (the " +
                                      "reference gateway's shared secret), and then is the only " +
                                      "algorithm");
    }
    if (mode == KeyMode::kServices && identity::is_hmac(*alg)) {
      return c.fail(item(loc, i), quoted(name) + " is not accepted for resolve callers: a shared " +
                                      "secret is not a service identity (public keys only)");
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return c.fail(item(loc, i), "duplicate algorithm " + quoted(name));
    }
    names.emplace_back(name);
  }
  out = std::move(names);
  return true;
}

/** The items of a non-empty array `v` at `loc`, each a non-empty string. */
bool read_string_items(const Value& v, const std::string& loc, std::vector<std::string>& out,
                       Check& c) {
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    const Value& a = v[i];
    if (!a.IsString() || a.GetStringLength() == 0) {
      return c.fail(item(loc, i), "must be a non-empty string");
    }
    out.emplace_back(view(a));
  }
  return true;
}

bool read_audience(const Fields& f, std::vector<std::string>& out, bool required, Check& c) {
  const Value* v = f.get("audience");
  const std::string loc = f.at("audience");
  if (v == nullptr) return required ? c.fail(loc, "required") : true;
  if (v->IsString()) {
    if (v->GetStringLength() == 0) return c.fail(loc, "must be a non-empty string");
    out = {std::string(view(*v))};
    return true;
  }
  if (!v->IsArray() || v->Empty()) {
    return c.fail(loc, "must be a string or a non-empty array of strings");
  }
  return read_string_items(*v, loc, out, c);
}

/** "allowed_types": a non-empty array of media-type names (RFC 6838 §4.2 restricted names). */
bool read_allowed_types(const Fields& f, std::vector<std::string>& out, Check& c) {
  const Value* v = f.get("allowed_types");
  if (v == nullptr) return true;
  const std::string loc = f.at("allowed_types");
  if (!v->IsArray() || v->Empty()) return c.fail(loc, "must be a non-empty array of strings");
  std::vector<std::string> types;
  if (!read_string_items(*v, loc, types, c)) return false;
  for (std::size_t i = 0; i < types.size(); ++i) {
    std::string_view name = types[i];
    if (name.starts_with("application/")) name.remove_prefix(12);  // RFC 7515 §4.1.9
    if (!http::is_token(name)) {
      return c.fail(item(loc, i), "must be a media type such as \"JWT\" or \"at+jwt\"");
    }
  }
  out = std::move(types);
  return true;
}

/** The verifier fields identity and resolve share: issuer, audience, algorithms, leeway, keys. */
bool read_verifier(const Fields& f, Identity& id, KeyMode mode, Check& c) {
  // An ALB token has no "aud" (its binding is the header's signer), so there it is optional; the
  // reference gateway's HS256 tokens carry neither "iss" nor "aud": checked only when configured.
  const bool hmac = mode == KeyMode::kHmac;
  return (hmac ? read_string(f, "issuer", id.issuer, c)
               : require_string(f, "issuer", id.issuer, c)) &&
         read_audience(f, id.audiences, !id.alb.has_value() && !hmac, c) &&
         read_algorithms(f, id.algorithms, mode, c) &&
         read_int(f, "leeway_seconds", 0, 600, id.leeway_seconds, c) &&
         read_string(f, "jwks_file", id.jwks_file, c) &&
         read_string(f, "jwks_url", id.jwks_url, c) &&
         (id.jwks_url.empty() || check_endpoint(f, "jwks_url", id.jwks_url, c)) &&
         read_string(f, "public_key_pem_file", id.public_key_pem_file, c);
}

/** "identity.alb": AWS ALB mode. */
bool read_alb(const Fields& identity, std::optional<AlbIdentity>& out, Check& c) {
  const Value* v = nullptr;
  if (!section(identity, "alb", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, identity.at("alb"));
  AlbIdentity alb;
  if (!check_keys(f, {"signer_arns", "client_ids", "key_url_pattern", "key_dir"}, c)) return false;
  const Value* arns = f.get("signer_arns");
  if (arns == nullptr) return c.fail(f.at("signer_arns"), "required");
  if (!arns->IsArray() || arns->Empty()) {
    return c.fail(f.at("signer_arns"), "must be a non-empty array of load balancer ARNs");
  }
  if (!read_string_items(*arns, f.at("signer_arns"), alb.signer_arns, c)) return false;
  for (std::size_t i = 0; i < alb.signer_arns.size(); ++i) {
    if (!alb.signer_arns[i].starts_with("arn:")) {
      return c.fail(item(f.at("signer_arns"), i), "must be a load balancer ARN (\"arn:...\")");
    }
  }
  if (const Value* ids = f.get("client_ids")) {
    if (!ids->IsArray() || ids->Empty()) {
      return c.fail(f.at("client_ids"), "must be a non-empty array of strings");
    }
    if (!read_string_items(*ids, f.at("client_ids"), alb.client_ids, c)) return false;
  }
  if (!read_string(f, "key_url_pattern", alb.key_url_pattern, c) ||
      !read_string(f, "key_dir", alb.key_dir, c)) {
    return false;
  }
  if (alb.key_url_pattern.empty() == alb.key_dir.empty()) {
    return c.fail(identity.at("alb"), "exactly one of key_url_pattern, key_dir is required");
  }
  if (!alb.key_url_pattern.empty()) {
    const auto at = alb.key_url_pattern.find("{kid}");
    if (at == std::string::npos || alb.key_url_pattern.find("{kid}", at + 1) != std::string::npos) {
      return c.fail(f.at("key_url_pattern"), "must contain \"{kid}\" once");
    }
    std::string probe = alb.key_url_pattern;
    probe.replace(at, 5, "kid");
    if (!check_endpoint(f, "key_url_pattern", probe, c)) return false;
  }
  out = std::move(alb);
  return true;
}

/** The decoded key of the reference gateway's HS256 tokens (its <data_dir>/.token_key, exported
 *  as `base64 -w0`): standard base64 or base64url, at least 32 bytes. Errors name the variable,
 *  never its value. */
bool read_hmac_secret(const Fields& f, const EnvLookup& env, Identity& id, Check& c) {
  if (!read_string(f, "hmac_secret_env", id.hmac_secret_env, c)) return false;
  const std::string& var = id.hmac_secret_env;
  if (var.empty()) return true;
  const std::string loc = f.at("hmac_secret_env");
  if (!syntax::is_env_name(var)) return c.fail(loc, "must be an environment variable name");
  auto value = env(var);
  if (!value) return c.fail(loc, "environment variable " + quoted(var) + " is not set");
  const std::string_view text = trim(*value);
  auto key = crypto::base64_decode(text);
  if (!key) key = crypto::base64url_decode(text);
  const bool empty = text.empty();
  crypto::cleanse(*value);
  if (empty) return c.fail(loc, "environment variable " + quoted(var) + " is empty");
  if (!key) {
    return c.fail(loc, "environment variable " + quoted(var) + " is not base64 or base64url");
  }
  if (key->size() < identity::kMinHmacKeyBytes) {
    const std::size_t size = key->size();
    crypto::cleanse(*key);
    return c.fail(loc, "environment variable " + quoted(var) + " holds a " + std::to_string(size) +
                           "-byte key; HS256 needs at least " +
                           std::to_string(identity::kMinHmacKeyBytes) + " (RFC 7518 §3.2)");
  }
  id.hmac_secret = std::move(*key);
  return true;
}

bool read_identity(const Fields& root, const EnvLookup& env, Identity& id, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "identity", v, c)) return false;
  if (v == nullptr) return c.fail(root.at("identity"), "required");
  const Fields f(*v, root.at("identity"));
  if (!check_keys(f,
                  {"header", "issuer", "audience", "user_claim", "algorithms", "leeway_seconds",
                   "jwks_file", "jwks_url", "public_key_pem_file", "hmac_secret_env",
                   "trust_api_gateway_authorizer", "allowed_types", "max_token_lifetime_seconds",
                   "require_low_s_signatures", "alb"},
                  c) ||
      !read_alb(f, id.alb, c) || !read_hmac_secret(f, env, id, c)) {
    return false;
  }
  if (!read_string(f, "header", id.header, c)) return false;
  if (!http::is_token(id.header)) return c.fail(f.at("header"), "must be an HTTP header name");
  const KeyMode mode = id.hmac_secret_env.empty() ? KeyMode::kPublic : KeyMode::kHmac;
  return read_verifier(f, id, mode, c) && read_string(f, "user_claim", id.user_claim, c) &&
         read_bool(f, "trust_api_gateway_authorizer", id.trust_api_gateway_authorizer, c) &&
         read_allowed_types(f, id.allowed_types, c) &&
         read_int(f, "max_token_lifetime_seconds", 60, 31536000, id.max_token_lifetime_seconds,
                  c) &&
         read_bool(f, "require_low_s_signatures", id.require_low_s_signatures, c);
}

bool read_allowed_subjects(const Fields& f, std::vector<std::string>& out, Check& c) {
  const Value* v = f.get("allowed_subjects");
  const std::string loc = f.at("allowed_subjects");
  if (v == nullptr) return c.fail(loc, "required");
  if (!v->IsArray() || v->Empty()) return c.fail(loc, "must be a non-empty array of strings");
  return read_string_items(*v, loc, out, c);
}

/** "resolve": the services allowed to call the resolve route. Absent: the route answers 404. */
bool read_resolve(const Fields& root, std::optional<ResolveCallers>& out, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "resolve", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, root.at("resolve"));
  if (f.get("hmac_secret_env") != nullptr) {
    return c.fail(f.at("hmac_secret_env"),
                  "not accepted for resolve callers: a shared secret is not a service identity "
                  "(use jwks_file, jwks_url or public_key_pem_file)");
  }
  if (!check_keys(f,
                  {"issuer", "audience", "algorithms", "leeway_seconds", "jwks_file", "jwks_url",
                   "public_key_pem_file", "allowed_subjects"},
                  c)) {
    return false;
  }
  ResolveCallers callers;
  callers.verifier.header = "Authorization";
  callers.verifier.user_claim = "sub";
  if (!read_verifier(f, callers.verifier, KeyMode::kServices, c) ||
      !read_allowed_subjects(f, callers.allowed_subjects, c)) {
    return false;
  }
  out = std::move(callers);
  return true;
}

/** "authorize": the front authorizer. Absent: its route answers 404. */
bool read_authorize(const Fields& root, std::optional<Authorize>& out, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "authorize", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, root.at("authorize"));
  if (!check_keys(f, {"path_prefix"}, c)) return false;
  Authorize authorize;
  if (!read_string(f, "path_prefix", authorize.path_prefix, c)) return false;
  // The prefix is matched against the raw request path and cut off before the server name: a
  // prefix a front would rewrite (dot segments) would never match what the handler is given.
  if (!syntax::is_prefix_path(authorize.path_prefix)) {
    return c.fail(f.at("path_prefix"),
                  "must start and end with \"/\" and hold only unreserved path characters, no "
                  "empty or dot segments");
  }
  // Every front routes /api/ to the credential routes; a prefix there would take their paths.
  if (authorize.path_prefix.starts_with("/api/")) {
    return c.fail(f.at("path_prefix"), "must not be under \"/api/\"");
  }
  out = std::move(authorize);
  return true;
}

bool read_redis_tls(const Fields& redis, RedisTls& tls, Check& c) {
  const Value* v = redis.get("tls");
  if (v == nullptr) return true;
  if (!v->IsObject()) return c.fail(redis.at("tls"), "must be an object");
  const Fields f(*v, redis.at("tls"));
  if (!check_keys(f, {"ca_file", "cert_file", "key_file", "server_name"}, c) ||
      !read_string(f, "ca_file", tls.ca_file, c) ||
      !read_string(f, "cert_file", tls.cert_file, c) ||
      !read_string(f, "key_file", tls.key_file, c) ||
      !read_string(f, "server_name", tls.server_name, c)) {
    return false;
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return c.fail(f.at(tls.cert_file.empty() ? "key_file" : "cert_file"),
                  "cert_file and key_file go together");
  }
  return true;
}

bool read_redis(const Fields& root, const EnvLookup& env, Redis& redis, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "redis", v, c)) return false;
  std::string url = "redis://127.0.0.1:6379/0";
  RedisTls tls;
  bool has_tls = false;
  if (v != nullptr) {
    const Fields f(*v, root.at("redis"));
    if (!check_keys(f, {"url", "tls", "connect_timeout_ms", "command_timeout_ms", "key_prefix"},
                    c) ||
        !read_string(f, "url", url, c) || !read_redis_tls(f, tls, c) ||
        !read_int(f, "connect_timeout_ms", 1, 60000, redis.connect_timeout_ms, c) ||
        !read_int(f, "command_timeout_ms", 1, 60000, redis.command_timeout_ms, c) ||
        !read_string(f, "key_prefix", redis.key_prefix, c)) {
      return false;
    }
    has_tls = f.get("tls") != nullptr;
    // Keys are "<prefix>cred:{<user>}" and "<prefix>u:{<tag>}:..." (shared/store/user_keys.h): a
    // brace in the prefix would move the Cluster hash tag.
    const bool prefix_ok = redis.key_prefix.size() <= 64 &&
                           syntax::is_scope_token(redis.key_prefix) &&
                           redis.key_prefix.find_first_of("{}") == std::string::npos;
    if (!prefix_ok) {
      return c.fail(f.at("key_prefix"),
                    "must be at most 64 printable characters without spaces, quotes or braces");
    }
  }
  // Where the endpoint comes from the infrastructure (Lambda + ElastiCache: a stack parameter),
  // the environment names it and wins over the file.
  std::string url_loc = child(root.at("redis"), "url");
  if (auto from_env = env("CREDBROKER_REDIS_URL"); from_env && !from_env->empty()) {
    url = std::move(*from_env);
    url_loc = "CREDBROKER_REDIS_URL";
  }
  auto endpoint = parse_redis_url(url);
  if (!endpoint) return c.fail(url_loc, endpoint.error());
  redis.endpoint = std::move(*endpoint);
  if (has_tls && !redis.endpoint.tls.enabled) {
    return c.fail(child(root.at("redis"), "tls"), "needs a rediss scheme in redis.url");
  }
  tls.enabled = redis.endpoint.tls.enabled;
  redis.endpoint.tls = std::move(tls);
  if (auto from_env = env("CREDBROKER_REDIS_PASSWORD"); from_env && !from_env->empty()) {
    redis.endpoint.password = std::move(*from_env);
  }
  return true;
}

bool read_outbound(const Fields& root, Outbound& http, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "http", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, root.at("http"));
  return check_keys(f, {"connect_timeout_ms", "timeout_ms", "ca_file"}, c) &&
         read_int(f, "connect_timeout_ms", 1, 60000, http.connect_timeout_ms, c) &&
         read_int(f, "timeout_ms", 1, 300000, http.timeout_ms, c) &&
         read_string(f, "ca_file", http.ca_file, c);
}

bool read_audit(const Fields& root, Audit& audit, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "audit", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, root.at("audit"));
  if (!check_keys(f, {"redis_stream", "max_len"}, c) ||
      !read_string(f, "redis_stream", audit.redis_stream, c) ||
      !read_int(f, "max_len", 1, 1'000'000'000, audit.max_len, c)) {
    return false;
  }
  // A length without a stream would silently do nothing.
  if (audit.redis_stream.empty() && f.get("max_len") != nullptr) {
    return c.fail(f.at("max_len"), "requires audit.redis_stream");
  }
  return true;
}

bool read_limits(const Fields& root, Limits& limits, Check& c) {
  const Value* v = nullptr;
  if (!section(root, "limits", v, c)) return false;
  if (v == nullptr) return true;
  const Fields f(*v, root.at("limits"));
  return check_keys(f, {"connects_per_minute", "code_exchanges_per_minute"}, c) &&
         read_int(f, "connects_per_minute", 1, 10000, limits.connects_per_minute, c) &&
         read_int(f, "code_exchanges_per_minute", 1, 10000, limits.code_exchanges_per_minute, c);
}

// Parameters the connect route sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2).
constexpr std::array<std::string_view, 8> kReservedParams = {
    "response_type",         "client_id", "redirect_uri", "state", "code_challenge",
    "code_challenge_method", "scope",     "resource"};

bool read_authorization_params(const Fields& f, AuthBroker& b, Check& c) {
  const Value* v = nullptr;
  if (!section(f, "authorization_params", v, c)) return false;
  if (v == nullptr) return true;
  const Fields params(*v, f.at("authorization_params"));
  if (!check_unique_keys(params, c)) return false;
  for (const auto& member : v->GetObject()) {
    const std::string_view name = view(member.name);
    if (name.empty()) return c.fail(params.at(name), "must be a non-empty parameter name");
    for (std::string_view reserved : kReservedParams) {
      if (iequals(name, reserved)) return c.fail(params.at(name), "reserved parameter");
    }
    if (!member.value.IsString()) return c.fail(params.at(name), "must be a string");
    b.authorization_params.emplace_back(name, view(member.value));
  }
  return true;
}

bool read_scopes(const Fields& f, std::vector<std::string>& out, Check& c) {
  const Value* v = f.get("scopes");
  if (v == nullptr) return true;
  const std::string loc = f.at("scopes");
  if (!v->IsArray()) return c.fail(loc, "must be an array of strings");
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const Value& s = (*v)[i];
    if (!s.IsString() || !syntax::is_scope_token(view(s))) {
      return c.fail(item(loc, i), "must be a scope token: printable ASCII without spaces");
    }
    out.emplace_back(view(s));
  }
  return true;
}

bool read_client_secret(const Fields& f, const EnvLookup& env, AuthBroker& b, Check& c) {
  if (!read_string(f, "client_secret", b.client_secret, c)) return false;
  std::string var;
  if (!read_string(f, "client_secret_env", var, c)) return false;
  if (var.empty()) return true;
  if (!b.client_secret.empty()) {
    return c.fail(f.at("client_secret_env"), "cannot be combined with client_secret");
  }
  if (!syntax::is_env_name(var)) {
    return c.fail(f.at("client_secret_env"), "must be an environment variable name");
  }
  auto value = env(var);
  if (!value) {
    return c.fail(f.at("client_secret_env"), "environment variable " + quoted(var) + " is not set");
  }
  if (value->empty()) {
    return c.fail(f.at("client_secret_env"), "environment variable " + quoted(var) + " is empty");
  }
  b.client_secret = std::move(*value);
  return true;
}

bool read_mode(const Fields& f, AuthBroker& b, Check& c) {
  b.mode = BrokerMode::kOAuthConnect;
  const Value* v = f.get("mode");
  if (v == nullptr) return true;
  for (BrokerMode m :
       {BrokerMode::kOAuthConnect, BrokerMode::kTokenExchange, BrokerMode::kEntraObo}) {
    if (v->IsString() && view(*v) == mode_name(m)) {
      b.mode = m;
      return true;
    }
  }
  return c.fail(f.at("mode"),
                "must be one of \"oauth_connect\", \"token_exchange\", \"entra_obo\"");
}

bool read_auth_method(const Fields& f, AuthBroker& b, Check& c) {
  const Value* v = f.get("token_endpoint_auth_method");
  if (v == nullptr) {
    // As the reference gateway documents: no client secret means a public client (RFC 6749
    // §2.1), which authenticates with PKCE alone; a secret means client_secret_post.
    b.token_endpoint_auth_method =
        b.client_secret.empty() ? ClientAuthMethod::kNone : ClientAuthMethod::kClientSecretPost;
    return true;
  }
  const std::string_view s = v->IsString() ? view(*v) : std::string_view();
  if (s == "client_secret_post") {
    b.token_endpoint_auth_method = ClientAuthMethod::kClientSecretPost;
  } else if (s == "client_secret_basic") {
    b.token_endpoint_auth_method = ClientAuthMethod::kClientSecretBasic;
  } else if (s == "none") {
    b.token_endpoint_auth_method = ClientAuthMethod::kNone;
  } else {
    return c.fail(f.at("token_endpoint_auth_method"),
                  "must be one of \"client_secret_post\", \"client_secret_basic\", \"none\"");
  }
  return true;
}

/** "header" and "header_format": how a resolved credential is presented to the upstream. */
bool read_presentation(const Fields& f, AuthBroker& b, Check& c) {
  if (!read_string(f, "header", b.header, c)) return false;
  if (!http::is_token(b.header)) return c.fail(f.at("header"), "must be an HTTP header name");
  if (!read_string(f, "header_format", b.header_format, c)) return false;
  if (b.header_format.find("{token}") == std::string::npos) {
    return c.fail(f.at("header_format"), "must contain \"{token}\"");
  }
  // RFC 9110 §5.5: a field value is visible characters, spaces and tabs; nothing may end the line.
  for (unsigned char ch : b.header_format) {
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
      return c.fail(f.at("header_format"), "must not contain control characters");
    }
  }
  return true;
}

bool read_broker(const Value& v, const std::string& loc, const EnvLookup& env, AuthBroker& b,
                 Check& c) {
  const Fields f(v, loc);
  if (!check_keys(f,
                  {"mode", "authorization_endpoint", "token_endpoint", "client_id", "client_secret",
                   "client_secret_env", "token_endpoint_auth_method", "scopes", "resource",
                   "issuer", "authorization_params", "audience", "header", "header_format",
                   "refresh_window_seconds", "revocation_endpoint"},
                  c)) {
    return false;
  }
  return read_mode(f, b, c) &&
         read_string(f, "authorization_endpoint", b.authorization_endpoint, c) &&
         (b.authorization_endpoint.empty() ||
          check_endpoint(f, "authorization_endpoint", b.authorization_endpoint, c)) &&
         read_string(f, "token_endpoint", b.token_endpoint, c) &&
         (b.token_endpoint.empty() || check_endpoint(f, "token_endpoint", b.token_endpoint, c)) &&
         read_string(f, "revocation_endpoint", b.revocation_endpoint, c) &&
         (b.revocation_endpoint.empty() ||
          check_endpoint(f, "revocation_endpoint", b.revocation_endpoint, c)) &&
         require_string(f, "client_id", b.client_id, c) && read_client_secret(f, env, b, c) &&
         read_auth_method(f, b, c) && read_scopes(f, b.scopes, c) &&
         read_string(f, "resource", b.resource, c) &&
         (b.resource.empty() || syntax::is_resource_uri(b.resource) ||
          c.fail(f.at("resource"), "must be an absolute URI without a fragment")) &&
         read_string(f, "issuer", b.issuer, c) &&
         (b.issuer.empty() || check_endpoint(f, "issuer", b.issuer, c)) &&
         read_authorization_params(f, b, c) && read_string(f, "audience", b.audience, c) &&
         read_presentation(f, b, c) &&
         read_int(f, "refresh_window_seconds", 0, 86400, b.refresh_window_seconds, c);
}

/** `key_name`: the key in the object form ("mcpServers": {"github": {...}}), else nullopt. */
/** Whose server object it is: ours (every key known), or the reference gateway's (servers_file),
 *  whose other fields (protocol, command, enabled, shared, ...) are not ours to judge. */
enum class ServerDialect { kOwn, kReference };

bool read_server(const Value& v, const std::string& loc, std::optional<std::string_view> key_name,
                 const EnvLookup& env, Server& s, Check& c,
                 ServerDialect dialect = ServerDialect::kOwn) {
  if (!v.IsObject()) return c.fail(loc, "must be an object");
  const Fields f(v, loc);
  if (dialect == ServerDialect::kOwn && !check_keys(f, {"name", "url", "auth_broker"}, c)) {
    return false;
  }
  if (key_name) {
    s.name = std::string(*key_name);
    const Value* name = f.get("name");
    if (name != nullptr && !(name->IsString() && view(*name) == *key_name)) {
      return c.fail(f.at("name"), "must equal the key " + quoted(*key_name));
    }
  } else if (!require_string(f, "name", s.name, c)) {
    return false;
  }
  if (!syntax::is_server_name(s.name)) {
    return c.fail(
        f.at("name"),
        "must be 1 to 128 characters without control characters, not \".\" or \"..\", and not end "
        "in \"/connect\" or \"/callback\"");
  }
  if (!require_string(f, "url", s.url, c)) return false;
  if (!syntax::parse_http_url(s.url)) return c.fail(f.at("url"), "must be an absolute http(s) URL");
  const Value* broker = nullptr;
  if (!section(f, "auth_broker", broker, c)) return false;
  if (broker != nullptr) {
    s.auth_broker.emplace();
    if (!read_broker(*broker, f.at("auth_broker"), env, *s.auth_broker, c)) return false;
  }
  s.key = server_key(s.name, s.url);
  return true;
}

/** "servers" (or its alias "mcpServers"): an array, or an object keyed by server name. */
bool read_servers(const Fields& root, const EnvLookup& env, std::vector<Server>& out,
                  std::vector<std::string>& locs, Check& c) {
  const Value* servers = root.get("servers");
  const Value* alias = root.get("mcpServers");
  if (servers != nullptr && alias != nullptr) {
    return c.fail(root.at("mcpServers"), "cannot be combined with \"servers\"");
  }
  const std::string_view key = servers != nullptr ? "servers" : "mcpServers";
  const Value* list = servers != nullptr ? servers : alias;
  if (list == nullptr) return true;
  const std::string loc = root.at(key);
  if (list->IsArray()) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      locs.push_back(item(loc, i));
      if (!read_server((*list)[i], locs.back(), std::nullopt, env, out.emplace_back(), c)) {
        return false;
      }
    }
    return true;
  }
  if (!list->IsObject()) return c.fail(loc, "must be an array or an object");
  const Fields by_name(*list, loc);
  if (!check_unique_keys(by_name, c)) return false;
  for (const auto& member : list->GetObject()) {
    const std::string_view name = view(member.name);
    locs.push_back(by_name.at(name));
    if (!read_server(member.value, locs.back(), name, env, out.emplace_back(), c)) return false;
  }
  return true;
}

/** The string at `key`, or empty when absent or not a string. */
std::string text_at(const Fields& f, std::string_view key) {
  const Value* v = f.get(key);
  return v != nullptr && v->IsString() ? std::string(view(*v)) : std::string();
}

/**
 * The reference gateway's rule (its config's serverIsHTTPFamily): protocol http, sse or
 * streamable-http; or no protocol (or "auto") with a url and no command.
 */
bool http_family(const Fields& f) {
  const std::string protocol = text_at(f, "protocol");
  if (protocol == "http" || protocol == "sse" || protocol == "streamable-http") return true;
  if (!protocol.empty() && protocol != "auto") return false;
  return !text_at(f, "url").empty() && text_at(f, "command").empty();
}

/** One server of a reference config's mcpServers: read when HTTP-family, else skipped. */
bool read_reference_server(const Value& v, const std::string& loc,
                           std::optional<std::string_view> key_name, const EnvLookup& env,
                           std::vector<Server>& out, std::vector<std::string>& locs, Check& c) {
  if (!v.IsObject()) return c.fail(loc, "must be an object");
  const Fields f(v, loc);
  if (!http_family(f)) {
    const Value* broker = f.get("auth_broker");
    if (broker != nullptr && !broker->IsNull()) {
      // Not HTTP-family: a named protocol other than the three, else (none, "auto" or "stdio")
      // a command and no url, which the reference runs as a stdio server.
      const std::string protocol = text_at(f, "protocol");
      const std::string kind = protocol.empty() || protocol == "auto" || protocol == "stdio"
                                   ? std::string("stdio")
                                   : "of protocol " + quoted(protocol);
      return c.fail(f.at("auth_broker"),
                    "brokering is only for HTTP-family servers (protocol http, sse or "
                    "streamable-http, or a url and no command); this one is " +
                        kind);
    }
    return true;  // not brokered and not HTTP: nothing credbroker serves
  }
  locs.push_back(loc);
  return read_server(v, loc, key_name, env, out.emplace_back(), c, ServerDialect::kReference);
}

/**
 * "servers_file": the absolute path of a reference gateway config whose "mcpServers" (an array,
 * or an object keyed by name) are read; every other key of that file is the gateway's own.
 */
bool read_servers_file(const Fields& root, const EnvLookup& env, const FileLookup& files,
                       std::vector<Server>& out, std::vector<std::string>& locs, Check& c) {
  std::string path;
  if (!read_string(root, "servers_file", path, c)) return false;
  if (path.empty()) return true;
  for (std::string_view key : {"servers", "mcpServers"}) {
    if (root.get(key) != nullptr) {
      return c.fail(root.at(key), "cannot be combined with \"servers_file\"");
    }
  }
  if (path.front() != '/') return c.fail(root.at("servers_file"), "must be an absolute path");
  auto text = files(path);
  if (!text) return c.fail(root.at("servers_file"), "cannot read: " + text.error());
  // The file holds client secrets: whatever happens below, its text does not outlive this call.
  struct Cleanse {
    std::string& s;
    ~Cleanse() { crypto::cleanse(s); }
  } cleanse_text{text.value()};
  const std::string& json = text.value();
  const std::string loc = "servers_file";
  if (json.find('\0') != std::string::npos) return c.fail(loc, "invalid JSON: NUL byte");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                    json.size());
  if (doc.HasParseError()) {
    return c.fail(loc, "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                           rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return c.fail(loc, "must be a JSON object");
  const Fields file(doc, loc);
  const Value* list = file.get("mcpServers");
  if (list == nullptr) return c.fail(loc, "has no \"mcpServers\"");
  const std::string list_loc = file.at("mcpServers");
  if (list->IsArray()) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      if (!read_reference_server((*list)[i], item(list_loc, i), std::nullopt, env, out, locs, c)) {
        return false;
      }
    }
    return true;
  }
  if (!list->IsObject()) return c.fail(list_loc, "must be an array or an object");
  const Fields by_name(*list, list_loc);
  if (!check_unique_keys(by_name, c)) return false;
  for (const auto& member : list->GetObject()) {
    const std::string_view name = view(member.name);
    if (!read_reference_server(member.value, by_name.at(name), name, env, out, locs, c)) {
      return false;
    }
  }
  return true;
}

bool read_config(const Value& doc, const EnvLookup& env, const FileLookup& files, Config& cfg,
                 std::vector<std::string>& server_locs, Check& c) {
  const Fields root(doc, "");
  return check_keys(root,
                    {"public_base_url", "ui_redirect", "identity", "resolve", "authorize", "redis",
                     "http", "flow_ttl_seconds", "max_pending_flows_per_user", "servers",
                     "mcpServers", "servers_file", "audit", "limits"},
                    c) &&
         read_public_base_url(root, cfg, c) && read_ui_redirect(root, cfg, c) &&
         read_identity(root, env, cfg.identity, c) && read_resolve(root, cfg.resolve, c) &&
         read_authorize(root, cfg.authorize, c) && read_redis(root, env, cfg.redis, c) &&
         read_outbound(root, cfg.http, c) && read_audit(root, cfg.audit, c) &&
         read_limits(root, cfg.limits, c) &&
         read_int(root, "flow_ttl_seconds", 30, 86400, cfg.flow_ttl_seconds, c) &&
         read_int(root, "max_pending_flows_per_user", 1, 1000, cfg.max_pending_flows_per_user, c) &&
         read_servers(root, env, cfg.servers, server_locs, c) &&
         read_servers_file(root, env, files, cfg.servers, server_locs, c);
}

// ---------------------------------------------------------------------------------------------
// Rules across fields

bool validate_broker(const AuthBroker& b, const std::string& loc, Check& c) {
  const std::string mode = quoted(mode_name(b.mode));
  if (b.mode == BrokerMode::kOAuthConnect && b.authorization_endpoint.empty()) {
    return c.fail(child(loc, "authorization_endpoint"), "required for mode " + mode);
  }
  if (b.token_endpoint.empty()) {
    return c.fail(child(loc, "token_endpoint"), "required for mode " + mode);
  }
  // Microsoft identity platform OBO: "scope" is required on the request.
  if (b.mode == BrokerMode::kEntraObo && b.scopes.empty()) {
    return c.fail(child(loc, "scopes"), "required for mode " + mode);
  }
  // The on-behalf-of flow is for confidential clients only (Microsoft identity platform).
  if (b.mode == BrokerMode::kEntraObo && b.client_secret.empty()) {
    return c.fail(child(loc, "client_secret"), "required for mode " + mode);
  }
  switch (b.token_endpoint_auth_method) {
    case ClientAuthMethod::kClientSecretPost:
      if (b.client_secret.empty()) {
        return c.fail(child(loc, "client_secret"),
                      "required for token_endpoint_auth_method \"client_secret_post\"");
      }
      break;
    case ClientAuthMethod::kClientSecretBasic:
      if (b.client_secret.empty()) {
        return c.fail(child(loc, "client_secret"),
                      "required for token_endpoint_auth_method \"client_secret_basic\"");
      }
      break;
    case ClientAuthMethod::kNone:
      // A public client (RFC 6749 §2.1) has no secret; one configured here would never be sent.
      if (!b.client_secret.empty()) {
        return c.fail(child(loc, "client_secret"),
                      "must not be set for token_endpoint_auth_method \"none\"");
      }
      break;
  }
  return true;
}

bool one_key_source(const Identity& id, std::string_view loc, Check& c) {
  const int sources = static_cast<int>(!id.jwks_file.empty()) +
                      static_cast<int>(!id.jwks_url.empty()) +
                      static_cast<int>(!id.public_key_pem_file.empty());
  if (sources != 1) {
    return c.fail(loc, "exactly one of jwks_file, jwks_url, public_key_pem_file is required");
  }
  return true;
}

bool validate(const Config& cfg, const std::vector<std::string>& server_locs, Check& c) {
  if (!cfg.identity.hmac_secret_env.empty()) {
    // The shared secret is the only key: a public key beside it would let a token choose which
    // check it gets (RFC 8725 §2.1).
    if (cfg.identity.alb || !cfg.identity.jwks_file.empty() || !cfg.identity.jwks_url.empty() ||
        !cfg.identity.public_key_pem_file.empty()) {
      return c.fail("identity.hmac_secret_env",
                    "cannot be combined with jwks_file, jwks_url, public_key_pem_file or alb");
    }
    // API Gateway's JWT authorizer verifies public keys only; its claims would skip our check.
    if (cfg.identity.trust_api_gateway_authorizer) {
      return c.fail("identity.hmac_secret_env",
                    "cannot be combined with trust_api_gateway_authorizer");
    }
  } else if (cfg.identity.alb) {
    // ALB keys come only from the ALB's key endpoint: no other issuer's key may sign in ALB mode.
    if (!cfg.identity.jwks_file.empty() || !cfg.identity.jwks_url.empty() ||
        !cfg.identity.public_key_pem_file.empty()) {
      return c.fail("identity.alb",
                    "cannot be combined with jwks_file, jwks_url or public_key_pem_file");
    }
  } else if (!one_key_source(cfg.identity, "identity", c)) {
    return false;
  }
  if (cfg.resolve && !one_key_source(cfg.resolve->verifier, "resolve", c)) return false;
  if (cfg.http.connect_timeout_ms > cfg.http.timeout_ms) {
    return c.fail("http.connect_timeout_ms", "must not exceed http.timeout_ms");
  }
  std::map<std::string, std::size_t> seen;  // lower-cased name -> index
  for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
    const Server& s = cfg.servers[i];
    if (!seen.emplace(to_lower(s.name), i).second) {
      return c.fail(child(server_locs[i], "name"), "duplicate server name " + quoted(s.name));
    }
    if (s.auth_broker &&
        !validate_broker(*s.auth_broker, child(server_locs[i], "auth_broker"), c)) {
      return false;
    }
    // The authorizer answers "<url><rest of the path>": a query or fragment in url would swallow
    // the path the client asked for.
    if (cfg.authorize && s.auth_broker) {
      const auto url = syntax::parse_http_url(s.url);
      if (url->has_query || url->has_fragment) {
        return c.fail(child(server_locs[i], "url"),
                      "must not contain a query or fragment when \"authorize\" is configured");
      }
    }
  }
  return true;
}

}  // namespace

Result<Config, std::string> parse(std::string_view json, const EnvLookup& env,
                                  const FileLookup& files) {
  // RapidJSON's memory stream reads a NUL as the end of the text and would ignore what follows.
  if (const auto nul = json.find('\0'); nul != std::string_view::npos) {
    return Err("config: invalid JSON at offset " + std::to_string(nul) + ": NUL byte");
  }
  rapidjson::Document doc;
  // Iterative: deep nesting cannot overflow the stack. Strings must be valid UTF-8.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                    json.size());
  if (doc.HasParseError()) {
    return Err("config: invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
               rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Err(std::string("config: must be a JSON object"));

  Config cfg;
  Check check;
  std::vector<std::string> server_locs;
  if (!read_config(doc, env, files, cfg, server_locs, check) ||
      !validate(cfg, server_locs, check)) {
    return Err(check.error());
  }
  return cfg;
}

}  // namespace credbroker::config
