#include "tests/support/servers/handler_processes.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace credbroker::testing {

namespace {

constexpr std::string_view kExecutablePrefix = "credbroker-";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/** True when the NUL-separated environment block holds exactly `entry`. */
bool has_entry(const std::string& environ_block, const std::string& entry) {
  std::size_t start = 0;
  while (start < environ_block.size()) {
    const std::size_t end = std::min(environ_block.find('\0', start), environ_block.size());
    if (environ_block.compare(start, end - start, entry) == 0) return true;
    start = end + 1;
  }
  return false;
}

/** The state letter of /proc/<pid>/stat: after the last ')' that closes the command name. */
char state_of(const std::filesystem::path& proc) {
  const std::string stat = slurp(proc / "stat");
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
}

}  // namespace

std::vector<HandlerProcess> handler_processes(const std::string& config_path) {
  const std::string wanted = "CREDBROKER_CONFIG=" + config_path;
  std::vector<HandlerProcess> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    // argv[0], not comm: comm is cut to 15 characters ("credbroker-call").
    std::string argv0 = slurp(entry.path() / "cmdline");
    argv0 = argv0.substr(0, argv0.find('\0'));
    const std::string base = std::filesystem::path(argv0).filename().string();
    if (!base.starts_with(kExecutablePrefix)) continue;
    if (!has_entry(slurp(entry.path() / "environ"), wanted)) continue;
    out.push_back({static_cast<pid_t>(std::stol(name)), base.substr(kExecutablePrefix.size()),
                   state_of(entry.path())});
  }
  return out;
}

std::vector<pid_t> handler_pids(const std::string& config_path, const std::string& route) {
  std::vector<pid_t> out;
  for (const auto& p : handler_processes(config_path)) {
    if (p.route == route) out.push_back(p.pid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool connected_to(pid_t pid, int port) {
  // /proc/net/tcp: "sl local rem st ... inode", addresses as hex "0100007F:1F90", state 01 =
  // ESTABLISHED. Collect the sockets to the port, then look for one among the pid's descriptors.
  const std::string proc = "/proc/" + std::to_string(pid);
  std::istringstream table(slurp(proc + "/net/tcp"));
  std::vector<std::string> inodes;
  std::string line;
  std::getline(table, line);  // header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string sl, local, remote, st, queues, timer, retransmits, uid, timeout, inode;
    fields >> sl >> local >> remote >> st >> queues >> timer >> retransmits >> uid >> timeout >>
        inode;
    const auto colon = remote.find(':');
    if (colon == std::string::npos || st != "01") continue;
    if (remote.substr(0, colon) == "0100007F" &&  // 127.0.0.1, in the kernel's byte order
        std::stoi(remote.substr(colon + 1), nullptr, 16) == port) {
      inodes.push_back(inode);
    }
  }
  try {
    for (const auto& fd : std::filesystem::directory_iterator(proc + "/fd")) {
      std::error_code ec;
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      for (const auto& inode : inodes) {
        if (target == "socket:[" + inode + "]") return true;
      }
    }
  } catch (const std::filesystem::filesystem_error&) {
    // The process went away while we looked.
  }
  return false;
}

std::size_t resident_kib(pid_t pid) {
  std::istringstream status(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
  }
  return 0;
}

}  // namespace credbroker::testing
