#pragma once
// The handler processes behind a front server that spawns none itself (nginx, Apache with
// mod_proxy_fcgi), started the way docs/deploy/nginx.md tells operators to: for each route,
// spawn-fcgi binds one Unix socket and execs multiwatch, which keeps N credbroker-<route>
// processes serving that socket and restarts any that dies.

#include <string>
#include <utility>
#include <vector>

#include "tests/support/process.h"

namespace credbroker::testing {

/**
 * One spawn-fcgi + multiwatch per route, each serving <dir>/<route>.sock with `procs` handler
 * processes (health: one), each route's stderr (the handlers' JSON log lines) in <dir>/<route>.log.
 * The sockets are open to every user, because a front started as root serves from another user
 * (nginx's and Apache's workers); keep `dir` private in anything but a test.
 */
class HandlerPool {
 public:
  /**
   * Starts the processes, waits (bounded) for every socket; throws if one never appears. With
   * `authorize_port`, credbroker-authorize listens on 127.0.0.1:<port> instead (Apache's
   * mod_authnz_fcgi connects over TCP only); `routes` empty means every route.
   */
  HandlerPool(std::string dir, int procs, std::vector<std::pair<std::string, std::string>> env,
              int authorize_port = 0, std::vector<std::string> routes = {});
  ~HandlerPool();
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  /** The per-route log files, for Front::log(). */
  std::vector<std::string> log_files() const;
  /** Stops every supervisor, which stops its handlers. Idempotent. */
  void stop();

 private:
  std::string dir_;
  std::vector<std::string> routes_;
  std::vector<ChildProcess> supervisors_;
};

}  // namespace credbroker::testing
