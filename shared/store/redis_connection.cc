#include "shared/store/redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace credbroker::store {

namespace {

using Clock = std::chrono::steady_clock;

RedisFailure unreachable(std::string detail) {
  return RedisFailure{RedisError::kUnreachable, std::move(detail)};
}

/** Redis's error line, minus the argument echo some errors carry ("unknown command ... with args
 *  beginning with: ..."): arguments may hold sealed records or user ids. */
std::string error_text(const redisReply& r) {
  std::string_view text(r.str, r.len);
  if (const auto echo = text.find(", with args beginning with:"); echo != std::string_view::npos) {
    text = text.substr(0, echo);
  }
  return std::string(text.substr(0, 200));
}

/** Converts a reply; the first error element anywhere in it becomes the failure. */
Result<Reply, RedisFailure> convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        auto element = convert(*r.element[i]);
        if (!element) return element;
        out.elements.push_back(std::move(element).value());
      }
      break;
    case REDIS_REPLY_ERROR:
      return Err(RedisFailure{RedisError::kRejected, error_text(r)});
    default:
      return Err(RedisFailure{RedisError::kRejected, "unexpected reply type"});
  }
  return out;
}

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

/** Waits for `events` on fd until the deadline; false on timeout or error. */
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

/** Non-blocking connect bounded by the deadline; returns the fd or -1 with `error` set. */
int connect_to(const sockaddr* addr, socklen_t len, int family, Clock::time_point deadline,
               std::string& error) {
  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  if (connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
      close(fd);
      return -1;
    }
    if (!wait_for(fd, POLLOUT, deadline)) {
      error = "connection timed out";
      close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t so_len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
      error = std::strerror(so_error);
      close(fd);
      return -1;
    }
  }
  return fd;
}

bool is_ip_literal(const std::string& host) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "TLS failure";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

/**
 * OpenSSL writes to the socket with write(2), so a peer that went away raises SIGPIPE, whose
 * default action kills the process (plain sockets use send(MSG_NOSIGNAL) instead). Block it in
 * this thread for the duration of one TLS exchange and swallow the SIGPIPE we caused; the failed
 * write already shows up as an I/O error.
 */
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<std::shared_ptr<TlsContext>, std::string> TlsContext::create(const config::RedisTls& tls) {
  std::shared_ptr<TlsContext> out(new TlsContext());
  out->ctx_ = SSL_CTX_new(TLS_client_method());
  if (out->ctx_ == nullptr) return Err("redis TLS: " + openssl_error());
  SSL_CTX_set_min_proto_version(out->ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(out->ctx_, SSL_VERIFY_PEER, nullptr);
  const int loaded = tls.ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(out->ctx_)
                         : SSL_CTX_load_verify_locations(out->ctx_, tls.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    ERR_clear_error();
    return Err(std::string("redis TLS: cannot load redis.tls.ca_file"));
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(out->ctx_, tls.cert_file.c_str()) != 1) {
      ERR_clear_error();
      return Err(std::string("redis TLS: cannot load redis.tls.cert_file"));
    }
    if (SSL_CTX_use_PrivateKey_file(out->ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(out->ctx_) != 1) {
      ERR_clear_error();
      return Err(std::string("redis TLS: cannot load redis.tls.key_file or it does not match"));
    }
  }
  out->server_name_ = tls.server_name;
  return out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

// ---------------------------------------------------------------------------------------------

void Connection::ReaderFree::operator()(redisReader* r) const {
  redisReaderFree(r);
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

RedisFailure Connection::fail(std::string detail) {
  broken_ = true;
  return unreachable(std::move(detail));
}

Result<std::unique_ptr<Connection>, RedisFailure> Connection::open_tcp(
    const config::RedisHost& host, const ConnectionSettings& settings) {
  const auto deadline = Clock::now() + settings.connect_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(host.port);
  if (const int rc = getaddrinfo(host.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Err(unreachable(std::string("connect: ") + gai_strerror(rc)));
  }
  std::unique_ptr<Connection> c(new Connection());
  std::string error = "no address";
  for (addrinfo* a = found; a != nullptr && c->fd_ < 0; a = a->ai_next) {
    c->fd_ = connect_to(a->ai_addr, a->ai_addrlen, a->ai_family, deadline, error);
  }
  freeaddrinfo(found);
  if (c->fd_ < 0) return Err(unreachable("connect: " + error));
  const int one = 1;
  setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->command_timeout_ = settings.command_timeout;
  c->reader_.reset(redisReaderCreate());
  if (settings.tls) {
    if (auto shaken = c->handshake(host.host, settings); !shaken) return Err(shaken.error());
  }
  return c;
}

Result<std::unique_ptr<Connection>, RedisFailure> Connection::open_unix(
    const std::string& path, const ConnectionSettings& settings) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Err(unreachable("connect: socket path too long"));
  std::memcpy(addr.sun_path, path.data(), path.size());
  std::unique_ptr<Connection> c(new Connection());
  std::string error;
  c->fd_ = connect_to(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, AF_UNIX,
                      Clock::now() + settings.connect_timeout, error);
  if (c->fd_ < 0) return Err(unreachable("connect: " + error));
  c->command_timeout_ = settings.command_timeout;
  c->reader_.reset(redisReaderCreate());
  return c;
}

Result<Unit, RedisFailure> Connection::handshake(const std::string& host,
                                                 const ConnectionSettings& s) {
  const auto deadline = Clock::now() + s.connect_timeout;
  SigpipeBlock no_sigpipe;
  tls_ = s.tls;
  ssl_ = SSL_new(tls_->get());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return Err(fail("TLS: " + openssl_error()));
  // The name checked is the configured server_name, else the node's host: a DNS name (also sent
  // as SNI) or an IP address (RFC 6066 §3: no SNI for addresses).
  const std::string& name = tls_->server_name().empty() ? host : tls_->server_name();
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
  }
  while (true) {
    const int rc = SSL_connect(ssl_);
    if (rc == 1) return Unit{};
    const int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return Err(fail("TLS: handshake timed out"));
      }
      continue;
    }
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return Err(
          fail(std::string("TLS: certificate rejected: ") + X509_verify_cert_error_string(verify)));
    }
    return Err(fail("TLS: " + openssl_error()));
  }
}

Result<Unit, RedisFailure> Connection::write_all(const std::string& data,
                                                 Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    if (ssl_ != nullptr) {
      std::size_t n = 0;
      const int rc = SSL_write_ex(ssl_, data.data() + done, data.size() - done, &n);
      if (rc == 1) {
        done += n;
        continue;
      }
      const int e = SSL_get_error(ssl_, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        return Err(fail("write: " + openssl_error()));
      }
      if (!wait_for(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return Err(fail("write: timed out"));
      }
      continue;
    }
    const ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_for(fd_, POLLOUT, deadline)) return Err(fail("write: timed out"));
    } else {
      return Err(fail(std::string("write: ") + std::strerror(errno)));
    }
  }
  return Unit{};
}

Result<Reply, RedisFailure> Connection::read_reply(Clock::time_point deadline) {
  char buf[16 * 1024];
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
      return Err(fail("protocol error"));
    }
    if (raw != nullptr) {
      std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                         freeReplyObject);
      return convert(*reply);
    }
    ssize_t n = 0;
    if (ssl_ != nullptr) {
      std::size_t got = 0;
      const int rc = SSL_read_ex(ssl_, buf, sizeof buf, &got);
      if (rc == 1) {
        n = static_cast<ssize_t>(got);
      } else {
        const int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_ZERO_RETURN) return Err(fail("connection closed"));
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          return Err(fail("read: " + openssl_error()));
        }
        if (!wait_for(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return Err(fail("read: timed out"));
        }
        continue;
      }
    } else {
      n = recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return Err(fail("connection closed"));
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          return Err(fail(std::string("read: ") + std::strerror(errno)));
        }
        if (!wait_for(fd_, POLLIN, deadline)) return Err(fail("read: timed out"));
        continue;
      }
    }
    if (redisReaderFeed(reader_.get(), buf, static_cast<std::size_t>(n)) != REDIS_OK) {
      return Err(fail("protocol error"));
    }
  }
}

Result<Reply, RedisFailure> Connection::exchange(const std::vector<std::string>& argv) {
  if (broken_) return Err(unreachable("connection broken"));
  if (argv.empty()) return Err(RedisFailure{RedisError::kRejected, "empty command"});
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  char* formatted = nullptr;
  const int len =
      redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), args.data(), lens.data());
  if (len < 0 || formatted == nullptr) {
    return Err(RedisFailure{RedisError::kRejected, "cannot format command"});
  }
  std::string request(formatted, static_cast<std::size_t>(len));
  OPENSSL_cleanse(formatted, static_cast<std::size_t>(len));  // it may hold AUTH's password
  redisFreeCommand(formatted);
  const auto deadline = Clock::now() + command_timeout_;
  std::optional<SigpipeBlock> no_sigpipe;
  if (ssl_ != nullptr) no_sigpipe.emplace();
  auto written = write_all(request, deadline);
  OPENSSL_cleanse(request.data(), request.size());
  if (!written) return Err(written.error());
  return read_reply(deadline);
}

Result<Unit, RedisFailure> Connection::setup(const std::string& user, const std::string& password,
                                             int db) {
  if (!password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!user.empty()) auth.push_back(user);
    auth.push_back(password);
    auto r = exchange(auth);
    for (auto& a : auth) OPENSSL_cleanse(a.data(), a.size());
    if (!r) {
      RedisFailure f = r.error();
      f.detail = "AUTH: " + f.detail;
      broken_ = true;  // a connection that failed AUTH is of no use
      return Err(std::move(f));
    }
  }
  if (db != 0) {
    auto r = exchange({"SELECT", std::to_string(db)});
    if (!r) {
      RedisFailure f = r.error();
      f.detail = "SELECT: " + f.detail;
      broken_ = true;
      return Err(std::move(f));
    }
  }
  return Unit{};
}

bool Connection::idle_alive() const {
  if (broken_) return false;
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) == 0;
}

}  // namespace credbroker::store
