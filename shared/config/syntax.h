#pragma once
// Pure syntax rules for config values: URLs, names, tokens. No JSON and no error texts here;
// parse.cc decides which rule applies to which field and what the message says.

#include <optional>
#include <string>
#include <string_view>

namespace credbroker::config::syntax {

struct HttpUrl {
  bool https = false;
  std::string host{};  // lower-cased; IPv6 literals keep their brackets
  bool has_query = false;
  bool has_fragment = false;
};

/** An absolute http or https URL with a host, an optional port and no user information. */
std::optional<HttpUrl> parse_http_url(std::string_view s);

/** 127.0.0.1, localhost or [::1], as parse_http_url() returns hosts. */
bool is_loopback(std::string_view host);

/** RFC 8707 §2: an absolute URI without a fragment, any scheme ("api://..." for Entra). */
bool is_resource_uri(std::string_view s);

/** A path on this origin: starts with one "/", no backslash, no control characters. */
bool is_relative_path(std::string_view s);

/**
 * A path prefix such as "/upstream/": starts and ends with "/", one or more segments of RFC 3986
 * unreserved characters (letters, digits, "-", ".", "_", "~"), none empty, "." or "..".
 */
bool is_prefix_path(std::string_view s);

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
bool is_scope_token(std::string_view s);

/** A portable environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool is_env_name(std::string_view s);

/**
 * 1..128 characters (code points of valid UTF-8), no control characters, not "." or ".." (dot
 * segments: every front resolves them away before routing). "/" is allowed: a request names the
 * server as one path segment, percent-encoded ("acme%2Fjira"), and the routes split the path before
 * they decode the segment. But lighttpd and nginx route on the decoded path, where "x/connect"
 * would be the connect route of "x": a name may not end in "/connect" or "/callback".
 */
bool is_server_name(std::string_view s);

}  // namespace credbroker::config::syntax
