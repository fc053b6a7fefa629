#pragma once
// The one parser of redis.url (and CREDBROKER_REDIS_URL). The scheme picks the mode:
//
//   redis://[[user]:password@]host[:port][/db]                    one server (TCP)
//   unix:///path/to/sock[?db=N]                                    one server (Unix socket)
//   redis-sentinel://[[user]:password@]h1[:p1],h2[:p2]/master[/db] Sentinel (default port 26379)
//   redis-cluster://[[user]:password@]h1[:p1],h2[:p2][/0]          Cluster (seed nodes)
//   rediss://, rediss-sentinel://, rediss-cluster://               the same over TLS
//
// Schemes are case-insensitive (RFC 3986 §3.1). Errors say which part is wrong and never quote the
// URL (it may hold a password).

#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace credbroker::config {

struct RedisHost {
  std::string host;  // IPv6 literals without brackets
  int port = 6379;
};

/** TLS for the rediss* schemes (config "redis.tls"). */
struct RedisTls {
  bool enabled = false;
  std::string ca_file;      // PEM; empty: the system's trust store
  std::string cert_file;    // client certificate (PEM), with key_file
  std::string key_file;     // its private key (PEM)
  std::string server_name;  // checked against the certificate instead of each node's host
};

struct RedisEndpoint {
  enum class Mode { kSingle, kSentinel, kCluster };
  Mode mode = Mode::kSingle;
  std::vector<RedisHost> hosts;  // kSingle over TCP: one; kSentinel: sentinels; kCluster: seeds
  std::string socket_path;       // kSingle over a Unix socket (then hosts is empty)
  std::string master_name;       // kSentinel
  std::string user;              // ACL user; empty: the default user
  std::string password;          // empty: no AUTH
  int db = 0;                    // always 0 for kCluster
  RedisTls tls;
};

/** Parses a redis URL; tls.enabled follows the scheme, the other TLS fields stay empty. */
Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url);

}  // namespace credbroker::config
