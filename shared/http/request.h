#pragma once
// Request and Response: what every transport adapter (FastCGI, CGI, Lambda) produces and consumes.
// The core maps one to the other and never sees a transport type.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace credbroker::http {

/** One incoming HTTP request, transport-neutral. Header names are stored lower-case. */
struct Request {
  std::string method;  // "GET", "DELETE", ...
  std::string path;    // raw (still percent-encoded) path, no query: "/api/v1/user/credentials"
  std::string query;   // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /**
   * Claims (name → value as text) of a JWT the front already verified: API Gateway's JWT
   * authorizer. Only the Lambda adapter sets it, from the invocation event's requestContext, never
   * from anything a client sends; the Authenticator honours it only when
   * identity.trust_api_gateway_authorizer is on.
   */
  std::optional<std::vector<std::pair<std::string, std::string>>> gateway_claims;

  /** First header with this name (case-insensitive), or nullopt. */
  std::optional<std::string_view> header(std::string_view name) const;
  /** Adds a header, lower-casing its name. */
  void add_header(std::string_view name, std::string_view value);
};

/** One outgoing HTTP response. */
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string_view> header(std::string_view name) const;
  void set_header(std::string_view name, std::string_view value);
};

/** The reason phrase for a status code ("Not Found"). */
std::string_view reason_phrase(int status);

/**
 * A JSON response: Content-Type application/json, Cache-Control no-store.
 */
Response json_response(int status, std::string body);

/**
 * The error body every route uses:
 * {"error":"Not Found","message":"<message>","status_code":404}
 * `message` must never hold a secret; callers pass fixed texts and configured names only.
 */
Response json_error(int status, std::string_view message);

/** `s` as a JSON string literal, quotes included, escaped as JSON requires. */
std::string json_quote(std::string_view s);

/** 302 to `location`, with Cache-Control no-store and an empty body. */
Response redirect(std::string location);

}  // namespace credbroker::http
