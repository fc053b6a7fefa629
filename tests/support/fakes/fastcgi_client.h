#pragma once
// A minimal FastCGI client (the protocol's responder side, FastCGI spec §3–§5) for tests that
// talk to a handler directly, without a front: connect, send a request record by record (or
// stall on purpose), read what comes back. Every wait is bounded.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace credbroker::testing {

class FastCgiConnection {
 public:
  /** Connects to a Unix socket path or "127.0.0.1:PORT"; throws when it cannot. */
  explicit FastCgiConnection(const std::string& address);
  ~FastCgiConnection();
  FastCgiConnection(const FastCgiConnection&) = delete;
  FastCgiConnection& operator=(const FastCgiConnection&) = delete;

  /** BEGIN_REQUEST (responder, no keep-alive) as raw bytes, and a whole request's records. */
  static std::string begin_request();
  static std::string request(const std::vector<std::pair<std::string, std::string>>& params,
                             const std::string& body = {});

  /** Writes raw bytes; false when the peer closed. */
  bool send(const std::string& bytes);
  /**
   * The STDOUT content until END_REQUEST, or until the peer closes or `wait` passes (nullopt:
   * nothing arrived and the connection is still open).
   */
  std::optional<std::string> answer(std::chrono::milliseconds wait);
  /** True when the peer closed the connection within `wait` (any bytes it sent are dropped). */
  bool closed_by_peer(std::chrono::milliseconds wait);

 private:
  int fd_ = -1;
};

}  // namespace credbroker::testing
