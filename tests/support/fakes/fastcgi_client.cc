#include "tests/support/fakes/fastcgi_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace credbroker::testing {

namespace {

constexpr unsigned char kVersion = 1;
constexpr unsigned char kBeginRequest = 1, kEndRequest = 3, kParams = 4, kStdin = 5, kStdout = 6;
constexpr unsigned kRequestId = 1;

std::string record(unsigned char type, const std::string& content) {
  std::string out;
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(kRequestId >> 8));
  out.push_back(static_cast<char>(kRequestId & 0xff));
  out.push_back(static_cast<char>(content.size() >> 8));
  out.push_back(static_cast<char>(content.size() & 0xff));
  out.push_back(0);  // padding
  out.push_back(0);  // reserved
  return out + content;
}

/** §3.4: lengths below 128 in one byte, others in four with the high bit set. */
void put_length(std::string& out, std::size_t n) {
  if (n < 128) {
    out.push_back(static_cast<char>(n));
    return;
  }
  out.push_back(static_cast<char>(0x80 | ((n >> 24) & 0x7f)));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
}

}  // namespace

FastCgiConnection::FastCgiConnection(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (address.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
    std::memcpy(addr.sun_path, address.c_str(), address.size() + 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("cannot connect to " + address);
    }
    return;
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot connect to " + address);
  }
}

FastCgiConnection::~FastCgiConnection() {
  ::close(fd_);
}

std::string FastCgiConnection::begin_request() {
  // role RESPONDER (1), flags 0: the application closes the connection after the request.
  return record(kBeginRequest, std::string("\0\1\0\0\0\0\0\0", 8));
}

std::string FastCgiConnection::request(
    const std::vector<std::pair<std::string, std::string>>& params, const std::string& body) {
  std::string pairs;
  for (const auto& [name, value] : params) {
    put_length(pairs, name.size());
    put_length(pairs, value.size());
    pairs += name + value;
  }
  std::string out = begin_request() + record(kParams, pairs) + record(kParams, "");
  if (!body.empty()) out += record(kStdin, body);
  return out + record(kStdin, "");
}

bool FastCgiConnection::send(const std::string& bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

std::optional<std::string> FastCgiConnection::answer(std::chrono::milliseconds wait) {
  std::string raw;
  const auto until = std::chrono::steady_clock::now() + wait;
  bool ended = false;
  while (!ended) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[8192];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    // Parse what is complete; stop at END_REQUEST.
    std::size_t at = 0;
    std::string out;
    while (raw.size() - at >= 8) {
      const auto type = static_cast<unsigned char>(raw[at + 1]);
      const std::size_t length =
          (static_cast<unsigned char>(raw[at + 4]) << 8) | static_cast<unsigned char>(raw[at + 5]);
      const std::size_t padding = static_cast<unsigned char>(raw[at + 6]);
      if (raw.size() - at < 8 + length + padding) break;
      if (type == kStdout) out += raw.substr(at + 8, length);
      if (type == kEndRequest) {
        ended = true;
        return out;
      }
      at += 8 + length + padding;
    }
  }
  if (raw.empty()) return std::nullopt;
  return std::string();
}

bool FastCgiConnection::closed_by_peer(std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
}

}  // namespace credbroker::testing
