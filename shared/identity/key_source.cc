#include "shared/identity/key_source.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "shared/identity/jwks.h"
#include "shared/util/strings.h"

namespace credbroker::identity {

namespace {

// Even without an unknown kid, a JWKS is re-fetched this often so a key the issuer withdrew
// stops verifying within the hour.
constexpr std::int64_t kMaxJwksAgeSeconds = 3600;

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
  // Shared-secret mode (identity.hmac_secret_env): the one HS256 key, nothing else beside it.
  if (!identity.hmac_secret_env.empty()) {
    if (identity.alb || !identity.jwks_file.empty() || !identity.jwks_url.empty() ||
        !identity.public_key_pem_file.empty()) {
      return Err(std::string(section) +
                 ".hmac_secret_env: cannot be combined with jwks_file, jwks_url, "
                 "public_key_pem_file or alb");
    }
    auto keys = hmac_key_set(identity.hmac_secret);
    if (!keys) return Err(std::string(section) + ".hmac_secret_env: " + keys.error());
    return make_static_key_source(std::move(keys.value()));
  }
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

}  // namespace credbroker::identity
