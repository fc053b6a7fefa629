#include "shared/config/redis_url.h"

#include <charconv>
#include <optional>

#include "shared/http/url.h"
#include "shared/util/strings.h"

namespace credbroker::config {

namespace {

constexpr std::string_view kSyntax =
    "expected redis[s]://[[user]:password@]host[:port][/db], unix:///path[?db=N], "
    "redis[s]-sentinel://[[user]:password@]host[:port],.../master[/db] or "
    "redis[s]-cluster://[[user]:password@]host[:port],...";

Err<std::string> bad(std::string_view what) {
  return Err("must be a Redis URL: " + std::string(what) + " (" + std::string(kSyntax) + ")");
}

std::optional<int> parse_int(std::string_view s, int min, int max) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

/** Printable ASCII without space: anything else is not a URI (RFC 3986 §2). */
bool uri_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool host_chars(std::string_view host) {
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return !host.empty();
}

/** "host", "host:port" or "[v6]:port". */
Result<RedisHost, std::string> parse_host(std::string_view s, int default_port) {
  RedisHost h;
  h.port = default_port;
  std::string_view port;
  bool has_port = false;
  if (s.starts_with('[')) {  // RFC 3986 §3.2.2
    const auto close = s.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in host");
    h.host = std::string(s.substr(1, close - 1));
    for (char c : h.host) {
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                      c == ':' || c == '.';
      if (!ok) return bad("malformed IPv6 literal");
    }
    if (h.host.empty()) return bad("host is required");
    const std::string_view after = s.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("unexpected text after host");
    if (!after.empty()) {
      has_port = true;
      port = after.substr(1);
    }
  } else {
    const auto colon = s.find(':');
    h.host = std::string(s.substr(0, colon));
    if (h.host.empty()) return bad("host is required");
    if (!host_chars(h.host)) return bad("malformed host");
    if (colon != std::string_view::npos) {
      has_port = true;
      port = s.substr(colon + 1);
    }
  }
  if (has_port) {
    const auto p = parse_int(port, 1, 65535);
    if (!p) return bad("port must be 1..65535");
    h.port = *p;
  }
  return h;
}

/** "[user]:password@" in front of the authority; absent is fine. */
Result<std::string_view, std::string> take_userinfo(std::string_view authority, RedisEndpoint& ep) {
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return authority;
  const std::string_view userinfo = authority.substr(0, at);
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) return bad("credentials must be [user]:password");
  auto user = http::percent_decode(userinfo.substr(0, colon));
  auto password = http::percent_decode(userinfo.substr(colon + 1));
  if (!user || !password) return bad("malformed escape in credentials");
  ep.user = std::move(*user);
  ep.password = std::move(*password);
  return authority.substr(at + 1);
}

Result<RedisEndpoint, std::string> parse_unix(std::string_view rest) {
  RedisEndpoint ep;
  std::string_view path = rest;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    const auto params = http::parse_query(rest.substr(q + 1));
    if (!params) return bad("malformed query");
    for (const auto& [name, value] : *params) {
      if (name != "db") return bad("the only parameter is db");
      const auto db = parse_int(value, 0, 1 << 30);
      if (!db) return bad("db must be a non-negative integer");
      ep.db = *db;
    }
  }
  if (path.size() < 2 || path.front() != '/' || path.find('#') != std::string_view::npos) {
    return bad("socket path must be absolute");
  }
  ep.socket_path = std::string(path);
  return ep;
}

Result<RedisEndpoint, std::string> parse_network(std::string_view rest, RedisEndpoint::Mode mode) {
  RedisEndpoint ep;
  ep.mode = mode;
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("no query or fragment");
  const auto slash = rest.find('/');
  auto authority = take_userinfo(rest.substr(0, slash), ep);
  if (!authority) return Err(authority.error());
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  const int default_port = mode == RedisEndpoint::Mode::kSentinel ? 26379 : 6379;
  std::string_view hosts = *authority;
  while (true) {
    const auto comma = hosts.find(',');
    auto host = parse_host(hosts.substr(0, comma), default_port);
    if (!host) return Err(host.error());
    ep.hosts.push_back(std::move(*host));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  if (mode == RedisEndpoint::Mode::kSingle && ep.hosts.size() > 1) {
    return bad("one host only (several are for Sentinel or Cluster)");
  }

  if (mode == RedisEndpoint::Mode::kSentinel) {
    const auto next = path.find('/');
    auto name = http::percent_decode(path.substr(0, next));
    if (!name || name->empty()) return bad("the master name is required");
    ep.master_name = std::move(*name);
    path = next == std::string_view::npos ? "" : path.substr(next + 1);
  }
  if (!path.empty()) {
    const auto db = parse_int(path, 0, 1 << 30);
    if (!db) return bad("db must be a non-negative integer");
    if (mode == RedisEndpoint::Mode::kCluster && *db != 0) return bad("Cluster has only db 0");
    ep.db = *db;
  }
  return ep;
}

}  // namespace

Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url) {
  if (!uri_chars(url)) return bad("no spaces or non-ASCII characters");
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return bad("no scheme");
  const std::string scheme = to_lower(url.substr(0, sep));
  const std::string_view rest = url.substr(sep + 3);
  using Mode = RedisEndpoint::Mode;
  struct Scheme {
    std::string_view name;
    Mode mode;
    bool tls;
  };
  static constexpr Scheme kSchemes[] = {
      {"redis", Mode::kSingle, false},
      {"rediss", Mode::kSingle, true},
      {"redis-sentinel", Mode::kSentinel, false},
      {"rediss-sentinel", Mode::kSentinel, true},
      {"redis-cluster", Mode::kCluster, false},
      {"rediss-cluster", Mode::kCluster, true},
  };
  if (scheme == "unix") return parse_unix(rest);
  for (const Scheme& s : kSchemes) {
    if (scheme != s.name) continue;
    auto ep = parse_network(rest, s.mode);
    if (ep) ep->tls.enabled = s.tls;
    return ep;
  }
  return bad("unknown scheme");
}

}  // namespace credbroker::config
