#pragma once
// The handler processes a front server spawned, found from the outside: every process whose
// executable is a credbroker-<route> and whose environment names the front's config file. Works
// for any front that hands the handlers Front::handler_env(), whatever it calls them on the
// command line. Linux only (/proc).

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace credbroker::testing {

struct HandlerProcess {
  pid_t pid = 0;
  std::string route;  // "list", "delete", "connect", "callback", "health", "resolve"
  char state = '?';   // /proc/<pid>/stat: 'S' sleeping, 'R' running, 'T' stopped, 'Z' zombie, ...
};

/** Every live handler process serving `config_path` (a zombie has no command line left, so a
 *  handler that died drops out of the list; compare pid lists to see a death or a respawn). */
std::vector<HandlerProcess> handler_processes(const std::string& config_path);

/** The pids among handler_processes(config_path) serving `route`, sorted. */
std::vector<pid_t> handler_pids(const std::string& config_path, const std::string& route);

/** True when `pid` holds an established TCP connection to 127.0.0.1:`port` (say, a token
 *  endpoint it is waiting on). */
bool connected_to(pid_t pid, int port);

/** Resident set size of `pid` in KiB (VmRSS), or 0 when the process is gone. */
std::size_t resident_kib(pid_t pid);

}  // namespace credbroker::testing
