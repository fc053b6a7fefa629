#pragma once
// Child processes for integration tests (redis-server, lighttpd, handlers, a fake authorization
// server), and the loopback port helpers that go with them. Every wait here is bounded: a test
// may fail, it never hangs.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace credbroker::testing {

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is a path, or a name looked up in PATH
  /** Added to (or replacing in) the test process's environment. */
  std::vector<std::pair<std::string, std::string>> env;
  std::string stdout_path;  // empty: inherit the test's stdout
  std::string stderr_path;  // empty: inherit the test's stderr
};

/**
 * One spawned process, owned: the destructor stops it. The child gets stdin from /dev/null, default
 * signal dispositions, an empty signal mask, and SIGKILL when the test process dies, so a crashed
 * test leaves no server holding a port. (Linux ties that to the spawning *thread*: spawn from the
 * test's main thread, or from a thread that outlives the child.)
 */
class ChildProcess {
 public:
  /** Spawns; throws std::runtime_error when the program cannot be executed. */
  explicit ChildProcess(ProcessOptions options);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  /** False once the child has exited (it is reaped then; see exit_status()). */
  bool running();
  /** Raw wait status once exited (WIFEXITED/WEXITSTATUS apply). */
  std::optional<int> exit_status() const { return status_; }

  /** Sends `sig` if the child still runs. */
  void signal(int sig);
  /** SIGSTOP / SIGCONT, returning once the kernel reports the state change (bounded). */
  void pause();
  void resume();

  /** SIGTERM (and SIGCONT, so a paused child sees it), up to `grace` for it to exit, then
   *  SIGKILL. Always reaps. Returns the wait status; idempotent. */
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  /** Reaps if the child has exited; true when it has. */
  bool try_reap();
  /** Polls try_reap() until `timeout`; true when reaped. */
  bool wait_exit(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  std::optional<int> status_;
};

/** A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral range, never handed
 *  out twice in one process. */
int free_port();

/** Polls connect() to 127.0.0.1:`port` until it is accepted or `timeout` passes. */
bool wait_for_port(int port, std::chrono::milliseconds timeout);

}  // namespace credbroker::testing
