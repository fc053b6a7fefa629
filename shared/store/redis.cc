#include "shared/store/redis.h"

#include <openssl/crypto.h>

#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "shared/store/redis_cluster.h"
#include "shared/store/redis_connection.h"
#include "shared/util/strings.h"

namespace credbroker::store {

namespace {

using config::RedisEndpoint;
using config::RedisHost;
using ConnectionPtr = std::unique_ptr<Connection>;

RedisFailure unreachable(std::string detail) {
  return RedisFailure{RedisError::kUnreachable, std::move(detail)};
}

bool rejected_with(const Result<Reply, RedisFailure>& r, std::string_view prefix) {
  return !r && r.error().kind == RedisError::kRejected && r.error().detail.starts_with(prefix);
}

std::string node_name(const RedisHost& h) {
  return (h.host.find(':') != std::string::npos ? "[" + h.host + "]" : h.host) + ":" +
         std::to_string(h.port);
}

/** What every client shares: the endpoint, the timeouts and the TLS context. */
class Base : public Redis {
 public:
  explicit Base(const config::Redis& config) : endpoint_(config.endpoint) {
    settings_.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
    settings_.command_timeout = std::chrono::milliseconds(config.command_timeout_ms);
    if (endpoint_.tls.enabled) {
      auto tls = TlsContext::create(endpoint_.tls);
      if (tls) {
        settings_.tls = std::move(*tls);
      } else {
        setup_error_ = tls.error();
      }
    }
  }
  ~Base() override { OPENSSL_cleanse(endpoint_.password.data(), endpoint_.password.size()); }

  Result<Reply, RedisFailure> command(const std::vector<std::string>& argv) final {
    if (!setup_error_.empty()) return Err(unreachable(setup_error_));
    if (argv.empty()) return Err(RedisFailure{RedisError::kRejected, "empty command"});
    return run(argv);
  }

 protected:
  virtual Result<Reply, RedisFailure> run(const std::vector<std::string>& argv) = 0;

  /** A data node: connect, AUTH, SELECT. */
  Result<ConnectionPtr, RedisFailure> open_node(const RedisHost& host) {
    auto c = Connection::open_tcp(host, settings_);
    if (!c) return c;
    if (auto s = (*c)->setup(endpoint_.user, endpoint_.password, endpoint_.db); !s) {
      return Err(s.error());
    }
    return c;
  }

  /** Drops a connection that is gone: safe to replace before sending anything on it. */
  static void drop_if_dead(ConnectionPtr& c) {
    if (c && !c->idle_alive()) c.reset();
  }

  RedisEndpoint endpoint_;
  ConnectionSettings settings_;
  std::string setup_error_;
};

// ---------------------------------------------------------------------------------------------

class Single final : public Base {
 public:
  using Base::Base;

 private:
  Result<Reply, RedisFailure> run(const std::vector<std::string>& argv) override {
    drop_if_dead(conn_);
    if (!conn_) {
      auto opened = open();
      if (!opened) return Err(opened.error());
      conn_ = std::move(*opened);
    }
    auto r = conn_->exchange(argv);
    if (conn_->broken()) conn_.reset();
    return r;
  }

  Result<ConnectionPtr, RedisFailure> open() {
    if (endpoint_.socket_path.empty()) return open_node(endpoint_.hosts.front());
    auto c = Connection::open_unix(endpoint_.socket_path, settings_);
    if (!c) return c;
    if (auto s = (*c)->setup(endpoint_.user, endpoint_.password, endpoint_.db); !s) {
      return Err(s.error());
    }
    return c;
  }

  ConnectionPtr conn_;
};

// ---------------------------------------------------------------------------------------------

/**
 * Sentinel: the sentinels name the primary, which must say it is one (ROLE). The primary is looked
 * up again whenever its connection is gone or it answers READONLY (it was demoted), and, since
 * Sentinel promotes the new primary seconds before it demotes the old one (in between, writes to
 * the old one are acknowledged and then lost), the sentinels are asked again before a command
 * when the last answer is older than kRecheck. A command refused with READONLY did not run, so it
 * is sent once more to the new primary; one whose connection broke mid-exchange may have run and
 * is not sent again (the caller sees kUnreachable).
 */
class Sentinel final : public Base {
 public:
  using Base::Base;

 private:
  static constexpr auto kRecheck = std::chrono::seconds(1);
  using Clock = std::chrono::steady_clock;

  Result<Reply, RedisFailure> run(const std::vector<std::string>& argv) override {
    for (int attempt = 0;; ++attempt) {
      drop_if_dead(conn_);
      if (conn_ && Clock::now() - checked_ >= kRecheck) {
        // Sentinels that cannot be asked leave a working primary in use.
        checked_ = Clock::now();
        if (auto named = ask_any(); named && node_name(*named) != node_name(primary_)) {
          conn_.reset();
        }
      }
      if (!conn_) {
        auto found = discover();
        if (!found) return Err(found.error());
        conn_ = std::move(*found);
      }
      auto r = conn_->exchange(argv);
      if (conn_->broken()) {
        conn_.reset();
        return r;
      }
      if (attempt == 0 && rejected_with(r, "READONLY")) {
        conn_.reset();
        continue;
      }
      return r;
    }
  }

  Result<ConnectionPtr, RedisFailure> discover() {
    RedisFailure last = unreachable("sentinel: no sentinel answered");
    const std::size_t n = endpoint_.hosts.size();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = (preferred_ + i) % n;
      auto primary = ask(at);
      if (!primary) {
        last = primary.error();
        continue;
      }
      auto c = open_node(*primary);
      if (!c) {
        last = c.error();
        continue;
      }
      auto role = (*c)->exchange({"ROLE"});
      if (!role || role->type != Reply::Type::kArray || role->elements.empty() ||
          role->elements[0].str != "master") {
        last =
            role ? unreachable("sentinel: the named primary is not a primary (yet)") : role.error();
        continue;
      }
      preferred_ = at;
      primary_ = *primary;
      checked_ = Clock::now();
      return c;
    }
    return Err(std::move(last));
  }

  Result<RedisHost, RedisFailure> ask_any() {
    Result<RedisHost, RedisFailure> last = Err(unreachable("sentinel: no sentinel answered"));
    for (std::size_t i = 0; i < endpoint_.hosts.size(); ++i) {
      const std::size_t at = (preferred_ + i) % endpoint_.hosts.size();
      last = ask(at);
      if (last) {
        preferred_ = at;
        return last;
      }
    }
    return last;
  }

  /** SENTINEL get-master-addr-by-name on sentinel `at` (no AUTH: see README), over a connection
   *  kept for the next question. */
  Result<RedisHost, RedisFailure> ask(std::size_t at) {
    drop_if_dead(sentinel_conn_);
    if (sentinel_conn_ && sentinel_at_ != at) sentinel_conn_.reset();
    if (!sentinel_conn_) {
      auto c = Connection::open_tcp(endpoint_.hosts[at], settings_);
      if (!c) return Err(c.error());
      sentinel_conn_ = std::move(*c);
      sentinel_at_ = at;
    }
    auto r =
        sentinel_conn_->exchange({"SENTINEL", "get-master-addr-by-name", endpoint_.master_name});
    if (sentinel_conn_->broken()) sentinel_conn_.reset();
    if (!r) return Err(r.error());
    if (r->type != Reply::Type::kArray || r->elements.size() != 2) {
      return Err(unreachable("sentinel: the master name is unknown"));
    }
    RedisHost h;
    h.host = r->elements[0].str;
    const auto port = parse_int64(r->elements[1].str);
    if (h.host.empty() || !port || *port < 1 || *port > 65535) {
      return Err(unreachable("sentinel: malformed primary address"));
    }
    h.port = static_cast<int>(*port);
    return h;
  }

  static std::optional<std::int64_t> parse_int64(const std::string& s) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
  }

  ConnectionPtr conn_;
  RedisHost primary_;
  Clock::time_point checked_;
  ConnectionPtr sentinel_conn_;
  std::size_t sentinel_at_ = 0;
  std::size_t preferred_ = 0;
};

// ---------------------------------------------------------------------------------------------

/**
 * Cluster: the slot map from CLUSTER SLOTS (asked of a known node or a seed), each command sent to
 * the primary of its first key's slot (cluster::first_key), keyless commands to any primary. MOVED
 * updates the slot and reloads the map, then the command goes to the named node; ASK sends
 * ASKING and the command to the named node once. Both replies mean the command did not run, so
 * following them is safe; at most kMaxRedirects hops per command. TRYAGAIN (a multi-key command
 * while its slot migrates, some keys moved and some not) also means it did not run: the same
 * node is asked again after a pause that doubles, kTryAgainPauses in all (about one second),
 * since a migration moves a slot's keys in milliseconds.
 */
class Cluster final : public Base {
 public:
  using Base::Base;

 private:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::array<int, 8> kTryAgainPauses = {10, 20, 40, 80, 160, 250, 250, 250};  // ms

  Result<Reply, RedisFailure> run(const std::vector<std::string>& argv) override {
    if (!map_loaded_) {
      if (auto loaded = load_map(); !loaded) return Err(loaded.error());
    }
    if (iequals(argv[0], "SCRIPT") && argv.size() > 1 && iequals(argv[1], "LOAD")) {
      return broadcast(argv);
    }
    const auto key = cluster::first_key(argv);
    std::string node = key ? owner_[cluster::key_slot(argv[*key])] : std::string();
    if (node.empty()) node = any_primary();
    bool asking = false;
    std::size_t tries = 0;
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      auto r = send(node, argv, asking);
      if (!r && r.error().kind == RedisError::kRejected &&
          r.error().detail.starts_with("TRYAGAIN") && tries < kTryAgainPauses.size()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kTryAgainPauses[tries++]));
        --hop;  // not a redirection: the same node, asked again
        continue;
      }
      if (!r && r.error().kind == RedisError::kRejected) {
        if (const auto redirect = cluster::parse_redirect(r.error().detail)) {
          node = node_name(redirect->node);
          hosts_[node] = redirect->node;
          asking = redirect->ask;
          if (!asking) {
            owner_[redirect->slot] = node;
            (void)load_map();  // the map changed: take the whole new one when a node answers
          }
          continue;
        }
      }
      return r;
    }
    return Err(unreachable("cluster: too many redirections"));
  }

  /** One exchange on a node; a broken connection is dropped and the map reloaded next time. */
  Result<Reply, RedisFailure> send(const std::string& node, const std::vector<std::string>& argv,
                                   bool asking) {
    auto& conn = conns_[node];
    drop_if_dead(conn);
    if (!conn) {
      const auto host = hosts_.find(node);
      if (host == hosts_.end()) return Err(unreachable("cluster: unknown node"));
      auto opened = open_node(host->second);
      if (!opened) {
        map_loaded_ = false;
        return Err(opened.error());
      }
      conn = std::move(*opened);
    }
    if (asking) {
      auto ok = conn->exchange({"ASKING"});
      if (!ok) {
        if (conn->broken()) conn.reset();
        return ok;
      }
    }
    auto r = conn->exchange(argv);
    if (conn->broken()) {
      conn.reset();
      map_loaded_ = false;
    }
    return r;
  }

  /** SCRIPT LOAD goes to every primary, so that an EVALSHA finds the script wherever it lands. */
  Result<Reply, RedisFailure> broadcast(const std::vector<std::string>& argv) {
    const std::vector<std::string> primaries(primaries_.begin(), primaries_.end());
    Result<Reply, RedisFailure> last = Err(unreachable("cluster: no primary"));
    for (const auto& node : primaries) {
      last = send(node, argv, false);
      if (!last) return last;
    }
    return last;
  }

  std::string any_primary() const {
    return primaries_.empty() ? std::string() : *primaries_.begin();
  }

  /** CLUSTER SLOTS from a known primary, else from each seed in turn. */
  Result<Unit, RedisFailure> load_map() {
    std::vector<RedisHost> candidates;
    for (const auto& name : primaries_) candidates.push_back(hosts_.at(name));
    candidates.insert(candidates.end(), endpoint_.hosts.begin(), endpoint_.hosts.end());
    RedisFailure last = unreachable("cluster: no node answered");
    for (const auto& host : candidates) {
      const std::string name = node_name(host);
      hosts_[name] = host;
      auto r = send(name, {"CLUSTER", "SLOTS"}, false);
      if (!r) {
        last = r.error();
        continue;
      }
      if (apply_map(*r, host)) {
        map_loaded_ = true;
        return Unit{};
      }
      last = unreachable("cluster: malformed or incomplete CLUSTER SLOTS");
    }
    return Err(std::move(last));
  }

  bool apply_map(const Reply& slots, const RedisHost& asked) {
    if (slots.type != Reply::Type::kArray || slots.elements.empty()) return false;
    std::vector<std::string> owner(cluster::kSlots);
    std::set<std::string> primaries;
    std::map<std::string, RedisHost> hosts;
    for (const Reply& range : slots.elements) {
      if (range.type != Reply::Type::kArray || range.elements.size() < 3) return false;
      const Reply& node = range.elements[2];
      if (node.type != Reply::Type::kArray || node.elements.size() < 2) return false;
      const auto start = range.elements[0].integer;
      const auto end = range.elements[1].integer;
      if (start < 0 || end >= cluster::kSlots || start > end) return false;
      RedisHost h;
      // An empty or "?" endpoint means "the address you reached me at" (CLUSTER SLOTS, Redis 7).
      h.host = node.elements[0].str.empty() || node.elements[0].str == "?" ? asked.host
                                                                           : node.elements[0].str;
      h.port = static_cast<int>(node.elements[1].integer);
      const std::string name = node_name(h);
      hosts[name] = h;
      primaries.insert(name);
      for (auto s = start; s <= end; ++s) owner[static_cast<std::size_t>(s)] = name;
    }
    owner_ = std::move(owner);
    primaries_ = std::move(primaries);
    for (auto& [name, h] : hosts) hosts_[name] = h;
    return true;
  }

  bool map_loaded_ = false;
  std::vector<std::string> owner_ = std::vector<std::string>(cluster::kSlots);  // slot -> node
  std::set<std::string> primaries_;
  std::map<std::string, RedisHost> hosts_;  // every node seen, by "host:port"
  std::map<std::string, ConnectionPtr> conns_;
};

}  // namespace

std::unique_ptr<Redis> make_hiredis(const config::Redis& config) {
  switch (config.endpoint.mode) {
    case RedisEndpoint::Mode::kSentinel:
      return std::make_unique<Sentinel>(config);
    case RedisEndpoint::Mode::kCluster:
      return std::make_unique<Cluster>(config);
    case RedisEndpoint::Mode::kSingle:
      break;
  }
  return std::make_unique<Single>(config);
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
