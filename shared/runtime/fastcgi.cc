// FastCGI adapter (libfcgi): accept loop on an inherited or explicit listening socket.
#include <fcgiapp.h>
#include <signal.h>

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

}  // namespace

int serve_fastcgi(int socket, const Handler& handler) {
  FcgiRequest request(socket);
  while (FCGX_Accept_r(request.get()) >= 0) {
    FCGX_Request* r = request.get();
    http::Request req = request_from_params(params_of(r->envp));
    const auto read = [r](char* buf, std::size_t n) -> long {
      return FCGX_GetStr(buf, static_cast<int>(n), r->in);
    };
    http::Response resp = handle_with_body(req, read, handler);
    const std::string out = format_cgi_response(resp);
    FCGX_PutStr(out.data(), static_cast<int>(out.size()), r->out);
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
