#pragma once
// Redis behind a small interface. The production implementation is hiredis: one persistent
// connection per process with connect and command timeouts, dropped after any I/O failure and
// re-opened on the next command, so the process keeps serving once Redis is back.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"
#include "shared/util/result.h"

namespace credbroker::store {

struct Reply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus
  std::int64_t integer = 0;
  std::vector<Reply> elements;  // kArray
};

enum class RedisError {
  kUnreachable,  // connect failed, timed out, or the connection broke
  kRejected,     // Redis answered with an error (OOM, NOAUTH, WRONGTYPE, ...)
};

/** The log label of a RedisError: "unreachable", "rejected". */
std::string_view label(RedisError e);

/** Text for logs: the kind plus Redis's own error line for kRejected (never command arguments). */
struct RedisFailure {
  RedisError kind;
  std::string detail;
};

class Redis {
 public:
  virtual ~Redis() = default;
  /** Runs one command; arguments are binary-safe. */
  virtual Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) = 0;
};

/** Where to connect, parsed from config::Redis::url. */
struct RedisEndpoint {
  enum class Transport { kTcp, kUnix };
  Transport transport = Transport::kTcp;
  std::string host;         // kTcp; IPv6 literals without brackets
  int port = 6379;          // kTcp
  std::string socket_path;  // kUnix
  std::string user;         // percent-decoded; empty = default user
  std::string password;     // percent-decoded; empty = no AUTH
  int db = 0;
};

/**
 * Parses "redis://[[user]:password@]host[:port][/db]" or "unix:///path/to/sock[?db=N]". The error
 * says which part is wrong and quotes the expected syntax, never the URL itself (it may hold a
 * password).
 */
Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url);

/**
 * hiredis client for the configured URL; connects lazily on the first command. A non-empty
 * config.password overrides the URL's password. An unparsable URL makes every command fail with
 * kUnreachable (config validation reports it at start).
 */
std::unique_ptr<Redis> make_hiredis(const config::Redis& config);

}  // namespace credbroker::store
