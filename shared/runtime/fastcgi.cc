// FastCGI adapter (libfcgi): accept loop on an inherited or explicit listening socket.
#include <fcgiapp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "shared/runtime/runtime.h"
#include "shared/runtime/transport_common.h"

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

}  // namespace

int serve_fastcgi(int socket, const Handler& handler) {
  FcgiRequest request(socket);
  while (FCGX_Accept_r(request.get()) >= 0) {
    FCGX_Request* r = request.get();
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

int serve(const Transport& transport, const Handler& handler) {
  // A client that goes away mid-response must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  if (transport.kind == Transport::Kind::kCgi) return serve_cgi(handler);
  if (transport.kind == Transport::Kind::kLambda) {
    return serve_lambda(transport.runtime_api, handler);
  }
  if (FCGX_Init() != 0) {
    std::fputs("{\"level\":\"error\",\"event\":\"fastcgi_init_failed\"}\n", stderr);
    return 1;
  }
  int socket = 0;
  if (transport.kind == Transport::Kind::kFastCgiListen) {
    socket = FCGX_OpenSocket(transport.listen.c_str(), 128);
    if (socket < 0) {
      std::fprintf(stderr, "{\"level\":\"error\",\"event\":\"listen_failed\",\"listen\":\"%s\"}\n",
                   transport.listen.c_str());
      return 1;
    }
  }
  return serve_fastcgi(socket, handler);
}

}  // namespace credbroker::runtime
