#pragma once
// A real redis-server for tests: 127.0.0.1 on a free port plus a unix socket, in its own temp dir,
// nothing persisted. It can be stopped and started again on the same port, or paused, to play an
// outage. Start one per test module (a Boost.Test global fixture) and flush between cases.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/config.h"
#include "shared/store/redis.h"
#include "tests/support/process.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

/** A client config for `url` (parsed by config's one parser; throws when it does not parse), with
 *  `password` (as CREDBROKER_REDIS_PASSWORD would set it) and short timeouts (250 ms). */
config::Redis redis_config(std::string_view url, std::string password = "");

struct RedisServerOptions {
  std::string password;                 // non-empty: --requirepass
  std::vector<std::string> extra_args;  // e.g. {"--maxmemory", "1mb"}
};

class RedisServer {
 public:
  /** Starts the server and returns once it answers PING; throws (with the log's tail) if not. */
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  /** "redis://127.0.0.1:<port>/0", without credentials. */
  std::string url() const;
  /** "unix://<dir>/redis.sock". */
  std::string unix_url() const;
  const std::string& password() const { return options_.password; }
  /** url() and password() with short timeouts (250 ms) and the default key prefix. */
  config::Redis config() const;

  /** Starts again on the same port (no-op while running). */
  void start();
  /** SIGTERM, bounded wait, SIGKILL. The port stays reserved for start(). */
  void stop();
  /** SIGKILL: no shutdown work at all (a crash, a lost machine). */
  void kill();
  /** SIGSTOP / SIGCONT: connections are accepted by the kernel but never answered. */
  void pause();
  void resume();
  bool running();
  /** Whatever a previous case did: running, not paused. */
  void ensure_running();

  /**
   * Runs one command on a fresh connection (AUTH as needed), independent of the client under
   * test. Throws std::runtime_error on an I/O failure or an error reply. Binary-safe.
   */
  store::Reply cli(const std::vector<std::string>& argv);
  void flushall() { cli({"FLUSHALL"}); }
  /** The start of a black-box case: running (again, whatever the last case did) and empty. */
  void reset() {
    ensure_running();
    flushall();
  }

 private:
  void launch();
  std::string log_tail() const;

  RedisServerOptions options_;
  TempDir dir_;
  int port_ = 0;
  std::optional<ChildProcess> process_;
  bool paused_ = false;
};

}  // namespace credbroker::testing
