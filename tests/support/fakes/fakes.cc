#include "tests/support/fakes/fakes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/util/strings.h"

namespace credbroker::testing {

namespace {

using store::RedisError;
using store::RedisFailure;
using store::Reply;

Result<Reply, RedisFailure> rejected(std::string detail) {
  return Err{RedisFailure{RedisError::kRejected, std::move(detail)}};
}
Result<Reply, RedisFailure> wrong_type() {
  return rejected("WRONGTYPE Operation against a key holding the wrong kind of value");
}
Result<Reply, RedisFailure> arity(std::string_view name) {
  return rejected("ERR wrong number of arguments for '" + to_lower(name) + "' command");
}

Reply nil() {
  return Reply{};
}
Reply integer(std::int64_t n) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = n;
  return r;
}
Reply bulk(std::string s) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = std::move(s);
  return r;
}
Reply status(std::string s) {
  Reply r;
  r.type = Reply::Type::kStatus;
  r.str = std::move(s);
  return r;
}
Reply array(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements = std::move(elements);
  return r;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return n;
}

std::optional<double> parse_score(std::string_view s) {
  if (s == "inf" || s == "+inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  double d = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || ptr != s.data() + s.size() || std::isnan(d)) return std::nullopt;
  return d;
}

/** A ZRANGEBYSCORE bound: "(5" is exclusive, "5" inclusive. */
struct Bound {
  double value;
  bool exclusive;
};
std::optional<Bound> parse_bound(std::string_view s) {
  const bool exclusive = !s.empty() && s.front() == '(';
  if (exclusive) s.remove_prefix(1);
  const auto v = parse_score(s);
  if (!v) return std::nullopt;
  return Bound{*v, exclusive};
}

std::string format_score(double d) {
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, ptr) : std::string("0");
}

}  // namespace

bool FakeRedis::exists(const std::string& key) const {
  return strings.contains(key) || hashes.contains(key) || zsets.contains(key) ||
         streams.contains(key);
}

void FakeRedis::erase(const std::string& key) {
  strings.erase(key);
  hashes.erase(key);
  zsets.erase(key);
  streams.erase(key);
  ttls.erase(key);
}

std::optional<std::int64_t> FakeRedis::ttl(const std::string& key) const {
  const auto it = ttls.find(key);
  if (it == ttls.end() || !exists(key)) return std::nullopt;
  return it->second;
}

std::vector<std::string> FakeRedis::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : strings) out.push_back(k);
  for (const auto& [k, v] : hashes) out.push_back(k);
  for (const auto& [k, v] : zsets) out.push_back(k);
  for (const auto& [k, v] : streams) out.push_back(k);
  return out;
}

std::size_t FakeRedis::count(std::string_view name) const {
  return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const auto& argv) {
    return !argv.empty() && iequals(argv.front(), name);
  }));
}

std::vector<std::vector<std::string>> FakeRedis::ran() const {
  const auto is_load = [](const std::vector<std::string>& a) {
    return a.size() > 1 && iequals(a[0], "SCRIPT") && iequals(a[1], "LOAD");
  };
  std::vector<std::vector<std::string>> out;
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (is_load(log[i])) continue;
    const bool refused = !log[i].empty() && iequals(log[i][0], "EVALSHA") && i + 1 < log.size() &&
                         is_load(log[i + 1]);
    if (!refused) out.push_back(log[i]);
  }
  return out;
}

Result<Reply, RedisFailure> FakeRedis::eval(const std::vector<std::string>& argv) {
  if (argv.size() < 3) return arity("EVAL");
  const auto numkeys = parse_int(argv[2]);
  if (!numkeys || *numkeys < 0 || static_cast<std::size_t>(*numkeys) > argv.size() - 3) {
    return rejected("ERR Number of keys can't be greater than number of args");
  }
  const std::vector<std::string> keys(argv.begin() + 3, argv.begin() + 3 + *numkeys);
  const std::vector<std::string> args(argv.begin() + 3 + *numkeys, argv.end());
  // The credential scripts: KEYS[1] the records, KEYS[2] the generations, both hashes.
  // A script (these and the rate count) fails as unreachable when a command it runs is in
  // `failing`, so a test fails "the write" or "the read" whatever carries it.
  const std::pair<std::string_view, std::vector<std::string>> runs[] = {
      {store::scripts::kLoadCredential, {"HGET"}},
      {store::scripts::kLoadCredentials, {"HGETALL"}},
      {store::scripts::kPutCredential, {"HGET", "HSET"}},
      {store::scripts::kPutIf, {"HGET", "HSET"}},
      {store::scripts::kRemoveCredential, {"HDEL", "HINCRBY"}},
      {store::scripts::kCountHit, {"INCR", "EXPIRE"}}};
  for (const auto& [script, commands] : runs) {
    if (argv[1] != script) continue;
    for (const auto& c : commands) {
      if (failing.contains(c))
        return Err{RedisFailure{RedisError::kUnreachable, "connection refused"}};
    }
  }
  const bool credential_script =
      argv[1] == store::scripts::kLoadCredential || argv[1] == store::scripts::kLoadCredentials ||
      argv[1] == store::scripts::kPutCredential || argv[1] == store::scripts::kPutIf ||
      argv[1] == store::scripts::kRemoveCredential;
  if (credential_script && keys.size() == 2) {
    // Each script touches its keys in its own order; a key of another type fails it there.
    const auto not_hash = [&](const std::string& key) {
      return exists(key) && !hashes.contains(key);
    };
    const auto wrong = [] { return rejected("WRONGTYPE (in script)"); };
    const auto field = [&](const std::string& key,
                           const std::string& name) -> std::optional<std::string> {
      const auto hash = hashes.find(key);
      if (hash == hashes.end()) return std::nullopt;
      const auto it = hash->second.find(name);
      if (it == hash->second.end()) return std::nullopt;
      return it->second;
    };
    const auto as_reply = [](const std::optional<std::string>& v) { return v ? bulk(*v) : nil(); };
    const auto all = [&](const std::string& key) {
      std::vector<Reply> out;
      if (const auto it = hashes.find(key); it != hashes.end()) {
        for (const auto& [f, v] : it->second) {
          out.push_back(bulk(f));
          out.push_back(bulk(v));
        }
      }
      return array(std::move(out));
    };
    if (argv[1] == store::scripts::kLoadCredential && args.size() == 1) {
      if (not_hash(keys[0]) || not_hash(keys[1])) return wrong();
      return array({as_reply(field(keys[0], args[0])), as_reply(field(keys[1], args[0]))});
    }
    if (argv[1] == store::scripts::kLoadCredentials && args.empty()) {
      if (not_hash(keys[0]) || not_hash(keys[1])) return wrong();
      return array({all(keys[0]), all(keys[1])});
    }
    if (argv[1] == store::scripts::kPutCredential && args.size() == 3) {
      if (not_hash(keys[1])) return wrong();
      if (field(keys[1], args[0]).value_or("0") != args[1]) return integer(0);
      if (not_hash(keys[0])) return wrong();
      hashes[keys[0]][args[0]] = args[2];
      return integer(1);
    }
    if (argv[1] == store::scripts::kPutIf && args.size() == 4) {
      if (not_hash(keys[0]) || not_hash(keys[1])) return wrong();
      const auto current = field(keys[0], args[0]);
      const bool match = current ? *current == args[1] : args[1].empty();
      if (field(keys[1], args[0]).value_or("0") != args[2] || !match) return integer(0);
      hashes[keys[0]][args[0]] = args[3];
      return integer(1);
    }
    if (argv[1] == store::scripts::kRemoveCredential && args.size() == 1) {
      if (not_hash(keys[0])) return wrong();
      const auto hash = hashes.find(keys[0]);
      if (hash == hashes.end() || hash->second.erase(args[0]) == 0) return integer(0);
      if (hash->second.empty()) erase(keys[0]);
      if (not_hash(keys[1])) return wrong();
      // As in Redis: the HDEL above stays done when the increment fails.
      const auto old = parse_int(field(keys[1], args[0]).value_or("0"));
      if (!old) return rejected("ERR hash value is not an integer (in script)");
      hashes[keys[1]][args[0]] = std::to_string(*old + 1);
      return integer(*old + 1);
    }
  }
  if (argv[1] == store::scripts::kRelease && keys.size() == 1 && args.size() == 1) {
    const std::string& key = keys[0];
    if (exists(key) && !strings.contains(key)) return rejected("WRONGTYPE (in script)");
    const auto it = strings.find(key);
    if (it == strings.end() || it->second != args[0]) return integer(0);
    erase(key);
    return integer(1);
  }
  if (argv[1] == store::scripts::kPutFlow && keys.size() == 2 && args.size() == 5) {
    const std::string& key = keys[0];
    const std::string& index = keys[1];
    if (exists(index) && !zsets.contains(index)) return rejected("WRONGTYPE (in script)");
    const auto ttl = parse_int(args[1]);
    const auto cap = parse_int(args[2]);
    if (!ttl || *ttl <= 0 || !cap) return rejected("ERR value is not an integer (in script)");
    if (exists(key)) return integer(-1);
    strings[key] = args[0];
    ttls[key] = *ttl;
    const std::int64_t now = server_time_us++;
    auto& zset = zsets[index];
    std::erase_if(zset, [&](const auto& m) { return m.second <= double(now - *ttl * 1'000'000); });
    zset[args[3]] = static_cast<double>(now);
    std::vector<std::pair<double, std::string>> order;
    for (const auto& [member, score] : zset) order.emplace_back(score, member);
    std::sort(order.begin(), order.end());
    const std::int64_t excess = static_cast<std::int64_t>(order.size()) - *cap;
    std::int64_t dropped = 0;
    for (std::size_t i = 0; excess > 0 && i < order.size() && i <= std::size_t(excess); ++i) {
      if (dropped < excess && order[i].second != args[3]) {
        zset.erase(order[i].second);
        erase(args[4] + order[i].second);
        ++dropped;
      }
    }
    ttls[index] = *ttl;
    return integer(dropped);
  }
  if (argv[1] == store::scripts::kTakeFlow && keys.size() == 2 && args.size() == 1) {
    if (exists(keys[0]) && !strings.contains(keys[0])) return rejected("WRONGTYPE (in script)");
    if (exists(keys[1]) && !zsets.contains(keys[1])) return rejected("WRONGTYPE (in script)");
    Reply taken = nil();
    if (const auto it = strings.find(keys[0]); it != strings.end()) {
      taken = bulk(it->second);
      erase(keys[0]);
    }
    if (const auto it = zsets.find(keys[1]); it != zsets.end()) {
      it->second.erase(args[0]);
      if (it->second.empty()) erase(keys[1]);
    }
    return taken;
  }
  if (argv[1] == store::scripts::kCountHit && keys.size() == 1 && args.size() == 1) {
    const std::string& key = keys[0];
    if (exists(key) && !strings.contains(key)) return rejected("WRONGTYPE (in script)");
    const auto it = strings.find(key);
    const auto current =
        it == strings.end() ? std::optional<std::int64_t>(0) : parse_int(it->second);
    if (!current) return rejected("ERR value is not an integer or out of range (in script)");
    const std::int64_t n = *current + 1;
    strings[key] = std::to_string(n);
    if (n == 1) {
      const auto seconds = parse_int(args[0]);
      if (!seconds) return rejected("ERR value is not an integer or out of range (in script)");
      if (*seconds <= 0) {
        erase(key);
      } else {
        ttls[key] = *seconds;
      }
    }
    return integer(n);
  }
  return rejected("ERR the fake runs only the scripts of shared/store/scripts.h");
}

namespace {

/** A stream id "<ms>-<seq>" (or "<ms>", seq 0), as two numbers. */
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_stream_id(std::string_view s) {
  const auto dash = s.find('-');
  const auto number = [](std::string_view part) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size()) return std::nullopt;
    return n;
  };
  const auto ms = number(s.substr(0, dash));
  const auto seq =
      dash == std::string_view::npos ? std::optional<std::uint64_t>(0) : number(s.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return std::make_pair(*ms, *seq);
}

}  // namespace

Result<Reply, RedisFailure> FakeRedis::xadd(const std::vector<std::string>& argv) {
  const std::string& key = argv[1];
  if (!(!exists(key) || streams.contains(key))) return wrong_type();
  std::size_t i = 2;
  std::optional<std::int64_t> max_len;
  bool approximate = false;
  if (i < argv.size() && upper(argv[i]) == "MAXLEN") {
    ++i;
    if (i < argv.size() && (argv[i] == "~" || argv[i] == "=")) approximate = argv[i++] == "~";
    if (i >= argv.size()) return rejected("ERR syntax error");
    max_len = parse_int(argv[i++]);
    if (!max_len || *max_len < 0) return rejected("ERR The MAXLEN argument must be >= 0.");
  }
  if (i >= argv.size()) return arity("XADD");
  const std::string& id_arg = argv[i++];
  if (i >= argv.size() || (argv.size() - i) % 2 != 0) return arity("XADD");

  const auto& existing = streams[key];
  const std::pair<std::uint64_t, std::uint64_t> last =
      existing.empty() ? std::make_pair(std::uint64_t{0}, std::uint64_t{0})
                       : *parse_stream_id(existing.back().id);
  std::pair<std::uint64_t, std::uint64_t> id{last.first, last.second + 1};
  if (id_arg != "*") {
    const auto given = parse_stream_id(id_arg);
    if (!given) {
      if (existing.empty()) streams.erase(key);
      return rejected("ERR Invalid stream ID specified as stream command argument");
    }
    if (*given <= last) {
      if (existing.empty()) streams.erase(key);
      return rejected(
          "ERR The ID specified in XADD is equal or smaller than the target stream top item");
    }
    id = *given;
  }
  auto& stream = streams[key];
  StreamEntry entry{std::to_string(id.first) + "-" + std::to_string(id.second), {}};
  for (; i + 1 < argv.size(); i += 2) entry.fields.emplace_back(argv[i], argv[i + 1]);
  const std::string added = entry.id;
  stream.push_back(std::move(entry));
  if (max_len && !approximate && static_cast<std::int64_t>(stream.size()) > *max_len) {
    stream.erase(stream.begin(), stream.end() - *max_len);
  }
  return bulk(added);
}

Result<Reply, RedisFailure> FakeRedis::command(const std::vector<std::string>& argv) {
  log.push_back(argv);
  if (argv.empty()) return rejected("ERR empty command");
  const std::string name = upper(argv.front());
  if (down || failing.contains(name)) {
    return Err{RedisFailure{RedisError::kUnreachable, "connection refused"}};
  }
  const std::size_t argc = argv.size();
  const auto type_ok = [&](const std::string& key, bool held_as_wanted) {
    return !exists(key) || held_as_wanted;
  };

  if (name == "PING") return status("PONG");

  if (name == "HGETALL") {
    if (argc != 2) return arity(name);
    if (!type_ok(argv[1], hashes.contains(argv[1]))) return wrong_type();
    std::vector<Reply> out;
    if (const auto it = hashes.find(argv[1]); it != hashes.end()) {
      for (const auto& [f, v] : it->second) {
        out.push_back(bulk(f));
        out.push_back(bulk(v));
      }
    }
    return array(std::move(out));
  }
  if (name == "HGET") {
    if (argc != 3) return arity(name);
    if (!type_ok(argv[1], hashes.contains(argv[1]))) return wrong_type();
    const auto it = hashes.find(argv[1]);
    if (it == hashes.end()) return nil();
    const auto f = it->second.find(argv[2]);
    return f == it->second.end() ? nil() : bulk(f->second);
  }
  if (name == "HSET") {
    if (argc < 4 || argc % 2 != 0) return arity(name);
    if (!type_ok(argv[1], hashes.contains(argv[1]))) return wrong_type();
    auto& hash = hashes[argv[1]];
    std::int64_t added = 0;
    for (std::size_t i = 2; i + 1 < argc; i += 2) {
      added += hash.contains(argv[i]) ? 0 : 1;
      hash[argv[i]] = argv[i + 1];
    }
    return integer(added);
  }
  if (name == "HDEL") {
    if (argc < 3) return arity(name);
    if (!type_ok(argv[1], hashes.contains(argv[1]))) return wrong_type();
    const auto it = hashes.find(argv[1]);
    if (it == hashes.end()) return integer(0);
    std::int64_t removed = 0;
    for (std::size_t i = 2; i < argc; ++i)
      removed += static_cast<std::int64_t>(it->second.erase(argv[i]));
    if (it->second.empty()) erase(argv[1]);
    return integer(removed);
  }
  if (name == "SET") {
    if (argc < 3) return arity(name);
    bool nx = false;
    std::optional<std::int64_t> ex;
    for (std::size_t i = 3; i < argc; ++i) {
      const std::string option = upper(argv[i]);
      if (option == "NX") {
        nx = true;
      } else if ((option == "EX" || option == "PX") && i + 1 < argc && !ex) {
        ex = parse_int(argv[++i]);
        if (!ex || *ex <= 0) return rejected("ERR invalid expire time in 'set' command");
        // Kept in seconds, rounded up: time never passes here anyway.
        if (option == "PX") *ex = (*ex + 999) / 1000;
      } else {
        return rejected("ERR syntax error");
      }
    }
    if (nx && exists(argv[1])) return nil();
    erase(argv[1]);
    strings[argv[1]] = argv[2];
    if (ex) ttls[argv[1]] = *ex;
    return status("OK");
  }
  if (name == "EXISTS") {
    if (argc < 2) return arity(name);
    std::int64_t n = 0;
    for (std::size_t i = 1; i < argc; ++i) n += exists(argv[i]) ? 1 : 0;
    return integer(n);
  }
  if (name == "EVAL") return eval(argv);
  if (name == "SCRIPT") {
    if (argc != 3 || upper(argv[1]) != "LOAD") return rejected("ERR unknown subcommand");
    const std::string sha = store::script_sha(argv[2]);
    scripts[sha] = argv[2];
    return bulk(sha);
  }
  if (name == "EVALSHA") {
    if (argc < 3) return arity(name);
    const auto it = scripts.find(to_lower(argv[1]));
    if (it == scripts.end()) return rejected("NOSCRIPT No matching script. Please use EVAL.");
    std::vector<std::string> as_eval(argv);
    as_eval[0] = "EVAL";
    as_eval[1] = it->second;
    return eval(as_eval);
  }
  if (name == "GETDEL") {
    if (argc != 2) return arity(name);
    if (!type_ok(argv[1], strings.contains(argv[1]))) return wrong_type();
    const auto it = strings.find(argv[1]);
    if (it == strings.end()) return nil();
    Reply r = bulk(it->second);
    erase(argv[1]);
    return r;
  }
  if (name == "DEL") {
    if (argc < 2) return arity(name);
    std::int64_t removed = 0;
    for (std::size_t i = 1; i < argc; ++i) {
      if (exists(argv[i])) {
        erase(argv[i]);
        ++removed;
      }
    }
    return integer(removed);
  }
  if (name == "EXPIRE") {
    if (argc != 3) return arity(name);
    const auto seconds = parse_int(argv[2]);
    if (!seconds) return rejected("ERR value is not an integer or out of range");
    if (!exists(argv[1])) return integer(0);
    if (*seconds <= 0) {
      erase(argv[1]);
    } else {
      ttls[argv[1]] = *seconds;
    }
    return integer(1);
  }
  if (name == "ZADD") {
    if (argc < 4 || argc % 2 != 0) return arity(name);
    if (!type_ok(argv[1], zsets.contains(argv[1]))) return wrong_type();
    std::vector<std::pair<double, std::string>> members;
    for (std::size_t i = 2; i + 1 < argc; i += 2) {
      const auto score = parse_score(argv[i]);
      if (!score) return rejected("ERR value is not a valid float");
      members.emplace_back(*score, argv[i + 1]);
    }
    auto& zset = zsets[argv[1]];
    std::int64_t added = 0;
    for (const auto& [score, member] : members) {
      added += zset.contains(member) ? 0 : 1;
      zset[member] = score;
    }
    return integer(added);
  }
  if (name == "ZREMRANGEBYSCORE") {
    if (argc != 4) return arity(name);
    if (!type_ok(argv[1], zsets.contains(argv[1]))) return wrong_type();
    const auto lo = parse_bound(argv[2]);
    const auto hi = parse_bound(argv[3]);
    if (!lo || !hi) return rejected("ERR min or max is not a float");
    const auto it = zsets.find(argv[1]);
    if (it == zsets.end()) return integer(0);
    std::int64_t removed = 0;
    for (auto m = it->second.begin(); m != it->second.end();) {
      const double s = m->second;
      const bool above = lo->exclusive ? s > lo->value : s >= lo->value;
      const bool below = hi->exclusive ? s < hi->value : s <= hi->value;
      if (above && below) {
        m = it->second.erase(m);
        ++removed;
      } else {
        ++m;
      }
    }
    if (it->second.empty()) erase(argv[1]);
    return integer(removed);
  }
  if (name == "ZCARD") {
    if (argc != 2) return arity(name);
    if (!type_ok(argv[1], zsets.contains(argv[1]))) return wrong_type();
    const auto it = zsets.find(argv[1]);
    return integer(it == zsets.end() ? 0 : static_cast<std::int64_t>(it->second.size()));
  }
  if (name == "ZPOPMIN") {
    if (argc != 2 && argc != 3) return arity(name);
    if (!type_ok(argv[1], zsets.contains(argv[1]))) return wrong_type();
    std::int64_t n = 1;
    if (argc == 3) {
      const auto parsed = parse_int(argv[2]);
      if (!parsed || *parsed < 0) return rejected("ERR value is out of range, must be positive");
      n = *parsed;
    }
    const auto it = zsets.find(argv[1]);
    if (it == zsets.end()) return array({});
    // Redis orders by score, then by member bytes.
    std::vector<std::pair<double, std::string>> order;
    for (const auto& [member, score] : it->second) order.emplace_back(score, member);
    std::sort(order.begin(), order.end());
    std::vector<Reply> out;
    for (std::int64_t i = 0; i < n && i < static_cast<std::int64_t>(order.size()); ++i) {
      out.push_back(bulk(order[i].second));
      out.push_back(bulk(format_score(order[i].first)));
      it->second.erase(order[i].second);
    }
    if (it->second.empty()) erase(argv[1]);
    return array(std::move(out));
  }
  if (name == "ZREM") {
    if (argc < 3) return arity(name);
    if (!type_ok(argv[1], zsets.contains(argv[1]))) return wrong_type();
    const auto it = zsets.find(argv[1]);
    if (it == zsets.end()) return integer(0);
    std::int64_t removed = 0;
    for (std::size_t i = 2; i < argc; ++i)
      removed += static_cast<std::int64_t>(it->second.erase(argv[i]));
    if (it->second.empty()) erase(argv[1]);
    return integer(removed);
  }
  if (name == "XADD") {
    if (argc < 5) return arity(name);
    return xadd(argv);
  }
  if (name == "XLEN") {
    if (argc != 2) return arity(name);
    if (!type_ok(argv[1], streams.contains(argv[1]))) return wrong_type();
    const auto it = streams.find(argv[1]);
    return integer(it == streams.end() ? 0 : static_cast<std::int64_t>(it->second.size()));
  }
  return rejected("ERR unknown command '" + argv.front() + "'");
}

Result<http::OutboundResponse, http::FetchError> FakeHttpClient::send(
    const http::OutboundRequest& r) {
  requests.push_back(r);
  if (on_send) on_send();
  return answer_;
}

void FakeHttpClient::answer(int status, std::string content_type, std::string body) {
  http::OutboundResponse r;
  r.status = status;
  if (!content_type.empty()) r.headers.emplace_back("content-type", std::move(content_type));
  r.body = std::move(body);
  answer_ = std::move(r);
}

void FakeHttpClient::fail(http::FetchError error) {
  answer_ = Err{error};
}

std::string FakeRandom::bytes(std::size_t n) {
  ++calls;
  sizes.push_back(n);
  if (!scripted_.empty()) {
    std::string next = std::move(scripted_.front());
    scripted_.pop_front();
    if (next.size() != n) {
      throw std::logic_error("FakeRandom: scripted " + std::to_string(next.size()) +
                             " bytes, asked for " + std::to_string(n));
    }
    return next;
  }
  return std::string(n, static_cast<char>(calls & 0xFF));
}

std::vector<std::string> CapturingSink::events(std::string_view event) const {
  const std::string needle = "\"event\":\"" + std::string(event) + "\"";
  std::vector<std::string> out;
  for (const auto& line : lines) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

}  // namespace credbroker::testing
