#include "shared/config/syntax.h"

#include <algorithm>

#include "shared/util/strings.h"

namespace credbroker::config::syntax {

namespace {

/** Printable ASCII that may appear in a URI (RFC 3986 §2): no space, quote, backslash, braces. */
bool uri_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
    if (std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/** "host", "host:port" or "[v6]:port" (RFC 3986 §3.2.2); returns the lower-cased host. */
std::optional<std::string> parse_host_port(std::string_view authority) {
  std::string_view host;
  std::string_view rest;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    for (char c : authority.substr(1, close - 1)) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.';
      if (!ok) return std::nullopt;
    }
    host = authority.substr(0, close + 1);
    rest = authority.substr(close + 1);
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    if (!is_alnum_or(host, "-._")) return std::nullopt;
  }
  if (!rest.empty()) {
    const std::string_view port = rest.substr(1);
    if (rest[0] != ':' || !is_digits(port) || port.size() > 5 ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      return std::nullopt;
    }
  }
  return to_lower(host);
}

}  // namespace

/** An absolute http or https URL with a host and no user information. */
std::optional<HttpUrl> parse_http_url(std::string_view s) {
  if (!uri_chars(s)) return std::nullopt;
  HttpUrl url;
  const std::string lower = to_lower(s.substr(0, 8));
  if (lower.starts_with("https://")) {
    url.https = true;
    s.remove_prefix(8);
  } else if (lower.starts_with("http://")) {
    s.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto end = s.find_first_of("/?#");
  const std::string_view authority = s.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  auto host = parse_host_port(authority);
  if (!host) return std::nullopt;
  url.host = std::move(*host);
  url.has_query = s.find('?') != std::string_view::npos;
  url.has_fragment = s.find('#') != std::string_view::npos;
  return url;
}

bool is_loopback(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

/** RFC 8707 §2: an absolute URI without a fragment (any scheme, e.g. "api://..." for Entra). */
bool is_resource_uri(std::string_view s) {
  if (!uri_chars(s) || s.find('#') != std::string_view::npos) return false;
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(s[0])) return false;
  for (char c : s.substr(0, colon)) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

/** RFC 9110 §5.1: a header name is a token. */
bool is_relative_path(std::string_view s) {
  // "//host" and "/\host" are taken by browsers as another origin.
  if (!s.starts_with('/') || s.starts_with("//")) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  return true;
}

bool is_prefix_path(std::string_view s) {
  if (s.size() < 3 || !s.starts_with('/') || !s.ends_with('/')) return false;
  std::string_view rest = s.substr(1, s.size() - 2);
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (!is_alnum_or(segment, "-._~")) return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
bool is_scope_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

bool is_env_name(std::string_view s) {
  return is_alnum_or(s, "_") && !(s[0] >= '0' && s[0] <= '9');
}

/** 1..128 characters (code points; the parser validated UTF-8), no control characters, no '/'. */
bool is_server_name(std::string_view s) {
  if (s == "." || s == ".." || s.ends_with("/connect") || s.ends_with("/callback")) return false;
  std::size_t chars = 0;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
    if ((c & 0xc0) != 0x80) ++chars;
  }
  return chars >= 1 && chars <= 128;
}

}  // namespace credbroker::config::syntax
