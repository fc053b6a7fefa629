#pragma once
// A real OAuth 2.0 authorization server for integration tests: oidc-provider (npm) run by
// tests/oidc/server.mjs under Node on a loopback port. Authorization code + PKCE S256 (required for
// every client), refresh tokens, RFC 8707 resource indicators, RFC 9207 "iss" in the authorization
// response; login and consent are oidc-provider's development pages, which Browser (browser.h)
// clicks through. Start one per test module (a Boost.Test global fixture), never one per case.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

/** One registered client. Redirect URIs match exactly, port included (http on loopback is fine). */
struct OidcClient {
  std::string client_id;
  std::string client_secret;                       // empty for a public client ("none")
  std::string auth_method = "client_secret_post";  // or "client_secret_basic", "none"
  std::vector<std::string> redirect_uris;
  /** Without "refresh_token" the client never gets a refresh token. */
  std::vector<std::string> grant_types = {"authorization_code", "refresh_token"};
};

/**
 * An RFC 8707 resource server the provider issues access tokens for. A token request for it
 * answers `scope` = the requested scopes that are in `scope` here (and were consented to).
 */
struct OidcResource {
  std::string indicator;                // absolute URI, e.g. "https://api.example.test"
  std::string scope;                    // space-separated, e.g. "repo read:user"
  std::string token_format = "opaque";  // or "jwt"
  int access_token_ttl_seconds = 3600;
};

struct OidcProviderOptions {
  std::vector<OidcClient> clients;
  std::vector<OidcResource> resources;
  /**
   * A resource indicator from `resources` used when an authorization request names none: lets a
   * request for plain scope=repo get a token scoped "repo". Empty: such a request gets only the
   * OpenID scopes (openid; offline_access only together with prompt=consent, OIDC Core §11).
   */
  std::string default_resource;
  /** True: a refresh token whenever the client may use that grant (as GitHub and most upstreams
   *  do). False: only when offline_access was granted (oidc-provider's default). */
  bool refresh_tokens_always = true;
  /** Access token lifetime when no resource server names one. */
  int access_token_ttl_seconds = 3600;
  /**
   * 0: a free port. Otherwise this one, reserved beforehand with free_port(), for a stack that
   * needs the token endpoint in its config before the provider can learn the stack's redirect
   * URIs: the endpoints are then issuer_for(port) + "/auth" and "/token".
   */
  int port = 0;
};

class OidcProvider {
 public:
  /** Starts Node and returns once discovery answers; throws (with the log's tail) if not. */
  explicit OidcProvider(OidcProviderOptions options);
  /** SIGTERM, bounded wait, SIGKILL. */
  ~OidcProvider();
  OidcProvider(const OidcProvider&) = delete;
  OidcProvider& operator=(const OidcProvider&) = delete;

  /** "http://127.0.0.1:<port>", the issuer a provider on `port` has. */
  static std::string issuer_for(int port);

  int port() const { return port_; }
  /** As discovery (/.well-known/openid-configuration) states them. */
  const std::string& issuer() const { return issuer_; }
  const std::string& authorization_endpoint() const { return authorization_endpoint_; }
  const std::string& token_endpoint() const { return token_endpoint_; }
  /** The provider's output so far: one line per request (method, path, status) and error codes;
   *  never a token, code, query string or secret. */
  std::string log() const;

 private:
  void launch();
  void read_discovery();
  std::string log_tail() const;

  OidcProviderOptions options_;
  TempDir dir_;
  int port_ = 0;
  std::string issuer_;
  std::string authorization_endpoint_;
  std::string token_endpoint_;
  std::optional<ChildProcess> process_;
};

}  // namespace credbroker::testing
