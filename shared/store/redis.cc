#include "shared/store/redis.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <optional>

#include "shared/http/url.h"

namespace credbroker::store {

namespace {

constexpr std::string_view kTcpSyntax = "expected redis://[[user]:password@]host[:port][/db]";
constexpr std::string_view kUnixSyntax = "expected unix:///path/to/sock[?db=N]";

std::string url_error(std::string_view what, std::string_view syntax) {
  return "redis.url: " + std::string(what) + " (" + std::string(syntax) + ")";
}

std::optional<int> parse_int(std::string_view s, int min, int max) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

Result<RedisEndpoint, std::string> parse_unix(std::string_view rest) {
  RedisEndpoint ep;
  ep.transport = RedisEndpoint::Transport::kUnix;
  std::string_view path = rest;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    const auto params = http::parse_query(rest.substr(q + 1));
    if (!params) return Err(url_error("malformed query", kUnixSyntax));
    for (const auto& [name, value] : *params) {
      if (name != "db") return Err(url_error("unknown parameter \"" + name + "\"", kUnixSyntax));
      const auto db = parse_int(value, 0, 1 << 30);
      if (!db) return Err(url_error("db must be a non-negative integer", kUnixSyntax));
      ep.db = *db;
    }
  }
  if (path.size() < 2 || path.front() != '/') {
    return Err(url_error("socket path must be absolute", kUnixSyntax));
  }
  ep.socket_path = std::string(path);
  return ep;
}

Result<RedisEndpoint, std::string> parse_tcp(std::string_view rest) {
  RedisEndpoint ep;
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return Err(url_error("credentials must be [user]:password", kTcpSyntax));
    }
    auto user = http::percent_decode(userinfo.substr(0, colon));
    auto password = http::percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) return Err(url_error("malformed escape in credentials", kTcpSyntax));
    ep.user = std::move(*user);
    ep.password = std::move(*password);
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal, RFC 3986 §3.2.2
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Err(url_error("unclosed '[' in host", kTcpSyntax));
    ep.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return Err(url_error("unexpected text after host", kTcpSyntax));
    }
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return Err(url_error("port must be 1..65535", kTcpSyntax));
  } else {
    const auto colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return Err(url_error("port must be 1..65535", kTcpSyntax));
    }
  }
  if (ep.host.empty()) return Err(url_error("host is required", kTcpSyntax));
  if (!port.empty()) {
    const auto p = parse_int(port, 1, 65535);
    if (!p) return Err(url_error("port must be 1..65535", kTcpSyntax));
    ep.port = *p;
  }
  if (!path.empty()) {
    const auto db = parse_int(path, 0, 1 << 30);
    if (!db) return Err(url_error("db must be a non-negative integer", kTcpSyntax));
    ep.db = *db;
  }
  return ep;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

timeval to_timeval(std::int64_t ms) {
  ms = std::max<std::int64_t>(ms, 1);  // hiredis treats a zero timeout as "fail at once"
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

/**
 * hiredis 0.14 writes with write(2), so a peer that went away raises SIGPIPE, whose default action
 * kills the process. Block it in this thread for the duration of one exchange and swallow the
 * SIGPIPE we caused; the failed write already shows up as an I/O error.
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

class Hiredis final : public Redis {
 public:
  explicit Hiredis(const config::Redis& config)
      : connect_timeout_(to_timeval(config.connect_timeout_ms)),
        command_timeout_(to_timeval(config.command_timeout_ms)) {
    auto parsed = parse_redis_url(config.url);
    if (!parsed) {
      url_error_ = parsed.error();
      return;
    }
    endpoint_ = std::move(parsed).value();
    if (!config.password.empty()) endpoint_.password = config.password;
  }

  ~Hiredis() override { OPENSSL_cleanse(endpoint_.password.data(), endpoint_.password.size()); }

  Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) override {
    if (!url_error_.empty()) return Err(RedisFailure{RedisError::kUnreachable, url_error_});
    if (argv.empty()) return Err(RedisFailure{RedisError::kRejected, "empty command"});
    SigpipeBlock no_sigpipe;
    if (ctx_ && !idle_connection_alive()) ctx_.reset();
    if (!ctx_) {
      auto opened = open();
      if (!opened) return Err(opened.error());
    }
    return exchange(argv);
  }

 private:
  /** Between exchanges Redis (RESP2) sends nothing, so a readable socket means the server closed
   *  it (restart, idle timeout, CLIENT KILL). Reconnecting now, before sending, cannot run a
   *  command twice the way a retry after a failed exchange could. */
  bool idle_connection_alive() const {
    pollfd p{ctx_->fd, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

  Result<Unit, RedisFailure> open() {
    ContextPtr ctx(
        endpoint_.transport == RedisEndpoint::Transport::kUnix
            ? redisConnectUnixWithTimeout(endpoint_.socket_path.c_str(), connect_timeout_)
            : redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_timeout_));
    if (!ctx) return Err(RedisFailure{RedisError::kUnreachable, "connect: out of memory"});
    if (ctx->err) {
      return Err(RedisFailure{RedisError::kUnreachable, std::string("connect: ") + ctx->errstr});
    }
    if (redisSetTimeout(ctx.get(), command_timeout_) != REDIS_OK) {
      return Err(RedisFailure{RedisError::kUnreachable, std::string("connect: ") + ctx->errstr});
    }
    ctx_ = std::move(ctx);
    if (!endpoint_.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
      auth.push_back(endpoint_.password);
      auto r = exchange(auth);
      for (auto& a : auth) OPENSSL_cleanse(a.data(), a.size());
      if (!r) return setup_failed("AUTH", r.error());
    }
    if (endpoint_.db != 0) {
      auto r = exchange({"SELECT", std::to_string(endpoint_.db)});
      if (!r) return setup_failed("SELECT", r.error());
    }
    return Unit{};
  }

  /** A connection that failed AUTH or SELECT is of no use: drop it and say which step failed. */
  Result<Unit, RedisFailure> setup_failed(std::string_view step, RedisFailure f) {
    ctx_.reset();
    f.detail = std::string(step) + ": " + f.detail;
    return Err(std::move(f));
  }

  Result<Reply, RedisFailure> exchange(const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), args.data(), lens.data())));
    if (!reply || ctx_->err) {
      // I/O error, EOF or timeout: the stream's state is unknown, so the connection goes.
      RedisFailure f{RedisError::kUnreachable, ctx_->err ? ctx_->errstr : "no reply"};
      ctx_.reset();
      return Err(std::move(f));
    }
    return convert(*reply);
  }

  RedisEndpoint endpoint_;
  std::string url_error_;
  timeval connect_timeout_;
  timeval command_timeout_;
  ContextPtr ctx_;
};

}  // namespace

Result<RedisEndpoint, std::string> parse_redis_url(std::string_view url) {
  constexpr std::string_view kRedis = "redis://";
  constexpr std::string_view kUnix = "unix://";
  if (url.starts_with(kRedis)) return parse_tcp(url.substr(kRedis.size()));
  if (url.starts_with(kUnix)) return parse_unix(url.substr(kUnix.size()));
  if (url.starts_with("rediss://")) return Err(url_error("TLS is not supported", kTcpSyntax));
  return Err(url_error("unknown scheme", "expected redis://... or unix:///..."));
}

std::unique_ptr<Redis> make_hiredis(const config::Redis& config) {
  return std::make_unique<Hiredis>(config);
}

std::string_view label(RedisError e) {
  switch (e) {
    case RedisError::kUnreachable:
      return "unreachable";
    case RedisError::kRejected:
      return "rejected";
  }
  return "rejected";
}

}  // namespace credbroker::store
