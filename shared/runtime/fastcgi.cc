// FastCGI adapter (libfcgi for the protocol): our own accept loop on an inherited or explicit
// listening socket, with a per-request watchdog and the FCGI_WEB_SERVER_ADDRS check.
#include <arpa/inet.h>
#include <fcgiapp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "shared/runtime/runtime.h"
#include "shared/runtime/transport_common.h"
#include "shared/util/strings.h"

namespace credbroker::runtime {

namespace {

/** Owns one FCGX_Request for the accept loop. */
class FcgiRequest {
 public:
  explicit FcgiRequest(int socket) { FCGX_InitRequest(&req_, socket, 0); }
  ~FcgiRequest() { FCGX_Free(&req_, 1); }
  FcgiRequest(const FcgiRequest&) = delete;
  FcgiRequest& operator=(const FcgiRequest&) = delete;
  FCGX_Request* get() { return &req_; }

 private:
  FCGX_Request req_{};
};

std::vector<std::pair<std::string, std::string>> params_of(FCGX_ParamArray envp) {
  std::vector<std::pair<std::string, std::string>> out;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    const std::string_view entry(*envp);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return out;
}

/** SO_RCVTIMEO on the connection: a blocked read(2) returns EAGAIN after `t` (0: never). */
void set_receive_timeout(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/**
 * Up to n body bytes, each read(2) libfcgi makes bounded by the time left. What libfcgi already
 * buffered is taken without waiting; otherwise one byte is asked for, which makes libfcgi read
 * one record at most, so a client trickling bytes cannot stretch the deadline.
 */
long read_within(FCGX_Request* r, char* buf, std::size_t n, std::chrono::milliseconds remaining) {
  FCGX_Stream* in = r->in;
  const std::ptrdiff_t buffered = in->stop - in->rdNext;
  const int want = buffered > 0 ? static_cast<int>(std::min<std::size_t>(n, buffered)) : 1;
  set_receive_timeout(r->ipcFd, std::max(remaining, std::chrono::milliseconds(1)));
  const int got = FCGX_GetStr(buf, want, in);
  if (got > 0) return got;
  if (FCGX_HasSeenEOF(in)) return 0;
  const int error = FCGX_GetError(in);
  return error == EAGAIN || error == EWOULDBLOCK ? kReadTimedOut : -1;
}

/** SIGALRM only interrupts a blocked read(2) (no SA_RESTART); it does nothing else. */
void on_alarm(int) {}

/** Set by SIGTERM, SIGINT or SIGUSR1 (FastCGI's "finish and exit"): the loop ends after the
 *  request in hand, and a blocked accept(2) or read(2) returns at once (no SA_RESTART). */
volatile sig_atomic_t stop_requested = 0;
void on_stop(int) {
  stop_requested = 1;
}

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sa.sa_handler = on_alarm;
  ::sigaction(SIGALRM, &sa, nullptr);
  sa.sa_handler = on_stop;
  for (int signo : {SIGTERM, SIGINT, SIGUSR1}) ::sigaction(signo, &sa, nullptr);
}

/** Arms a one-shot ITIMER_REAL; disarmed by disarm() or when it goes out of scope. */
class Watchdog {
 public:
  explicit Watchdog(std::chrono::milliseconds deadline) { set(deadline); }
  ~Watchdog() { disarm(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  void disarm() { set(std::chrono::milliseconds(0)); }

 private:
  static void set(std::chrono::milliseconds t) {
    itimerval timer{};
    timer.it_value.tv_sec = static_cast<time_t>(t.count() / 1000);
    timer.it_value.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    ::setitimer(ITIMER_REAL, &timer, nullptr);
  }
};

/**
 * FCGI_WEB_SERVER_ADDRS (the FastCGI convention libfcgi itself honours): a comma-separated list
 * of the IPv4 addresses that may connect over TCP. Empty: any.
 */
std::vector<in_addr> web_server_addresses() {
  std::vector<in_addr> out;
  const char* list = std::getenv("FCGI_WEB_SERVER_ADDRS");
  if (list == nullptr) return out;
  std::string_view rest(list);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item(trim(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    in_addr a{};
    if (!item.empty() && ::inet_pton(AF_INET, item.c_str(), &a) == 1) out.push_back(a);
  }
  return out;
}

bool peer_allowed(const sockaddr_storage& peer, const std::vector<in_addr>& allowed) {
  if (peer.ss_family == AF_UNIX || allowed.empty()) return true;
  if (peer.ss_family != AF_INET) return false;  // the list names IPv4 addresses only
  const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const in_addr& a) { return a.s_addr == in.sin_addr.s_addr; });
}

/** The next connection from an allowed peer; -1 when the listening socket fails for good. */
int accept_peer(int listen_socket, const std::vector<in_addr>& allowed) {
  while (true) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(listen_socket, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR && stop_requested) return -1;
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN || errno == EPROTO ||
          errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        continue;
      }
      std::fprintf(stderr,
                   "{\"level\":\"error\",\"event\":\"fastcgi_accept_failed\",\"errno\":%d}\n",
                   errno);
      return -1;
    }
    if (peer_allowed(peer, allowed)) return fd;
    std::fputs(
        "{\"level\":\"warn\",\"event\":\"fastcgi_peer_refused\",\"reason\":"
        "\"not_in_fcgi_web_server_addrs\"}\n",
        stderr);
    ::close(fd);
  }
}

}  // namespace

int serve_fastcgi(int listen_socket, const Handler& handler, const FastCgiLimits& limits) {
  install_signal_handlers();
  const std::vector<in_addr> allowed = web_server_addresses();
  // libfcgi never accepts by itself: this loop does (so a new connection gets the watchdog and
  // the address check), and libfcgi, handed no listening socket, cannot fall back to its own.
  FcgiRequest request(-1);
  FCGX_Request* r = request.get();
  while (!stop_requested) {
    if (r->ipcFd < 0) {
      const int peer = accept_peer(listen_socket, allowed);
      if (peer < 0) return stop_requested ? 0 : 1;
      r->ipcFd = peer;
      // FCGX_Accept_r opens by finishing the "previous" request: it must not close this one.
      r->keepConnection = 1;
    }
    // A peer must deliver BEGIN_REQUEST and every parameter before the deadline, however it
    // trickles them (one alarm for the whole read, not a timeout per read(2)).
    Watchdog watchdog(limits.request_deadline);
    const int accepted = FCGX_Accept_r(r);
    watchdog.disarm();
    if (accepted < 0) {
      r->ipcFd = -1;
      if (stop_requested) break;
      // libfcgi closed the connection (ipcFd is -1 again); the next peer is accepted above.
      std::fputs(
          "{\"level\":\"warn\",\"event\":\"fastcgi_peer_dropped\","
          "\"reason\":\"incomplete_request\"}\n",
          stderr);
      continue;
    }
    http::Request req = request_from_params(params_of(r->envp));
    bool timed = false;
    const auto read = [r, &timed](char* buf, std::size_t n,
                                  std::chrono::milliseconds remaining) -> long {
      timed = true;
      return read_within(r, buf, n, remaining);
    };
    bool body_unread = false;
    http::Response resp = handle_with_body(req, read, handler, &body_unread);
    if (timed) set_receive_timeout(r->ipcFd, std::chrono::milliseconds(0));
    const std::string out = format_cgi_response(resp);
    FCGX_PutStr(out.data(), static_cast<int>(out.size()), r->out);
    // The rest of an unread body is still on the connection: it must not carry another request.
    if (body_unread) r->keepConnection = 0;
    FCGX_Finish_r(r);
  }
  return 0;
}

}  // namespace credbroker::runtime
