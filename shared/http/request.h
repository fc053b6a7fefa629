#pragma once
// Request and Response: what every transport adapter (FastCGI, CGI, Lambda) produces and consumes.
// The core maps one to the other and never sees a transport type.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/util/result.h"

namespace credbroker::http {

/** Why a request body could not be read. */
enum class BodyError {
  kTooLarge,  // Content-Length (or the body) beyond what the route accepts
  kTimeout,   // the client did not deliver the whole body before the deadline
  kBroken,    // the connection failed while reading
};

/** Reads the whole body on demand: at most `max_bytes`, within `deadline`. */
using BodySource = std::function<Result<std::string, BodyError>(
    std::size_t max_bytes, std::chrono::milliseconds deadline)>;

/** One incoming HTTP request, transport-neutral. Header names are stored lower-case. */
struct Request {
  std::string method;  // "GET", "DELETE", ...
  std::string path;    // raw (still percent-encoded) path, no query: "/api/v1/user/credentials"
  std::string query;   // raw query string without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  /** The body, when the transport already holds it whole (a Lambda event; tests). */
  std::string body;
  /**
   * Streaming transports (FastCGI, CGI) set this instead: the body stays unread until a route
   * asks for it, after it authenticated the caller, so no unauthenticated client can pin a
   * process by trickling a body.
   */
  BodySource body_source;
  /**
   * Claims (name → value as text) of a JWT the front already verified: API Gateway's JWT
   * authorizer. Only the Lambda adapter sets it, from the invocation event's requestContext, never
   * from anything a client sends; the Authenticator honours it only when
   * identity.trust_api_gateway_authorizer is on.
   */
  std::optional<std::vector<std::pair<std::string, std::string>>> gateway_claims;
  /**
   * The front received an identity header it could not pass on because it was too large: Apache
   * mod_proxy_fcgi drops any FastCGI param over 16 KiB, and its config then sets the param
   * CREDBROKER_IDENTITY_HEADER_TOO_LARGE instead. A param without the HTTP_ prefix comes from the
   * front's config only, never from a client's header.
   */
  bool identity_header_too_large = false;

  /** First header with this name (case-insensitive), or nullopt. */
  std::optional<std::string_view> header(std::string_view name) const;
  /** Adds a header, lower-casing its name. */
  void add_header(std::string_view name, std::string_view value);
  /** The body from body_source, or `body` when there is none. */
  Result<std::string, BodyError> read_body(std::size_t max_bytes,
                                           std::chrono::milliseconds deadline) const;
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
 * A JSON response: Content-Type application/json, Cache-Control no-store, and the two headers that
 * keep a browser from rendering it as anything else (X-Content-Type-Options nosniff,
 * Content-Security-Policy default-src 'none'), also where no route ran: the transports' own 400,
 * 413 and 500 (docs/openapi.yaml).
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
