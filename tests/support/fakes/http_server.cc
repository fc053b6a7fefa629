#include "tests/support/fakes/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "shared/http/request.h"
#include "shared/util/strings.h"

namespace credbroker::testing {

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;
constexpr int kIoTimeoutMs = 5000;  // a client that stalls this long is dropped

enum class Wait { kReady, kStopped, kTimedOut };

/** Waits for `events` on fd, or for the stop pipe; fd < 0 waits for the stop pipe only. */
Wait wait_for(int fd, short events, int stop_fd, int timeout_ms) {
  pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd, events, 0}};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int left = timeout_ms;
    if (timeout_ms >= 0) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
      left = static_cast<int>(std::max<long long>(ms, 0));
    }
    const int n = ::poll(fds, fd < 0 ? 1 : 2, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kStopped;
    if (n == 0) return Wait::kTimedOut;
    return Wait::kReady;
  }
}

std::string render(const ScriptedResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                    std::string(http::reason_phrase(r.status)) + "\r\n";
  bool has_length = false;
  for (const auto& [name, value] : r.headers) {
    if (iequals(name, "content-length")) has_length = true;
    out += name + ": " + value + "\r\n";
  }
  if (!has_length && !r.close_delimited)
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

/** Parses the request line and headers of `head` (without the blank line). */
bool parse_head(std::string_view head, RecordedRequest& req) {
  const auto lines = split(head, '\n');
  const std::string_view request_line = trim(lines.at(0));
  const auto sp1 = request_line.find(' ');
  const auto sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return false;
  req.method = std::string(request_line.substr(0, sp1));
  req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = trim(lines[i]);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    req.headers.emplace_back(to_lower(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

/** Reads one request; nullopt when the client goes away, stalls, or sends what we do not parse. */
std::optional<RecordedRequest> read_request(int fd, int stop_fd) {
  std::string buf;
  std::size_t head_end = std::string::npos;
  char chunk[16384];
  const auto fill = [&]() {
    if (wait_for(fd, POLLIN, stop_fd, kIoTimeoutMs) != Wait::kReady) return false;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > kMaxHead || !fill()) return std::nullopt;
  }
  RecordedRequest req;
  if (!parse_head(std::string_view(buf).substr(0, head_end), req)) return std::nullopt;
  if (req.header("transfer-encoding")) return std::nullopt;
  std::size_t length = 0;
  if (const auto cl = req.header("content-length")) {
    try {
      length = std::stoul(*cl);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (length > kMaxBody) return std::nullopt;
  }
  const std::size_t body_start = head_end + 4;
  while (buf.size() - body_start < length) {
    if (!fill()) return std::nullopt;
  }
  req.body = buf.substr(body_start, length);
  return req;
}

bool write_all(int fd, std::string_view data, int stop_fd) {
  while (!data.empty()) {
    if (wait_for(fd, POLLOUT, stop_fd, kIoTimeoutMs) != Wait::kReady) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/** Half-closes and waits for the client's close, so unread bytes do not turn our close into RST. */
void linger_close(int fd, int stop_fd) {
  ::shutdown(fd, SHUT_WR);
  char sink[4096];
  while (wait_for(fd, POLLIN, stop_fd, 1000) == Wait::kReady) {
    const ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
  }
}

int bind_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("bind to 127.0.0.1 failed");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return std::nullopt;
}

HttpServer::HttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = bind_loopback(port_);
  int pipe_fds[2];
  if (::listen(listen_fd_, 16) != 0 || ::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("listen failed");
  }
  stop_read_ = pipe_fds[0];
  stop_write_ = pipe_fds[1];
  thread_ = std::thread([this] { run(); });
}

HttpServer::~HttpServer() {
  // The byte is never read: every later wait sees the pipe readable and returns kStopped.
  const char byte = 'x';
  [[maybe_unused]] const ssize_t n = ::write(stop_write_, &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_read_);
  ::close(stop_write_);
}

std::string HttpServer::url(std::string_view path_and_query) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path_and_query);
}

void HttpServer::set_handler(Handler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

std::vector<RecordedRequest> HttpServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void HttpServer::clear_requests() {
  std::lock_guard lock(mutex_);
  requests_.clear();
}

std::size_t HttpServer::request_count() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

void HttpServer::run() {
  while (wait_for(listen_fd_, POLLIN, stop_read_, -1) == Wait::kReady) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    serve(fd);
    ::close(fd);
  }
}

void HttpServer::serve(int fd) {
  auto request = read_request(fd, stop_read_);
  if (!request) return;
  Handler handler;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(*request);
    handler = handler_;
  }
  ScriptedResponse response;
  try {
    response = handler(*request);
  } catch (const std::exception& e) {
    response = ScriptedResponse{.status = 500, .body = std::string("handler threw: ") + e.what()};
  }
  if (response.delay_ms > 0 &&
      wait_for(-1, 0, stop_read_, std::min(response.delay_ms, kMaxDelayMs)) == Wait::kStopped) {
    return;
  }
  if (response.close_without_answer) return;
  if (write_all(fd, render(response), stop_read_)) linger_close(fd, stop_read_);
}

int closed_loopback_port() {
  int port = 0;
  ::close(bind_loopback(port));
  return port;
}

}  // namespace credbroker::testing
