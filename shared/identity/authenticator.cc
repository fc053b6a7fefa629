#include "shared/identity/authenticator.h"

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

#include "shared/crypto/hash.h"
#include "shared/identity/gateway_claims.h"
#include "shared/util/strings.h"

namespace credbroker::identity {

namespace {

constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::int64_t kMaxLeewaySeconds = 253402300799;  // same bound as jwt.cc's NumericDate

}  // namespace

std::string_view label(const AuthError& e) {
  switch (e.kind) {
    case AuthErrorKind::kMissing:
      return "no_credentials";
    case AuthErrorKind::kTooLarge:
      return "identity_header_too_large";
    case AuthErrorKind::kDuplicate:
      return "duplicate_identity_header";
    case AuthErrorKind::kKeysUnavailable:
      return "identity_keys_unavailable";
    case AuthErrorKind::kInvalid:
      return label(e.jwt);
  }
  return "unknown";
}

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
