#pragma once
// One connection to one Redis node: a TCP or Unix socket, optionally under TLS (OpenSSL, TLS 1.2
// or later, the peer's certificate checked against the CA file and the node's name or IP), with
// hiredis's protocol writer (redisFormatCommandArgv) and reader (redisReader) on top. Every wait
// is bounded: connecting and the TLS handshake by the connect timeout, each exchange by the
// command timeout. Used by the single-server, Sentinel and Cluster clients in redis.cc.

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shared/config/redis_url.h"
#include "shared/store/redis.h"

struct redisReader;  // hiredis/read.h

namespace credbroker::store {

/** An SSL_CTX for the endpoint's TLS settings (shared by all of a client's connections). */
class TlsContext {
 public:
  /** Loads the CA file (or the system store) and the client certificate; errors name the file
   *  setting, not its content. */
  static Result<std::shared_ptr<TlsContext>, std::string> create(const config::RedisTls& tls);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }
  const std::string& server_name() const { return server_name_; }

 private:
  TlsContext() = default;
  SSL_CTX* ctx_ = nullptr;
  std::string server_name_;
};

struct ConnectionSettings {
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds command_timeout{500};
  std::shared_ptr<TlsContext> tls;  // null: plain
};

class Connection {
 public:
  /** Connects over TCP (and TLS when settings.tls is set). */
  static Result<std::unique_ptr<Connection>, RedisFailure> open_tcp(
      const config::RedisHost& host, const ConnectionSettings& settings);
  /** Connects to a Unix socket (never TLS). */
  static Result<std::unique_ptr<Connection>, RedisFailure> open_unix(
      const std::string& path, const ConnectionSettings& settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /**
   * Sends one command and reads its reply. An error reply is kRejected with Redis's line (the
   * argument echo some errors carry removed); an I/O failure, EOF or timeout is kUnreachable and
   * leaves the connection broken().
   */
  Result<Reply, RedisFailure> exchange(const std::vector<std::string>& argv);
  /** AUTH [user] password (when a password is set), then SELECT db (when not 0). A failure says
   *  which step failed, never the password. */
  Result<Unit, RedisFailure> setup(const std::string& user, const std::string& password, int db);

  bool broken() const { return broken_; }
  /** Between exchanges Redis (RESP2) sends nothing, so readable means the server closed it. */
  bool idle_alive() const;

 private:
  Connection() = default;
  Result<Unit, RedisFailure> handshake(const std::string& host, const ConnectionSettings& s);
  Result<Unit, RedisFailure> write_all(const std::string& data,
                                       std::chrono::steady_clock::time_point deadline);
  Result<Reply, RedisFailure> read_reply(std::chrono::steady_clock::time_point deadline);
  RedisFailure fail(std::string detail);

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::shared_ptr<TlsContext> tls_;
  std::chrono::milliseconds command_timeout_{500};
  struct ReaderFree {
    void operator()(redisReader* r) const;
  };
  std::unique_ptr<redisReader, ReaderFree> reader_;
  bool broken_ = false;
};

}  // namespace credbroker::store
