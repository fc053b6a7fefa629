#include "shared/identity/authenticator.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

#include "shared/crypto/hash.h"
#include "shared/identity/gateway_claims.h"
#include "shared/util/strings.h"

namespace credbroker::identity {

namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
// Even without an unknown kid, a JWKS is re-fetched this often so a key the issuer withdrew
// stops verifying within the hour.
constexpr std::int64_t kMaxJwksAgeSeconds = 3600;
constexpr std::int64_t kMaxLeewaySeconds = 253402300799;  // same bound as jwt.cc's NumericDate

class StaticKeySource final : public KeySource {
 public:
  explicit StaticKeySource(KeySet keys) : keys_(std::move(keys)) {}
  Result<const KeySet*, std::string> keys(std::int64_t) override { return &keys_; }
  bool refresh(std::int64_t) override { return false; }

 private:
  KeySet keys_;
};

class JwksUrlSource final : public KeySource {
 public:
  JwksUrlSource(std::string url, http::HttpClient& client, std::int64_t min_refresh_seconds)
      : url_(std::move(url)), client_(client), min_refresh_(min_refresh_seconds) {}

  Result<const KeySet*, std::string> keys(std::int64_t now) override {
    const bool stale = !current_ || now - loaded_at_ >= kMaxJwksAgeSeconds;
    if (stale && may_fetch(now)) fetch(now);
    if (!current_) return Err("JWKS " + url_ + ": " + last_error_);
    return &*current_;
  }

  bool refresh(std::int64_t now) override { return may_fetch(now) && fetch(now); }

 private:
  bool may_fetch(std::int64_t now) const {
    return !last_attempt_ || now - *last_attempt_ >= min_refresh_ || now < *last_attempt_;
  }

  // On failure the keys we had stay in use: an issuer's outage must not log everyone out.
  bool fetch(std::int64_t now) {
    last_attempt_ = now;
    http::OutboundRequest request;
    request.url = url_;
    request.headers.emplace_back("Accept", "application/json");
    auto response = client_.send(request);
    if (!response) {
      last_error_ = "fetch failed: " + std::string(http::describe(response.error()));
      return false;
    }
    if (response->status != 200) {
      last_error_ = "HTTP status " + std::to_string(response->status);
      return false;
    }
    auto parsed = parse_jwks(response->body);
    if (!parsed) {
      last_error_ = parsed.error();
      return false;
    }
    current_ = std::move(parsed.value());
    loaded_at_ = now;
    return true;
  }

  const std::string url_;
  http::HttpClient& client_;
  const std::int64_t min_refresh_;
  std::optional<KeySet> current_;
  std::int64_t loaded_at_ = 0;
  std::optional<std::int64_t> last_attempt_;
  std::string last_error_ = "not loaded";
};

Result<std::string, std::string> read_small_file(const std::string& path);

// ALB kids are UUIDs; anything but [A-Za-z0-9_-] could walk a URL or a path (RFC 3986 §3.3).
bool safe_kid(std::string_view kid) {
  return kid.size() <= 128 && is_alnum_or(kid, "-_");
}

class AlbKeySource final : public KeySource {
 public:
  AlbKeySource(config::AlbIdentity alb, http::HttpClient& client)
      : alb_(std::move(alb)), client_(client) {}

  Result<const KeySet*, std::string> keys(std::int64_t) override { return &keys_; }
  bool refresh(std::int64_t) override { return false; }

  Result<bool, std::string> fetch_kid(std::string_view kid, std::int64_t now) override {
    if (!safe_kid(kid)) return false;
    for (const auto& k : keys_.keys) {
      if (k.kid == kid) return false;  // held already: the token's trouble is elsewhere
    }
    // An unknown kid is asked for at most once a minute, so junk kids cannot drive fetches.
    if (attempts_.size() >= kMaxAttempts) attempts_.clear();
    const auto [at, fresh] = attempts_.emplace(std::string(kid), now);
    if (!fresh && now - at->second < kRetrySeconds && now >= at->second) return false;
    at->second = now;
    auto pem = load(std::string(kid));
    if (!pem) return Err(std::move(pem.error()));
    if (!*pem) return false;
    auto parsed = parse_pem_public_key(**pem);
    if (!parsed) return Err("ALB key " + std::string(kid) + ": " + parsed.error());
    PublicKey key = std::move(parsed->keys.front());
    key.kid = std::string(kid);
    if (keys_.keys.size() >= kMaxKeys) keys_.keys.erase(keys_.keys.begin());
    keys_.keys.push_back(std::move(key));
    return true;
  }

 private:
  static constexpr std::size_t kMaxKeys = 64;
  static constexpr std::size_t kMaxAttempts = 1024;
  static constexpr std::int64_t kRetrySeconds = 60;

  /** The PEM text, nullopt when there is no such key (404, no file), or an error. */
  Result<std::optional<std::string>, std::string> load(const std::string& kid) {
    if (!alb_.key_dir.empty()) {
      auto content = read_small_file(alb_.key_dir + "/" + kid + ".pem");
      if (!content) return std::optional<std::string>();
      return std::optional<std::string>(std::move(content.value()));
    }
    http::OutboundRequest request;
    request.url = alb_.key_url_pattern;
    request.url.replace(request.url.find("{kid}"), 5, kid);
    auto response = client_.send(request);
    if (!response) {
      return Err("ALB key fetch failed: " + std::string(http::describe(response.error())));
    }
    if (response->status == 404 || response->status == 403) return std::optional<std::string>();
    if (response->status != 200) {
      return Err("ALB key fetch: HTTP status " + std::to_string(response->status));
    }
    return std::optional<std::string>(std::move(response->body));
  }

  const config::AlbIdentity alb_;
  http::HttpClient& client_;
  KeySet keys_;
  std::map<std::string, std::int64_t> attempts_;  // kid → last fetch attempt
};

Result<std::string, std::string> read_small_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Err(std::string(std::strerror(errno)));
  std::string content;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    content.append(buf, n);
    if (content.size() > (std::size_t{2} << 20)) return Err(std::string("file too large"));
  }
  if (std::ferror(f.get())) return Err(std::string(std::strerror(errno)));
  return content;
}

Result<std::unique_ptr<KeySource>, std::string> file_source(
    std::string_view section, std::string_view field, const std::string& path,
    Result<KeySet, std::string> (*parse)(std::string_view)) {
  const std::string where = std::string(section) + "." + std::string(field) + ": ";
  auto content = read_small_file(path);
  if (!content) return Err(where + "cannot read \"" + path + "\": " + content.error());
  auto keys = parse(*content);
  if (!keys) return Err(where + keys.error());
  return make_static_key_source(std::move(keys.value()));
}

}  // namespace

/*
 * A repeated identity header is refused, not resolved: whichever copy a reader picks, the client
 * may have supplied the other. Fronts deliver repetition either as separate fields (nginx 1.22
 * passes each as its own FastCGI param; a Lambda payload 1.0 "multiValueHeaders" list) or joined
 * with ',' (RFC 9110 §5.3: lighttpd, Apache, API Gateway payload 2.0 "headers"). A JWT is
 * base64url and dots and the Bearer scheme adds a space, so a ',' can only be a join.
 */
Result<std::string_view, AuthErrorKind> extract_token(const http::Request& request,
                                                      std::string_view header) {
  std::size_t copies = 0;
  for (const auto& [name, ignored] : request.headers) copies += iequals(name, header) ? 1 : 0;
  if (copies > 1) return Err(AuthErrorKind::kDuplicate);
  const auto value = request.header(header);
  if (!value) {
    return Err(request.identity_header_too_large ? AuthErrorKind::kTooLarge
                                                 : AuthErrorKind::kMissing);
  }
  if (value->find(',') != std::string_view::npos) return Err(AuthErrorKind::kDuplicate);
  if (value->size() > kMaxHeaderBytes) return Err(AuthErrorKind::kTooLarge);
  std::string_view token = trim(*value);
  if (iequals(header, "Authorization")) {
    constexpr std::string_view kScheme = "bearer";
    if (token.size() <= kScheme.size() || !iequals(token.substr(0, kScheme.size()), kScheme) ||
        token[kScheme.size()] != ' ') {
      return Err(AuthErrorKind::kMissing);
    }
    token.remove_prefix(kScheme.size());
    token.remove_prefix(std::min(token.find_first_not_of(' '), token.size()));
  }
  if (token.empty()) return Err(AuthErrorKind::kMissing);
  return token;
}

std::unique_ptr<KeySource> make_static_key_source(KeySet keys) {
  return std::make_unique<StaticKeySource>(std::move(keys));
}

std::unique_ptr<KeySource> make_jwks_url_source(std::string url, http::HttpClient& client,
                                                std::int64_t min_refresh_seconds) {
  return std::make_unique<JwksUrlSource>(std::move(url), client, min_refresh_seconds);
}

std::unique_ptr<KeySource> make_alb_key_source(const config::AlbIdentity& alb,
                                               http::HttpClient& client) {
  return std::make_unique<AlbKeySource>(alb, client);
}

Result<std::unique_ptr<KeySource>, std::string> make_key_source(const config::Identity& identity,
                                                                http::HttpClient& client,
                                                                std::string_view section) {
  if (identity.alb) return make_alb_key_source(*identity.alb, client);
  const int sources = !identity.jwks_file.empty() + !identity.jwks_url.empty() +
                      !identity.public_key_pem_file.empty();
  if (sources != 1) {
    return Err(std::string(section) +
               ": exactly one of jwks_file, jwks_url, public_key_pem_file is required");
  }
  if (!identity.jwks_file.empty()) {
    return file_source(section, "jwks_file", identity.jwks_file, parse_jwks);
  }
  if (!identity.public_key_pem_file.empty()) {
    return file_source(section, "public_key_pem_file", identity.public_key_pem_file,
                       parse_pem_public_key);
  }
  return make_jwks_url_source(identity.jwks_url, client);
}

/** Verified tokens by SHA-256 of the token, evicted oldest-inserted first when full. */
struct Authenticator::Impl {
  struct Entry {
    VerifiedToken token;
    std::list<std::string>::iterator order;
  };

  Impl(const config::Identity& identity, KeySource& keys, const Clock& clock, std::size_t capacity)
      : header(identity.header),
        trust_gateway(identity.trust_api_gateway_authorizer),
        keys(keys),
        clock(clock),
        capacity(std::max<std::size_t>(1, capacity)) {
    for (const auto& name : identity.algorithms) {
      if (const auto alg = parse_alg(name)) policy.algorithms.push_back(*alg);
    }
    policy.issuer = identity.issuer;
    policy.audiences = identity.audiences;
    policy.user_claim = identity.user_claim;
    policy.leeway_seconds = std::clamp<std::int64_t>(identity.leeway_seconds, 0, kMaxLeewaySeconds);
    policy.types = identity.allowed_types;
    policy.max_lifetime_seconds = identity.max_token_lifetime_seconds;
    policy.ecdsa_low_s_only = identity.require_low_s_signatures;
    if (identity.alb) {
      policy.alb = AlbBinding{identity.alb->signer_arns, identity.alb->client_ids};
      policy.allow_padding = true;  // ALB pads its segments with '='
    }
  }

  bool live(const VerifiedToken& t, std::int64_t now) const {
    return t.expires_at + policy.leeway_seconds > now;
  }

  std::optional<VerifiedToken> lookup(const std::string& digest, std::int64_t now) {
    const auto it = cache.find(digest);
    if (it == cache.end()) return std::nullopt;
    if (live(it->second.token, now)) return it->second.token;
    erase(it);
    return std::nullopt;
  }

  void insert(std::string digest, const VerifiedToken& token, std::int64_t now) {
    if (cache.size() >= capacity) {
      for (auto it = cache.begin(); it != cache.end();) {
        it = live(it->second.token, now) ? std::next(it) : erase(it);
      }
    }
    while (cache.size() >= capacity) erase(cache.find(order.front()));
    order.push_back(digest);
    cache.emplace(std::move(digest), Entry{token, std::prev(order.end())});
  }

  using Map = std::unordered_map<std::string, Entry>;
  Map::iterator erase(Map::iterator it) {
    order.erase(it->second.order);
    return cache.erase(it);
  }

  Result<VerifiedToken, AuthError> verify(std::string_view token, std::int64_t now) {
    auto key_set = keys.keys(now);
    if (!key_set) return Err(AuthError{AuthErrorKind::kKeysUnavailable});
    auto verified = verify_jwt(token, **key_set, policy, now);
    // A kid we lack may be a freshly rotated key: load it, or reload once (rate-limited by the
    // source).
    bool reloaded = false;
    if (!verified && verified.error() == JwtError::kUnknownKid) {
      if (const auto kid = peek_kid(token)) {
        auto fetched = keys.fetch_kid(*kid, now);
        if (!fetched) return Err(AuthError{AuthErrorKind::kKeysUnavailable});
        reloaded = *fetched;
      }
      reloaded = reloaded || keys.refresh(now);
    }
    if (reloaded) {
      key_set = keys.keys(now);
      if (!key_set) return Err(AuthError{AuthErrorKind::kKeysUnavailable});
      verified = verify_jwt(token, **key_set, policy, now);
    }
    if (!verified) return Err(AuthError{AuthErrorKind::kInvalid, verified.error()});
    return verified.value();
  }

  const std::string header;
  const bool trust_gateway;  // identity.trust_api_gateway_authorizer
  KeySource& keys;
  const Clock& clock;
  const std::size_t capacity;
  VerifyPolicy policy;
  std::mutex mu;  // guards the cache and calls into `keys`
  Map cache;
  std::list<std::string> order;  // digests, oldest first
};

Authenticator::Authenticator(const config::Identity& identity, KeySource& keys, const Clock& clock,
                             std::size_t cache_capacity)
    : impl_(std::make_shared<Impl>(identity, keys, clock, cache_capacity)) {}

Result<VerifiedToken, AuthError> Authenticator::authenticate(const http::Request& request) {
  // Claims API Gateway verified, when the operator opted in; without them, the header as usual.
  if (impl_->trust_gateway && request.gateway_claims) {
    return verify_gateway_claims(*request.gateway_claims, impl_->policy);
  }
  const auto token = extract_token(request, impl_->header);
  if (!token) return Err(AuthError{token.error()});
  return verify(*token);
}

Result<VerifiedToken, AuthError> Authenticator::verify(std::string_view token) {
  if (token.empty()) return Err(AuthError{AuthErrorKind::kMissing});
  if (token.size() > kMaxHeaderBytes) return Err(AuthError{AuthErrorKind::kTooLarge});
  const std::int64_t now = impl_->clock.now_seconds();
  std::string digest = crypto::sha256(token);

  std::lock_guard lock(impl_->mu);
  if (auto hit = impl_->lookup(digest, now)) return *hit;
  auto verified = impl_->verify(token, now);
  if (verified) impl_->insert(std::move(digest), *verified, now);
  return verified;
}

std::size_t Authenticator::cache_size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->cache.size();
}

}  // namespace credbroker::identity
