// The route unit tests trust tests/support/fakes/fakes.h's FakeRedis; this holds it to a real
// redis-server: the same command scripts, answer by answer, for every command the stores use.
#define BOOST_TEST_MODULE fake_redis
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "shared/store/redis.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "tests/support/fakes/fakes.h"
#include "tests/support/servers/one_redis_server.h"
#include "tests/support/servers/redis_server.h"

namespace credbroker::testing {
namespace {

using Argv = std::vector<std::string>;

void show_reply(std::ostringstream& out, const store::Reply& v);

/** A reply as text: type, value, elements; Redis's error wording is not compared, its kind is. */
std::string show(const Result<store::Reply, store::RedisFailure>& r) {
  if (!r) return r.error().kind == store::RedisError::kRejected ? "rejected" : "unreachable";
  std::ostringstream out;
  show_reply(out, r.value());
  return out.str();
}

void show_reply(std::ostringstream& out, const store::Reply& v) {
  switch (v.type) {
    case store::Reply::Type::kNil:
      out << "nil";
      break;
    case store::Reply::Type::kString:
      out << "string:" << v.str;
      break;
    case store::Reply::Type::kStatus:
      out << "status:" << v.str;
      break;
    case store::Reply::Type::kInteger:
      out << "integer:" << v.integer;
      break;
    case store::Reply::Type::kArray:
      out << "array[";
      for (const auto& e : v.elements) {
        show_reply(out, e);
        out << ",";
      }
      out << "]";
      break;
  }
}

/** A stream id the server generated: "<ms>-<seq>". */
bool is_stream_id(std::string_view s) {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == s.size()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
}

/** HGETALL's order is Redis's business: field/value pairs sorted by field. So are the ids XADD
 *  generates for "*" (the clock there, a counter in the fake): only their shape is compared. */
Result<store::Reply, store::RedisFailure> normalised(const Argv& argv,
                                                     Result<store::Reply, store::RedisFailure> r) {
  if (r && argv.front() == "XADD" && std::find(argv.begin(), argv.end(), "*") != argv.end() &&
      r.value().type == store::Reply::Type::kString && is_stream_id(r.value().str)) {
    r.value().str = "<generated id>";
    return r;
  }
  if (!r || argv.front() != "HGETALL") return r;
  auto& e = r.value().elements;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i + 1 < e.size(); i += 2) pairs.emplace_back(e[i].str, e[i + 1].str);
  std::sort(pairs.begin(), pairs.end());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    e[2 * i].str = pairs[i].first;
    e[2 * i + 1].str = pairs[i].second;
  }
  return r;
}

/** Runs `script` on a flushed real server and on a fresh FakeRedis; every answer must agree. */
void agree(const std::vector<Argv>& script) {
  server().flushall();
  auto real = store::make_hiredis(server().config());
  FakeRedis fake;
  for (const auto& argv : script) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    BOOST_TEST(
        show(normalised(argv, fake.command(argv))) == show(normalised(argv, real->command(argv))),
        line);
  }
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);

BOOST_AUTO_TEST_CASE(strings_set_nx_ex_getdel_del_expire) {
  agree({{"SET", "k", "v1", "NX", "EX", "600"},
         {"SET", "k", "v2", "NX", "EX", "600"},
         {"GETDEL", "k"},
         {"GETDEL", "k"},
         {"SET", "k", "v3"},
         {"EXPIRE", "k", "60"},
         {"EXPIRE", "missing", "60"},
         {"DEL", "k", "missing"},
         {"SET", "k", "v", "EX", "0"},
         {"SET", "k", "v", "EX", "x"},
         {"SET", "k", "v", "BOGUS"},
         {"GETDEL"},
         {"PING"},
         {"NOSUCHCOMMAND", "x"}});
}

BOOST_AUTO_TEST_CASE(hashes_hset_hget_hgetall_hdel) {
  agree({{"HGETALL", "h"},
         {"HSET", "h", "b", "2"},
         {"HSET", "h", "a", "1", "b", "3"},
         {"HGET", "h", "b"},
         {"HGET", "h", "zz"},
         {"HGET", "missing", "a"},
         {"HGETALL", "h"},
         {"HDEL", "h", "a", "zz"},
         {"HDEL", "h", "b"},
         {"HGETALL", "h"},
         {"DEL", "h"},
         {"HSET", "h", "a"}});
}

BOOST_AUTO_TEST_CASE(sorted_sets_zadd_zcard_zremrangebyscore_zpopmin_zrem) {
  agree({{"ZADD", "z", "1800000000000000", "b"},
         {"ZADD", "z", "1800000000000000", "a"},
         {"ZADD", "z", "1800000001000000", "c"},
         {"ZADD", "z", "1799999000000000", "d"},
         {"ZADD", "z", "1.5", "e"},
         {"ZADD", "z", "2", "e"},
         {"ZCARD", "z"},
         {"ZREMRANGEBYSCORE", "z", "-inf", "(2"},
         {"ZREMRANGEBYSCORE", "z", "-inf", "2"},
         {"ZREMRANGEBYSCORE", "z", "-inf", "1799999000000000"},
         {"ZPOPMIN", "z", "2"},
         {"ZADD", "z", "1800000000000000", "b"},
         {"ZREM", "z", "b", "zz"},
         {"ZPOPMIN", "z", "5"},
         {"ZPOPMIN", "z", "1"},
         {"ZCARD", "z"},
         {"ZREM", "missing", "a"},
         {"ZADD", "z", "x", "a"}});
}

BOOST_AUTO_TEST_CASE(wrong_types_are_rejected) {
  agree({{"SET", "s", "v"},
         {"HSET", "h", "f", "v"},
         {"ZADD", "z", "1", "m"},
         {"HGETALL", "s"},
         {"HGET", "z", "f"},
         {"HSET", "s", "f", "v"},
         {"HDEL", "z", "f"},
         {"GETDEL", "h"},
         {"ZADD", "h", "1", "m"},
         {"ZCARD", "s"},
         {"ZPOPMIN", "h", "1"},
         {"ZREM", "s", "m"},
         {"ZREMRANGEBYSCORE", "h", "-inf", "+inf"},
         {"SET", "h", "overwrites any type"},
         {"GETDEL", "h"}});
}

BOOST_AUTO_TEST_CASE(the_stores_scripts_set_px_and_exists) {
  const std::string put_if(store::scripts::kPutIf);
  const std::string release(store::scripts::kRelease);
  agree({{"EVAL", put_if, "2", "h", "g", "f", "", "0", "v1"},
         {"EVAL", put_if, "2", "h", "g", "f", "", "0", "v2"},
         {"EVAL", put_if, "2", "h", "g", "f", "stale", "0", "v2"},
         {"EVAL", put_if, "2", "h", "g", "f", "v1", "1", "v2"},
         {"EVAL", put_if, "2", "h", "g", "f", "v1", "0", "v2"},
         {"HGET", "h", "f"},
         {"HSET", "g", "f", "3"},
         {"EVAL", put_if, "2", "h", "g", "f", "v2", "0", "v3"},
         {"EVAL", put_if, "2", "h", "g", "f", "v2", "3", "v3"},
         {"HGET", "h", "f"},
         {"SET", "lock", "owner-a", "NX", "PX", "5000"},
         {"SET", "lock", "owner-b", "NX", "PX", "5000"},
         {"EXISTS", "lock"},
         {"EXISTS", "lock", "h", "missing"},
         {"EVAL", release, "1", "lock", "owner-b"},
         {"EXISTS", "lock"},
         {"EVAL", release, "1", "lock", "owner-a"},
         {"EXISTS", "lock"},
         {"EVAL", release, "1", "lock", "owner-a"},
         {"SET", "s", "v"},
         {"EVAL", put_if, "2", "s", "g", "f", "", "0", "v"},
         {"EVAL", put_if, "2", "h", "s", "f", "v3", "3", "v"},
         {"EVAL", release, "1", "h", "x"},
         {"SET", "k", "v", "PX", "0"}});
}

BOOST_AUTO_TEST_CASE(the_credential_scripts_load_put_and_remove_with_generations) {
  const std::string load(store::scripts::kLoadCredential);
  const std::string load_all(store::scripts::kLoadCredentials);
  const std::string put(store::scripts::kPutCredential);
  const std::string remove(store::scripts::kRemoveCredential);
  agree({{"EVAL", load, "2", "h", "g", "f"},
         {"EVAL", load_all, "2", "h", "g"},
         {"EVAL", put, "2", "h", "g", "f", "1", "v0"},
         {"EVAL", put, "2", "h", "g", "f", "0", "v1"},
         {"EVAL", load, "2", "h", "g", "f"},
         {"EVAL", load_all, "2", "h", "g"},
         {"EVAL", remove, "2", "h", "g", "f"},
         {"EVAL", remove, "2", "h", "g", "f"},
         {"EXISTS", "h"},
         {"HGET", "g", "f"},
         {"EVAL", load, "2", "h", "g", "f"},
         {"EVAL", load_all, "2", "h", "g"},
         {"EVAL", put, "2", "h", "g", "f", "0", "v2"},
         {"EVAL", put, "2", "h", "g", "f", "1", "v2"},
         {"EVAL", load, "2", "h", "g", "f"},
         {"EVAL", remove, "2", "h", "g", "f"},
         {"HGET", "g", "f"},
         {"HSET", "g", "f", "not a number"},
         {"EVAL", put, "2", "h", "g", "f", "2", "v3"},
         {"HSET", "h", "f", "v3"},
         {"EVAL", remove, "2", "h", "g", "f"},
         {"EXISTS", "h"},
         {"SET", "s", "v"},
         {"EVAL", load, "2", "s", "g", "f"},
         {"EVAL", load_all, "2", "h", "s"},
         {"EVAL", put, "2", "s", "g", "f", "0", "v"},
         {"EVAL", remove, "2", "h", "s", "f"},
         {"EVAL", put, "2", "s", "g", "f", "7", "v"},
         {"HSET", "h", "f", "v4"},
         {"EVAL", remove, "2", "h", "s", "f"},
         {"EXISTS", "h"}});
}

BOOST_AUTO_TEST_CASE(the_flow_scripts_store_trim_take_and_refuse_other_types) {
  // Scores are the server's TIME there, a counter in the fake: only membership is compared.
  const std::string put(store::scripts::kPutFlow);
  const std::string take(store::scripts::kTakeFlow);
  const auto put_argv = [&](std::string id, std::string index = "u:{t}:flows") {
    return Argv{"EVAL", put, "2", "u:{t}:flow:" + id, index, "sealed-" + id,
                "600",  "2", id,  "u:{t}:flow:"};
  };
  agree({put_argv("a1"),
         put_argv("a2"),
         put_argv("a3"),  // over the cap of 2: the oldest other flow goes, with its record
         {"EXISTS", "u:{t}:flow:a1"},
         {"EXISTS", "u:{t}:flow:a2", "u:{t}:flow:a3"},
         {"ZCARD", "u:{t}:flows"},
         put_argv("a3"),  // the key exists: -1, nothing changes
         {"ZCARD", "u:{t}:flows"},
         {"EVAL", take, "2", "u:{t}:flow:a2", "u:{t}:flows", "a2"},
         {"EVAL", take, "2", "u:{t}:flow:a2", "u:{t}:flows", "a2"},
         {"ZCARD", "u:{t}:flows"},
         {"GETDEL", "u:{t}:flow:a3"},
         {"SET", "s", "not a sorted set"},
         put_argv("z", "s"),  // refused before anything is written
         {"EXISTS", "u:{t}:flow:z"},
         {"EVAL", take, "2", "u:{t}:flow:a3", "s", "a3"},
         {"HSET", "h", "f", "v"},
         {"EVAL", take, "2", "h", "u:{t}:flows", "x"}});
}

BOOST_AUTO_TEST_CASE(scripts_run_by_sha_after_a_noscript_load) {
  server().flushall();
  auto real = store::make_hiredis(server().config());
  (void)real->command({"SCRIPT", "FLUSH"});
  FakeRedis fake;
  const store::Script script(store::scripts::kCountHit);
  for (auto* redis : std::initializer_list<store::Redis*>{real.get(), &fake}) {
    const auto first = redis->command({"EVALSHA", script.sha(), "1", "rate", "60"});
    BOOST_TEST_REQUIRE(!first.ok());
    BOOST_TEST(first.error().detail.starts_with("NOSCRIPT"));
    BOOST_TEST(script.run(*redis, {"rate"}, {"60"})->integer == 1);  // loads, then runs
    BOOST_TEST(redis->command({"EVALSHA", script.sha(), "1", "rate", "60"})->integer == 2);
  }
  BOOST_TEST(fake.count("SCRIPT") == 1u);
}

BOOST_AUTO_TEST_CASE(the_rate_limit_script_counts_and_refuses_other_types) {
  const std::string count_hit(store::scripts::kCountHit);
  agree({{"EVAL", count_hit, "1", "rate", "60"},
         {"EVAL", count_hit, "1", "rate", "60"},
         {"EVAL", count_hit, "1", "rate", "60"},
         {"GETDEL", "rate"},
         {"EVAL", count_hit, "1", "rate", "60"},
         {"SET", "s", "not a number"},
         {"EVAL", count_hit, "1", "s", "60"},
         {"GETDEL", "s"},
         {"HSET", "h", "f", "v"},
         {"EVAL", count_hit, "1", "h", "60"},
         {"EVAL", count_hit, "1"}});
}

BOOST_AUTO_TEST_CASE(the_rate_limit_script_sets_the_ttl_on_the_first_count_only) {
  // The fake has no TTL command (no store reads one): the real server's TTL, the fake's record.
  server().flushall();
  auto real = store::make_hiredis(server().config());
  FakeRedis fake;
  const std::string count_hit(store::scripts::kCountHit);
  for (auto* redis : std::initializer_list<store::Redis*>{real.get(), &fake}) {
    BOOST_TEST(redis->command({"EVAL", count_hit, "1", "rate", "60"})->integer == 1);
    BOOST_TEST(redis->command({"EVAL", count_hit, "1", "rate", "30"})->integer == 2);
  }
  BOOST_TEST(real->command({"TTL", "rate"})->integer == 60);
  BOOST_TEST(fake.ttl("rate").value_or(-1) == 60);
}

BOOST_AUTO_TEST_CASE(streams_xadd_maxlen_and_xlen) {
  agree({{"XADD", "s", "1-1", "event", "a"},
         {"XADD", "s", "1-1", "event", "b"},
         {"XADD", "s", "0-5", "event", "b"},
         {"XADD", "s", "2", "event", "b", "user", "u"},
         {"XLEN", "s"},
         // Approximate trimming drops whole nodes only: a short stream keeps every entry.
         {"XADD", "s", "MAXLEN", "~", "1", "3-0", "event", "c"},
         {"XLEN", "s"},
         {"XADD", "s", "MAXLEN", "=", "2", "4-0", "event", "d"},
         {"XLEN", "s"},
         {"XADD", "s", "maxlen", "1", "5-0", "event", "e"},
         {"XLEN", "s"},
         {"XADD", "s", "6-0", "event"},
         {"XADD", "s", "bad-id", "f", "v"},
         {"XADD", "s", "MAXLEN", "~"},
         {"XADD", "fresh", "MAXLEN", "~", "100000", "*", "event", "x"},
         {"XADD", "fresh", "*", "event", "y"},
         {"XLEN", "fresh"},
         {"XLEN", "missing"},
         {"SET", "str", "v"},
         {"XADD", "str", "*", "f", "v"},
         {"XLEN", "str"},
         {"XADD", "s", "MAXLEN", "~", "10", "*", "f", "v"},
         {"XLEN", "s"}});
}

BOOST_AUTO_TEST_CASE(down_fails_every_command_as_unreachable_and_logs_it) {
  FakeRedis fake;
  fake.down = true;
  const auto r = fake.command({"PING"});
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST((r.error().kind == store::RedisError::kUnreachable));
  BOOST_TEST(fake.count("ping") == 1u);
  fake.down = false;
  fake.failing.insert("HSET");
  BOOST_TEST(!fake.command({"HSET", "h", "f", "v"}).ok());
  BOOST_TEST(fake.command({"HGET", "h", "f"}).ok());
  BOOST_TEST(fake.hashes.empty());
}

}  // namespace credbroker::testing
