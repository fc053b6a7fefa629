#pragma once
// Redis behind a small interface. The production implementation (make_hiredis) speaks RESP with
// hiredis's protocol reader and writer over its own sockets (TLS by OpenSSL): one persistent
// connection per node per process with connect and command timeouts.

#include <cstdint>
#include <memory>
#include <string>
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

/**
 * The client for config.endpoint (config/redis_url.h): one server, Sentinel or Cluster, over TCP,
 * TLS or a Unix socket (store/redis_connection.h). It connects lazily on the first command, drops
 * a connection after any I/O failure and opens a new one on the next command, so the process keeps
 * serving once Redis is back. A command whose connection broke mid-exchange is never sent again
 * (it may have run); one refused before it ran (READONLY from a demoted primary, MOVED, ASK) is.
 * Bad TLS files make every command fail with kUnreachable (config does not read files).
 */
std::unique_ptr<Redis> make_hiredis(const config::Redis& config);

}  // namespace credbroker::store
