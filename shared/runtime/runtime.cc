// Picking and running the transport (runtime.h): the only place that knows every adapter.
#include "shared/runtime/runtime.h"

#include <fcgiapp.h>
#include <signal.h>
#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "shared/runtime/transport_common.h"

namespace credbroker::runtime {

namespace {

/** CREDBROKER_FASTCGI_DEADLINE_MS when it is a sane number of milliseconds, else the default. */
FastCgiLimits fastcgi_limits() {
  FastCgiLimits limits;
  if (const char* v = std::getenv("CREDBROKER_FASTCGI_DEADLINE_MS"); v != nullptr) {
    long ms = 0;
    const std::string_view s(v);
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), ms);
    if (ec == std::errc() && ptr == s.data() + s.size() && ms >= 100 && ms <= 600000) {
      limits.request_deadline = std::chrono::milliseconds(ms);
    }
  }
  return limits;
}

/** A Unix socket path (FCGX_OpenSocket's rule: anything with a ':' is host:port). */
bool is_socket_path(const std::string& listen) {
  return listen.find(':') == std::string::npos;
}

}  // namespace

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
    // A Unix socket we create is for its owner and group (the front's), not for everyone:
    // anything that can connect to it can hold a process.
    const bool path = is_socket_path(transport.listen);
    const mode_t old_mask = path ? ::umask(0117) : 0;
    socket = FCGX_OpenSocket(transport.listen.c_str(), 128);
    if (path) ::umask(old_mask);
    if (socket < 0) {
      std::fprintf(stderr, "{\"level\":\"error\",\"event\":\"listen_failed\",\"listen\":\"%s\"}\n",
                   transport.listen.c_str());
      return 1;
    }
  }
  return serve_fastcgi(socket, handler, fastcgi_limits());
}

}  // namespace credbroker::runtime
