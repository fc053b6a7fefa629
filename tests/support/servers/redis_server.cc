#include "tests/support/servers/redis_server.h"

#include <hiredis/hiredis.h>

#include <csignal>
#include <memory>
#include <stdexcept>
#include <thread>

namespace credbroker::testing {

namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr timeval kCliTimeout{2, 0};

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

ReplyPtr run(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data())));
}

store::Reply convert(const redisReply& r) {
  store::Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = store::Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = store::Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = store::Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = store::Reply::Type::kArray;
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    case REDIS_REPLY_ERROR:
      throw std::runtime_error("redis cli: " + std::string(r.str, r.len));
    default:
      break;
  }
  return out;
}

/** True once the server answers anything at all (an error such as NOAUTH counts). */
bool answers_ping(int port) {
  ContextPtr c(redisConnectWithTimeout("127.0.0.1", port, timeval{0, 200'000}));
  if (!c || c->err || redisSetTimeout(c.get(), timeval{0, 200'000}) != REDIS_OK) return false;
  ReplyPtr r = run(c.get(), {"PING"});
  if (!r) return false;
  return !(r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("LOADING"));
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)), dir_("credbroker-redis") {
  // free_port() can race with another process taking the port; try a few.
  for (int attempt = 1;; ++attempt) {
    port_ = free_port();
    try {
      launch();
      return;
    } catch (const std::exception&) {
      if (attempt == 3) throw;
    }
  }
}

RedisServer::~RedisServer() {
  stop();
}

std::string RedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

std::string RedisServer::unix_url() const {
  return "unix://" + dir_.file("redis.sock");
}

config::Redis redis_config(std::string_view url, std::string password) {
  auto endpoint = config::parse_redis_url(url);
  if (!endpoint) throw std::runtime_error("redis_config: " + endpoint.error());
  config::Redis c;
  c.endpoint = std::move(*endpoint);
  if (!password.empty()) c.endpoint.password = std::move(password);
  c.connect_timeout_ms = 250;
  c.command_timeout_ms = 250;
  return c;
}

config::Redis RedisServer::config() const {
  return redis_config(url(), options_.password);
}

void RedisServer::launch() {
  std::vector<std::string> argv = {kRedisServer,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--unixsocket",
                                   dir_.file("redis.sock"),
                                   "--unixsocketperm",
                                   "700",
                                   "--dir",
                                   dir_.path(),
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--daemonize",
                                   "no"};
  if (!options_.password.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(options_.password);
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());

  process_.emplace(ProcessOptions{.argv = std::move(argv),
                                  .env = {},
                                  .stdout_path = dir_.file("redis.log"),
                                  .stderr_path = dir_.file("redis.log")});
  paused_ = false;
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!answers_ping(port_)) {
    if (!process_->running() || std::chrono::steady_clock::now() >= deadline) {
      process_.reset();
      throw std::runtime_error("redis-server on port " + std::to_string(port_) +
                               " did not come up; log:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string RedisServer::log_tail() const {
  const std::string log = read_file(dir_.file("redis.log"));
  return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
}

void RedisServer::start() {
  if (!running()) launch();
}

void RedisServer::stop() {
  if (process_) process_->stop();
  process_.reset();
  paused_ = false;
}

void RedisServer::kill() {
  if (process_) {
    process_->signal(SIGKILL);
    process_->stop();
  }
  process_.reset();
  paused_ = false;
}

void RedisServer::pause() {
  if (!running()) throw std::runtime_error("RedisServer::pause: not running");
  process_->pause();
  paused_ = true;
}

void RedisServer::resume() {
  if (!running()) throw std::runtime_error("RedisServer::resume: not running");
  process_->resume();
  paused_ = false;
}

bool RedisServer::running() {
  return process_ && process_->running();
}

void RedisServer::ensure_running() {
  if (running() && paused_) resume();
  start();
}

store::Reply RedisServer::cli(const std::vector<std::string>& argv) {
  ContextPtr c(redisConnectWithTimeout("127.0.0.1", port_, kCliTimeout));
  if (!c || c->err || redisSetTimeout(c.get(), kCliTimeout) != REDIS_OK) {
    throw std::runtime_error("redis cli: cannot connect to port " + std::to_string(port_));
  }
  if (!options_.password.empty()) {
    ReplyPtr auth = run(c.get(), {"AUTH", options_.password});
    if (!auth || auth->type == REDIS_REPLY_ERROR)
      throw std::runtime_error("redis cli: AUTH failed");
  }
  ReplyPtr r = run(c.get(), argv);
  if (!r) throw std::runtime_error(std::string("redis cli: ") + c->errstr);
  return convert(*r);
}

}  // namespace credbroker::testing
