#pragma once
// In-process fakes for the small interfaces (clock, randomness, HTTP, Redis), for unit tests that
// must not start a server: an in-memory Redis (exactly the commands the stores use), a scripted
// HttpClient, a deterministic Random and a log Sink that keeps its lines. Integration tests use the
// real parts. None of these is thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/audit/log.h"
#include "shared/crypto/random.h"
#include "shared/http/client.h"
#include "shared/store/redis.h"

namespace credbroker::testing {

/**
 * An in-memory Redis for the stores: HGETALL, HGET, HSET, HDEL, SET (with NX and EX or PX), GETDEL,
 * ZADD, ZREMRANGEBYSCORE, ZCARD, ZPOPMIN, ZREM, DEL, EXISTS, EXPIRE, PING, EVAL of the
 * scripts in shared/store/scripts.h, and XADD (ids "*" or "<ms>-<seq>", MAXLEN [=|~] n) and XLEN
 * for the audit stream. Any other command, a wrong
 * argument count or a key of the wrong type is rejected as real Redis would (kRejected), so a
 * store that starts using a new command fails its unit tests instead of passing against a fake
 * that silently agrees. Time never passes: TTLs are recorded (ttl()), keys never expire, and
 * generated stream ids are "0-1", "0-2", … "MAXLEN ~" trims nothing here: real Redis trims only
 * whole nodes (100 entries by default), so a short stream is not trimmed there either.
 */
class FakeRedis final : public store::Redis {
 public:
  Result<store::Reply, store::RedisFailure> command(const std::vector<std::string>& argv) override;

  /** Every command, in order, including those that failed. */
  std::vector<std::vector<std::string>> log;
  /** How many logged commands have this name (case-insensitive). */
  std::size_t count(std::string_view name) const;
  /** The log without the store::Script loading dance: an EVALSHA answered NOSCRIPT and the SCRIPT
   *  LOAD after it are left out, so what remains is each command that ran once. */
  std::vector<std::vector<std::string>> ran() const;

  /** When set, every command fails as kUnreachable ("connection refused"), touching nothing. */
  bool down = false;
  /** Commands (upper-case names) that fail as kUnreachable while the others work; a credential
   *  script (shared/store/scripts.h) fails when a command it runs is listed. */
  std::set<std::string> failing;

  // The data, open to tests for seeding and inspection.
  std::map<std::string, std::string> strings;
  std::map<std::string, std::map<std::string, std::string>> hashes;
  std::map<std::string, std::map<std::string, double>> zsets;  // member → score
  std::map<std::string, std::int64_t> ttls;                    // seconds, from EX or EXPIRE
  /** A stream entry: its id and its field/value pairs in order. */
  struct StreamEntry {
    std::string id;
    std::vector<std::pair<std::string, std::string>> fields;
  };
  std::map<std::string, std::vector<StreamEntry>> streams;

  /** Scripts loaded with SCRIPT LOAD, by SHA-1; EVALSHA of any other answers NOSCRIPT. */
  std::map<std::string, std::string> scripts;
  /** What TIME gives a script, in microseconds; each script that reads it moves it on by one. */
  std::int64_t server_time_us = 1'800'000'000'000'000;

  /** The TTL last set on `key`, or nullopt when none (or the key is gone). */
  std::optional<std::int64_t> ttl(const std::string& key) const;
  /** Every key, of every type. */
  std::vector<std::string> keys() const;

 private:
  /** EVAL of the scripts in shared/store/scripts.h, by their text; any other is rejected. */
  Result<store::Reply, store::RedisFailure> eval(const std::vector<std::string>& argv);
  Result<store::Reply, store::RedisFailure> xadd(const std::vector<std::string>& argv);
  bool exists(const std::string& key) const;
  void erase(const std::string& key);
};

/** Records each request and answers from a script (the same answer while one is left). */
class FakeHttpClient final : public http::HttpClient {
 public:
  Result<http::OutboundResponse, http::FetchError> send(const http::OutboundRequest& r) override;

  /** The next answers: a status with a Content-Type and body... */
  void answer(int status, std::string content_type, std::string body);
  /** ...or a transport failure. */
  void fail(http::FetchError error);

  std::vector<http::OutboundRequest> requests;
  /** Runs on each request before it is answered (another process acting meanwhile). */
  std::function<void()> on_send;

 private:
  Result<http::OutboundResponse, http::FetchError> answer_{Err{http::FetchError::kOther}};
};

/**
 * Deterministic randomness: call i (counting from 1) answers n bytes of value i, unless a scripted
 * answer is queued (script()), which must have exactly the length asked for.
 */
class FakeRandom final : public crypto::Random {
 public:
  std::string bytes(std::size_t n) override;
  void script(std::string bytes) { scripted_.push_back(std::move(bytes)); }
  std::size_t calls = 0;
  std::vector<std::size_t> sizes;  // n of each call

 private:
  std::deque<std::string> scripted_;
};

/** Keeps every log line. */
class CapturingSink final : public audit::Sink {
 public:
  void write(std::string_view line) override { lines.emplace_back(line); }
  /** Lines whose "event" is `event`. */
  std::vector<std::string> events(std::string_view event) const;
  std::vector<std::string> lines;
};

}  // namespace credbroker::testing
