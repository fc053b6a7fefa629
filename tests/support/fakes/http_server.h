#pragma once
// A small real HTTP/1.1 server on 127.0.0.1 for tests of outbound HTTP (the curl client, the token
// endpoint client, JWKS fetches). It serves scripted answers from a handler on a background
// thread, one connection at a time, and records every request it read.
//
//   HttpServer server([](const RecordedRequest& r) {
//     return ScriptedResponse{.status = 200, .body = R"({"keys": []})"};
//   });
//   client->send({.url = server.url("/jwks")});
//   BOOST_TEST(server.requests().at(0).target == "/jwks");
//
// Limits: request bodies need Content-Length (no chunked requests); every answer carries
// "Connection: close", so each request arrives on a new connection.

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace credbroker::testing {

struct RecordedRequest {
  std::string method;
  std::string target;                                        // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;

  /** The first value of header `name` (any case), or nullopt. */
  std::optional<std::string> header(std::string_view name) const;
};

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};  // Content-Length is added if absent
  std::string body{};
  int delay_ms = 0;                   // wait before answering; capped at kMaxDelayMs, cut short
                                      // when the server stops
  bool close_without_answer = false;  // read the request, then close the connection
  bool close_delimited = false;       // no Content-Length: the body ends when the connection does
};

class HttpServer {
 public:
  using Handler = std::function<ScriptedResponse(const RecordedRequest&)>;
  static constexpr int kMaxDelayMs = 10000;

  /** Binds 127.0.0.1 on an ephemeral port and starts serving. Throws when the socket fails. */
  explicit HttpServer(Handler handler);
  /** Stops promptly, interrupting a scripted delay or a stalled connection. */
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  /** "http://127.0.0.1:<port>" + path_and_query. */
  std::string url(std::string_view path_and_query = "/") const;

  /** Replaces the handler for the following requests. */
  void set_handler(Handler handler);
  /** Every request read so far, in arrival order. */
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  /** Forgets the requests recorded so far (one server serves a whole suite). */
  void clear_requests();

 private:
  void run();
  void serve(int fd);

  int listen_fd_ = -1;
  int port_ = 0;
  int stop_read_ = -1;  // readable once the destructor has run: every wait ends
  int stop_write_ = -1;
  mutable std::mutex mutex_;
  Handler handler_;
  std::vector<RecordedRequest> requests_;
  std::thread thread_;
};

/** A loopback port that nothing listens on (bound, read back, closed): connecting is refused. */
int closed_loopback_port();

}  // namespace credbroker::testing
