#include "shared/oauth/token_client.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>

#include "shared/crypto/base64.h"
#include "shared/crypto/cleanse.h"
#include "shared/http/url.h"
#include "shared/json/strict.h"
#include "shared/util/strings.h"

namespace credbroker::oauth {

Grant::~Grant() {
  cleanse(*this);
}

TokenResponse::~TokenResponse() {
  cleanse(*this);
}

void cleanse(Grant& grant) noexcept {
  crypto::cleanse(grant.token);
}

void cleanse(TokenResponse& response) noexcept {
  crypto::cleanse(response.access_token);
  crypto::cleanse(response.refresh_token);
}

namespace {

// RFC 6749 §5.2, and RFC 7009 §2.2.1's one addition for revocation; anything else an endpoint
// says is not repeated.
constexpr std::string_view kKnownErrors[] = {
    "invalid_request",        "invalid_client", "invalid_grant",         "unauthorized_client",
    "unsupported_grant_type", "invalid_scope",  "unsupported_token_type"};

std::string known_error(std::string_view error) {
  for (auto known : kKnownErrors) {
    if (error == known) return std::string(known);
  }
  return {};
}

TokenError failure(TokenErrorKind kind, int http_status = 0) {
  TokenError e;
  e.kind = kind;
  e.http_status = http_status;
  return e;
}

std::vector<std::string> split_scopes(std::string_view scope) {
  std::vector<std::string> out;
  for (auto part : split(scope, ' ')) {
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

std::optional<std::int64_t> parse_expires_in(const rapidjson::Value& v) {
  // Some servers send a string; numbers beyond ten years are nonsense and ignored.
  constexpr std::int64_t kMax = 10LL * 365 * 24 * 3600;
  if (v.IsInt64()) {
    const auto n = v.GetInt64();
    if (n >= 0 && n <= kMax) return n;
  } else if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (std::isfinite(d) && d >= 0 && d <= static_cast<double>(kMax)) {
      return static_cast<std::int64_t>(d);
    }
  } else if (v.IsString()) {
    std::int64_t n = 0;
    const std::string_view s(v.GetString(), v.GetStringLength());
    if (s.empty() || s.size() > 12) return std::nullopt;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + (c - '0');
    }
    if (n <= kMax) return n;
  }
  return std::nullopt;
}

/** RFC 6749 §A: 1*VSCHAR, VSCHAR = %x20-7E. */
bool is_vschar(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<TokenResponse, TokenError> from_fields(
    const std::vector<std::pair<std::string, std::string>>& fields,
    std::optional<std::int64_t> expires_in) {
  TokenResponse t;
  t.expires_in = expires_in;
  for (const auto& [k, v] : fields) {
    if (k == "access_token")
      t.access_token = v;
    else if (k == "refresh_token")
      t.refresh_token = v;
    else if (k == "token_type")
      t.token_type = v;
    else if (k == "scope")
      t.scopes = split_scopes(v);
  }
  // Tokens end up in a header value (resolve, the front's injected header): nothing outside
  // VSCHAR may pass, so no CR or LF can ever split a header.
  if (!is_vschar(t.access_token) || (!t.refresh_token.empty() && !is_vschar(t.refresh_token))) {
    TokenError e = failure(TokenErrorKind::kNoAccessToken);
    for (const auto& [k, v] : fields) {
      if (k == "error") e.oauth_error = known_error(v);
    }
    return Err{std::move(e)};
  }
  return t;
}

// A token response is one flat object (RFC 6749 §5.1); the cap only bounds a hostile body.
constexpr int kMaxJsonDepth = 16;

Result<TokenResponse, TokenError> parse_json(std::string_view body) {
  // Strict: UTF-8 only (RFC 8259 §8.1), nesting capped, and no member twice, so two
  // "access_token"s cannot mean one token to us and another to whoever reads the body next.
  rapidjson::Document doc;
  if (!json::parse_strict(body, kMaxJsonDepth, doc) || !doc.IsObject()) {
    return Err{failure(TokenErrorKind::kBadBody)};
  }
  std::vector<std::pair<std::string, std::string>> fields;
  std::optional<std::int64_t> expires_in;
  for (const auto& m : doc.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "expires_in") {
      expires_in = parse_expires_in(m.value);
    } else if (m.value.IsString()) {
      fields.emplace_back(name, std::string(m.value.GetString(), m.value.GetStringLength()));
    }
  }
  auto response = from_fields(fields, expires_in);
  for (auto& field : fields) crypto::cleanse(field.second);  // the tokens, copied
  return response;
}

Result<TokenResponse, TokenError> parse_form(std::string_view body) {
  auto fields = http::parse_query(trim(body));
  if (!fields) return Err{failure(TokenErrorKind::kBadBody)};
  // Percent-decoding can yield any bytes; tokens and their metadata are text (RFC 6749 §A).
  for (const auto& [k, v] : *fields) {
    if (to_valid_utf8(k) != k || to_valid_utf8(v) != v) {
      return Err{failure(TokenErrorKind::kBadBody)};
    }
  }
  std::optional<std::int64_t> expires_in;
  for (const auto& [k, v] : *fields) {
    if (k == "expires_in") {
      rapidjson::Value s(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
      expires_in = parse_expires_in(s);
    }
  }
  auto response = from_fields(*fields, expires_in);
  for (auto& field : *fields) crypto::cleanse(field.second);  // the tokens, decoded
  return response;
}

}  // namespace

std::string label(const TokenError& e) {
  switch (e.kind) {
    case TokenErrorKind::kTransport:
      return "transport:" + std::string(http::label(e.fetch));
    case TokenErrorKind::kHttpStatus:
      return "http_status";
    case TokenErrorKind::kBadBody:
      return "bad_body";
    case TokenErrorKind::kNoAccessToken:
      return "no_access_token";
  }
  return "unknown";
}

std::string failure_label(const TokenError& e) {
  return e.oauth_error.empty() ? label(e) : e.oauth_error;
}

namespace {

using Form = std::vector<std::pair<std::string, std::string>>;

/** A POST of `form` to `url` (the token endpoint, or the revocation endpoint, RFC 7009 §2.1)
 *  with the server's client authentication (RFC 6749 §2.3.1), the one place every request gets
 *  it from. */
http::OutboundRequest token_request(const config::AuthBroker& broker, std::string_view url,
                                    Form form) {
  http::OutboundRequest r;
  r.method = "POST";
  r.url = std::string(url);
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
               {"Accept", "application/json"}};
  switch (broker.token_endpoint_auth_method) {
    case config::ClientAuthMethod::kClientSecretBasic:
      // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
      r.headers.emplace_back(
          "Authorization",
          "Basic " + crypto::base64_encode(http::form_encode(broker.client_id) + ":" +
                                           http::form_encode(broker.client_secret)));
      break;
    case config::ClientAuthMethod::kClientSecretPost:
      form.emplace_back("client_id", broker.client_id);
      form.emplace_back("client_secret", broker.client_secret);
      break;
    case config::ClientAuthMethod::kNone:
      form.emplace_back("client_id", broker.client_id);
      break;
  }
  r.body = http::build_query(form);
  // The form's values are the code, the verifier, a token or the secret: only r.body keeps them.
  for (auto& field : form) crypto::cleanse(field.second);
  return r;
}

std::string joined_scopes(const config::AuthBroker& broker) {
  std::string out;
  for (const auto& s : broker.scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

Result<TokenResponse, TokenError> post(http::HttpClient& client,
                                       const http::OutboundRequest& request) {
  auto answer = client.send(request);
  if (!answer) {
    TokenError e = failure(TokenErrorKind::kTransport);
    e.fetch = answer.error();
    return Err{std::move(e)};
  }
  const auto content_type = [&]() -> std::string_view {
    for (const auto& [k, v] : answer->headers) {
      if (k == "content-type") return v;
    }
    return {};
  }();
  if (answer->status != 200) {
    TokenError e = failure(TokenErrorKind::kHttpStatus, answer->status);
    if (auto parsed = parse_token_response(content_type, answer->body); !parsed) {
      e.oauth_error = parsed.error().oauth_error;
    }
    return Err{std::move(e)};
  }
  auto parsed = parse_token_response(content_type, answer->body);
  if (!parsed) {
    TokenError e = parsed.error();
    e.http_status = answer->status;
    return Err{std::move(e)};
  }
  return parsed;
}

}  // namespace

Result<Unit, TokenError> probe_token_endpoint(http::HttpClient& client,
                                              const config::AuthBroker& broker) {
  auto answer = post(client, token_request(broker, broker.token_endpoint, {}));
  if (answer) return Err{failure(TokenErrorKind::kHttpStatus, 200)};  // a token for no grant
  const TokenError& e = answer.error();
  if (e.kind == TokenErrorKind::kHttpStatus && e.http_status == 400 &&
      (e.oauth_error == "invalid_request" || e.oauth_error == "unsupported_grant_type")) {
    return Unit{};
  }
  return Err{e};
}

http::OutboundRequest build_code_exchange(const config::AuthBroker& broker,
                                          const CodeExchange& exchange) {
  return token_request(broker, broker.token_endpoint,
                       {{"grant_type", "authorization_code"},
                        {"code", exchange.code},
                        {"redirect_uri", exchange.redirect_uri},
                        {"code_verifier", exchange.code_verifier}});
}

http::OutboundRequest build_grant(const config::AuthBroker& broker, const Grant& grant) {
  // RFC 8693 §3 and the Entra OBO request: the subject is an access token, and so is the result.
  constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
  Form form;
  switch (grant.kind) {
    case Grant::Kind::kRefresh:
      // RFC 6749 §6: without "scope" the new token has the scope originally granted.
      form = {{"grant_type", "refresh_token"}, {"refresh_token", grant.token}};
      break;
    case Grant::Kind::kTokenExchange:
      form = {{"grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"},
              {"subject_token", grant.token},
              {"subject_token_type", std::string(kAccessTokenType)},
              {"requested_token_type", std::string(kAccessTokenType)}};
      if (!broker.resource.empty()) form.emplace_back("resource", broker.resource);
      if (!broker.audience.empty()) form.emplace_back("audience", broker.audience);
      if (!broker.scopes.empty()) form.emplace_back("scope", joined_scopes(broker));
      break;
    case Grant::Kind::kOnBehalfOf:
      form = {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
              {"assertion", grant.token},
              {"requested_token_use", "on_behalf_of"},
              {"scope", joined_scopes(broker)}};
      break;
  }
  return token_request(broker, broker.token_endpoint, std::move(form));
}

std::string_view token_kind_name(TokenKind kind) {
  switch (kind) {
    case TokenKind::kRefreshToken:
      return "refresh_token";
    case TokenKind::kAccessToken:
      return "access_token";
  }
  return "access_token";
}

http::OutboundRequest build_revocation(const config::AuthBroker& broker, std::string_view token,
                                       TokenKind kind) {
  return token_request(
      broker, broker.revocation_endpoint,
      {{"token", std::string(token)}, {"token_type_hint", std::string(token_kind_name(kind))}});
}

Result<TokenResponse, TokenError> parse_token_response(std::string_view content_type,
                                                       std::string_view body) {
  const std::string type = to_lower(trim(content_type.substr(0, content_type.find(';'))));
  // Some servers label a JSON answer text/plain (or even form-encoded); read as a form, it would
  // be one nameless field and lose the token. No token response's form body starts with '{'.
  const bool json_object = trim(body).starts_with('{');
  if (!json_object && (type == "application/x-www-form-urlencoded" || type == "text/plain")) {
    auto form = parse_form(body);
    if (form || form.error().kind != TokenErrorKind::kBadBody) return form;
  }
  return parse_json(body);
}

Result<TokenResponse, TokenError> exchange_code(http::HttpClient& client,
                                                const config::AuthBroker& broker,
                                                const CodeExchange& exchange) {
  return post(client, build_code_exchange(broker, exchange));
}

Result<Unit, TokenError> revoke(http::HttpClient& client, const config::AuthBroker& broker,
                                std::string_view token, TokenKind kind) {
  auto answer = client.send(build_revocation(broker, token, kind));
  if (!answer) {
    TokenError e = failure(TokenErrorKind::kTransport);
    e.fetch = answer.error();
    return Err{std::move(e)};
  }
  if (answer->status == 200) return Unit{};
  TokenError e = failure(TokenErrorKind::kHttpStatus, answer->status);
  // An error body is the token endpoint's JSON error (RFC 7009 §2.2.1); only its code is kept.
  rapidjson::Document doc;
  if (json::parse_strict(answer->body, kMaxJsonDepth, doc) && doc.IsObject()) {
    const auto error = doc.FindMember("error");
    if (error != doc.MemberEnd() && error->value.IsString()) {
      e.oauth_error = known_error(json::string_of(error->value));
    }
  }
  return Err{std::move(e)};
}

Result<TokenResponse, TokenError> request_grant(http::HttpClient& client,
                                                const config::AuthBroker& broker,
                                                const Grant& grant) {
  return post(client, build_grant(broker, grant));
}

}  // namespace credbroker::oauth
