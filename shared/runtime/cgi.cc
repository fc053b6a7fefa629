// Plain CGI adapter (RFC 3875): one request from the environment and stdin, answer on stdout.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "shared/runtime/transport_common.h"

extern char** environ;

namespace credbroker::runtime {

int serve_cgi(const Handler& handler) {
  std::vector<std::pair<std::string, std::string>> params;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    params.emplace_back(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
  }
  http::Request req = request_from_params(params);
  const auto read = [](char* buf, std::size_t n, std::chrono::milliseconds remaining) -> long {
    pollfd p{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(1, remaining.count())));
    if (ready == 0) return kReadTimedOut;
    if (ready < 0) return -1;
    return ::read(STDIN_FILENO, buf, n);
  };
  const std::string out = format_cgi_response(handle_with_body(req, read, handler));
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace credbroker::runtime
