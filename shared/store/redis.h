#pragma once
// Redis behind a small interface. The production implementation is hiredis: one persistent
// connection per process with connect and command timeouts, dropped after any I/O failure and
// re-opened on the next command, so the process keeps serving once Redis is back.

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

/** hiredis client for the configured URL; connects lazily on the first command. */
std::unique_ptr<Redis> make_hiredis(const config::Redis& config);

}  // namespace credbroker::store
