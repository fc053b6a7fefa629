#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace credbroker::testing {

namespace {

using Clock = std::chrono::steady_clock;

/** Sleeps a little longer each round (1 ms up to 20 ms): quick to notice, cheap to wait. */
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(step_);
    step_ = std::min(step_ * 2, std::chrono::milliseconds(20));
  }

 private:
  std::chrono::milliseconds step_{1};
};

std::string resolve(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("cannot find " + program + " in PATH");
}

std::vector<std::string> merged_environment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> out;
  std::map<std::string, std::size_t> index;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    index[entry.substr(0, entry.find('='))] = out.size();
    out.push_back(std::move(entry));
  }
  for (const auto& [name, value] : extra) {
    std::string entry = name + "=" + value;
    if (auto it = index.find(name); it != index.end()) {
      out[it->second] = std::move(entry);
    } else {
      index[name] = out.size();
      out.push_back(std::move(entry));
    }
  }
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

/** Runs in the forked child: async-signal-safe calls only, everything prepared beforehand. */
[[noreturn]] void exec_child(pid_t parent, int error_fd, const char* path, char** argv, char** envp,
                             const char* stdout_path, const char* stderr_path) {
  auto fail = [error_fd]() {
    const int e = errno;
    (void)!write(error_fd, &e, sizeof e);
    _exit(127);
  };
  // Die with the test process; the check closes the race with a parent that died before prctl.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail();
  if (getppid() != parent) _exit(127);

  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  const int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, STDIN_FILENO) < 0) fail();
  const std::pair<const char*, int> outputs[] = {{stdout_path, STDOUT_FILENO},
                                                 {stderr_path, STDERR_FILENO}};
  for (const auto& [file, target] : outputs) {
    if (file == nullptr) continue;
    const int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, target) < 0) fail();
  }
  // Descriptors the test opened without O_CLOEXEC (hiredis sockets, for one) stay with the test.
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(path, argv, envp);
  fail();
  _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(ProcessOptions options) {
  if (options.argv.empty()) throw std::runtime_error("ChildProcess: empty argv");
  const std::string path = resolve(options.argv.front());
  std::vector<std::string> env = merged_environment(options.env);
  std::vector<char*> argv = pointers(options.argv);
  std::vector<char*> envp = pointers(env);
  const char* out = options.stdout_path.empty() ? nullptr : options.stdout_path.c_str();
  const char* err = options.stderr_path.empty() ? nullptr : options.stderr_path.c_str();

  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(error_pipe[0]);
    close(error_pipe[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) exec_child(parent, error_pipe[1], path.c_str(), argv.data(), envp.data(), out, err);

  close(error_pipe[1]);
  // The write end closes on a successful exec (O_CLOEXEC): EOF means the program runs.
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  pid_ = pid;
  if (n > 0) {
    stop();
    throw std::runtime_error("cannot execute " + path + ": " + std::strerror(child_errno));
  }
}

ChildProcess::~ChildProcess() {
  stop();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop();
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

bool ChildProcess::try_reap() {
  if (pid_ < 0 || status_) return true;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return true;
  }
  if (r < 0 && errno != EINTR) {  // not our child any more: nothing left to wait for
    status_ = -1;
    return true;
  }
  return false;
}

bool ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Backoff backoff;
  while (!try_reap()) {
    if (Clock::now() >= deadline) return false;
    backoff.pause();
  }
  return true;
}

bool ChildProcess::running() {
  return !try_reap();
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

void ChildProcess::pause() {
  if (!running()) throw std::runtime_error("pause: process not running");
  ::kill(pid_, SIGSTOP);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  Backoff backoff;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG | WUNTRACED);
    if (r == pid_ && WIFSTOPPED(st)) return;
    if (r == pid_) {
      status_ = st;
      throw std::runtime_error("pause: process exited");
    }
    if (Clock::now() >= deadline) throw std::runtime_error("pause: process did not stop");
    backoff.pause();
  }
}

void ChildProcess::resume() {
  if (!running()) throw std::runtime_error("resume: process not running");
  ::kill(pid_, SIGCONT);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  Backoff backoff;
  for (;;) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG | WCONTINUED);
    if (r == pid_ && WIFCONTINUED(st)) return;
    if (r == pid_) {
      status_ = st;
      throw std::runtime_error("resume: process exited");
    }
    if (Clock::now() >= deadline) throw std::runtime_error("resume: process did not continue");
    backoff.pause();
  }
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return status_.value_or(-1);
  if (!try_reap()) {
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);
    if (!wait_exit(grace)) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(10));
    }
  }
  return status_.value_or(-1);
}

namespace {

/** Binds 127.0.0.1:`port` (0: any) and returns the bound port, or 0 when it is taken. */
int try_bind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 0;
}

}  // namespace

int free_port() {
  // Ports below Linux's ephemeral range (32768-60999): outgoing connections, of which the tests
  // make thousands, never take these between our check and the server's bind. Picked at random
  // so parallel test processes rarely try the same one, and never twice in one process.
  static std::mutex mutex;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}());
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(rng);
    if (handed_out.count(port) != 0) continue;
    if (try_bind(port) == port) {
      handed_out.insert(port);
      return port;
    }
  }
  const int port = try_bind(0);
  if (port == 0) throw std::runtime_error("free_port: bind failed");
  return port;
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  Backoff backoff;
  for (;;) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    // Loopback connect() is answered at once (accepted or refused), so it cannot stall the loop.
    const bool accepted = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (accepted) return true;
    if (Clock::now() >= deadline) return false;
    backoff.pause();
  }
}

}  // namespace credbroker::testing
