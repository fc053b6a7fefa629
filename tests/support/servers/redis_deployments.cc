#include "tests/support/servers/redis_deployments.h"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace credbroker::testing {

namespace {

using Clock = std::chrono::steady_clock;

/** Polls `ready` every 50 ms until it holds or `limit` passes; throws `what` then. */
template <typename F>
void wait_until(F ready, std::chrono::seconds limit, const std::string& what) {
  const auto deadline = Clock::now() + limit;
  while (true) {
    try {
      if (ready()) return;
    } catch (const std::exception&) {
      // not up yet
    }
    if (Clock::now() >= deadline) throw std::runtime_error("timed out waiting for " + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

/** A command on any loopback port (the RedisServer helper is per server). */
store::Reply cli_at(int port, const std::vector<std::string>& argv) {
  auto redis = store::make_hiredis(redis_config("redis://127.0.0.1:" + std::to_string(port)));
  auto r = redis->command(argv);
  if (!r)
    throw std::runtime_error("redis at port " + std::to_string(port) + ": " + r.error().detail);
  return *r;
}

}  // namespace

std::string run_tool(const std::vector<std::string>& argv) {
  TempDir dir("credbroker-tool");
  ChildProcess child(ProcessOptions{
      .argv = argv, .env = {}, .stdout_path = dir.file("out"), .stderr_path = dir.file("out")});
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (child.running()) {
    if (Clock::now() >= deadline) {
      child.stop();
      throw std::runtime_error(argv[0] + " did not finish");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string out = read_file(dir.file("out"));
  const auto status = child.exit_status();
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw std::runtime_error(argv[0] + " failed:\n" + out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

TestCa::TestCa() {
  const auto key = [](const std::string& path) {
    return std::vector<std::string>{
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path};
  };
  const auto self_signed = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> argv = {"openssl", "req", "-x509"};
    const auto k = key(dir_.file(name + ".key"));
    argv.insert(argv.end(), k.begin(), k.end());
    argv.insert(argv.end(), {"-out", dir_.file(name + ".pem"), "-days", "2", "-subj", "/CN=" + cn});
    run_tool(argv);
  };
  const auto signed_by_ca = [&](const std::string& name, const std::string& cn,
                                const std::string& ext) {
    std::vector<std::string> req = {"openssl", "req"};
    const auto k = key(dir_.file(name + ".key"));
    req.insert(req.end(), k.begin(), k.end());
    req.insert(req.end(), {"-out", dir_.file(name + ".csr"), "-subj", "/CN=" + cn});
    run_tool(req);
    write_file(dir_.file(name + ".ext"), ext + "\n");
    run_tool({"openssl", "x509", "-req", "-in", dir_.file(name + ".csr"), "-CA", ca_file(),
              "-CAkey", dir_.file("ca.key"), "-CAcreateserial", "-out", dir_.file(name + ".pem"),
              "-days", "2", "-extfile", dir_.file(name + ".ext")});
  };
  self_signed("ca", "credbroker test CA");
  self_signed("other-ca", "credbroker other CA");
  signed_by_ca("server", "localhost",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  signed_by_ca("client", "credbroker", "extendedKeyUsage=clientAuth");
}

std::vector<std::string> TestCa::server_args(int tls_port) const {
  return {"--tls-port",         std::to_string(tls_port),
          "--tls-cert-file",    server_cert(),
          "--tls-key-file",     server_key(),
          "--tls-ca-cert-file", ca_file(),
          "--tls-auth-clients", "yes",
          "--tls-protocols",    "TLSv1.2 TLSv1.3"};
}

// ---------------------------------------------------------------------------------------------

RedisClusterDeployment::RedisClusterDeployment() {
  for (int i = 0; i < 3; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(
        RedisServerOptions{.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file",
                                          "nodes.conf", "--cluster-node-timeout", "3000"}}));
  }
  std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
  for (const auto& n : nodes_) argv.push_back("127.0.0.1:" + std::to_string(n->port()));
  argv.push_back("--cluster-yes");
  run_tool(argv);
  wait_until_ok();
}

void RedisClusterDeployment::wait_until_ok() {
  wait_until(
      [&] {
        for (const auto& n : nodes_) {
          if (n->cli({"CLUSTER", "INFO"}).str.find("cluster_state:ok") == std::string::npos) {
            return false;
          }
          if (n->cli({"CLUSTER", "SLOTS"}).elements.size() != nodes_.size()) return false;
        }
        return true;
      },
      std::chrono::seconds(30), "the cluster to agree");
}

std::string RedisClusterDeployment::url() const {
  return "redis-cluster://127.0.0.1:" + std::to_string(nodes_[0]->port()) +
         ",127.0.0.1:" + std::to_string(nodes_[1]->port());
}

std::string RedisClusterDeployment::node_id(std::size_t i) {
  return node(i).cli({"CLUSTER", "MYID"}).str;
}

std::size_t RedisClusterDeployment::owner(int slot) {
  for (const auto& range : nodes_[0]->cli({"CLUSTER", "SLOTS"}).elements) {
    if (range.elements[0].integer <= slot && slot <= range.elements[1].integer) {
      const auto port = range.elements[2].elements[1].integer;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i]->port() == port) return i;
      }
    }
  }
  throw std::runtime_error("no owner for slot " + std::to_string(slot));
}

void RedisClusterDeployment::begin_migration(int slot, std::size_t from, std::size_t to) {
  const std::string s = std::to_string(slot);
  node(to).cli({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)});
  node(from).cli({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)});
}

int RedisClusterDeployment::migrate_keys(int slot, std::size_t from, std::size_t to, int max) {
  const auto keys =
      node(from).cli({"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(max)});
  if (keys.elements.empty()) return 0;
  std::vector<std::string> argv = {"MIGRATE", "127.0.0.1", std::to_string(node(to).port()), "", "0",
                                   "5000",    "KEYS"};
  for (const auto& k : keys.elements) argv.push_back(k.str);
  node(from).cli(argv);
  return static_cast<int>(keys.elements.size());
}

void RedisClusterDeployment::end_migration(int slot, std::size_t to) {
  const std::string id = node_id(to);
  for (auto& n : nodes_) n->cli({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id});
  wait_until([&] { return owner(slot) == to; }, std::chrono::seconds(10), "the slot to move");
}

// ---------------------------------------------------------------------------------------------

RedisSentinelDeployment::RedisSentinelDeployment() {
  // No delay before a full sync: a replica (re)joining is online in milliseconds, not after
  // redis-server's default 5 s wait for more replicas.
  const std::vector<std::string> no_sync_delay = {"--repl-diskless-sync-delay", "0"};
  servers_.push_back(
      std::make_unique<RedisServer>(RedisServerOptions{.extra_args = no_sync_delay}));
  const std::string primary = std::to_string(servers_[0]->port());
  auto replica_args = no_sync_delay;
  replica_args.insert(replica_args.end(), {"--replicaof", "127.0.0.1", primary});
  servers_.push_back(
      std::make_unique<RedisServer>(RedisServerOptions{.extra_args = std::move(replica_args)}));
  wait_until(
      [&] {
        return servers_[1]->cli({"INFO", "replication"}).str.find("master_link_status:up") !=
               std::string::npos;
      },
      std::chrono::seconds(20), "the replica to sync");
  for (int i = 0; i < 3; ++i) {
    const int port = free_port();
    const std::string conf = dir_.file("sentinel" + std::to_string(i) + ".conf");
    write_file(conf, "port " + std::to_string(port) +
                         "\nbind 127.0.0.1\n"
                         "sentinel monitor main 127.0.0.1 " +
                         primary +
                         " 2\n"
                         "sentinel down-after-milliseconds main 1000\n"
                         "sentinel failover-timeout main 10000\n"
                         "sentinel parallel-syncs main 1\n");
    sentinels_.emplace_back(
        ProcessOptions{.argv = {"/usr/bin/redis-server", conf, "--sentinel", "--dir", dir_.path()},
                       .env = {},
                       .stdout_path = dir_.file("sentinel" + std::to_string(i) + ".log"),
                       .stderr_path = dir_.file("sentinel" + std::to_string(i) + ".log")});
    sentinel_ports_.push_back(port);
  }
  // Each sentinel knows the replica and the two other sentinels, so a failover can be agreed.
  wait_until(
      [&] {
        for (int port : sentinel_ports_) {
          if (cli_at(port, {"SENTINEL", "replicas", "main"}).elements.size() != 1) return false;
          if (cli_at(port, {"SENTINEL", "sentinels", "main"}).elements.size() != 2) return false;
        }
        return true;
      },
      std::chrono::seconds(30), "the sentinels to discover each other");
}

RedisSentinelDeployment::~RedisSentinelDeployment() {
  for (auto& s : sentinels_) s.stop();
}

std::string RedisSentinelDeployment::url() const {
  std::string url = "redis-sentinel://";
  for (std::size_t i = 0; i < sentinel_ports_.size(); ++i) {
    url += (i == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(sentinel_ports_[i]);
  }
  return url + "/main";
}

int RedisSentinelDeployment::primary_port() {
  for (int port : sentinel_ports_) {
    try {
      const auto r = cli_at(port, {"SENTINEL", "get-master-addr-by-name", "main"});
      return std::stoi(r.elements.at(1).str);
    } catch (const std::exception&) {
      // try the next sentinel
    }
  }
  throw std::runtime_error("no sentinel names a primary");
}

RedisServer& RedisSentinelDeployment::server(int port) {
  for (auto& s : servers_) {
    if (s->port() == port) return *s;
  }
  throw std::runtime_error("no server on port " + std::to_string(port));
}

int RedisSentinelDeployment::kill_primary() {
  const int port = primary_port();
  server(port).kill();
  return port;
}

int RedisSentinelDeployment::wait_for_failover(int old_port) {
  int now = old_port;
  wait_until(
      [&] {
        now = primary_port();
        if (now == old_port) return false;
        const auto role = server(now).cli({"ROLE"});
        return role.elements.at(0).str == "master";
      },
      std::chrono::seconds(60), "the sentinels to promote the replica");
  return now;
}

void RedisSentinelDeployment::restart_stopped() {
  // A restarted server comes back as a primary of its own. The sentinels would demote it only
  // after watching it for several of their periods (8 s and more, longer on a loaded machine), so
  // the test does at once what they would do: make it a replica of the current primary.
  const int primary = primary_port();
  for (auto& server : servers_) {
    if (server->running()) continue;
    server->start();
    server->cli({"REPLICAOF", "127.0.0.1", std::to_string(primary)});
  }
  wait_until(
      [&] {
        for (auto& server : servers_) {
          if (server->port() == primary) continue;
          if (server->cli({"INFO", "replication"}).str.find("master_link_status:up") ==
              std::string::npos) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(60), "the restarted servers to replicate the primary");
}

int RedisSentinelDeployment::switch_over() {
  const int old_port = primary_port();
  wait_until(
      [&] {
        return server(old_port).cli({"INFO", "replication"}).str.find("state=online") !=
               std::string::npos;
      },
      std::chrono::seconds(60), "a replica to be online");
  wait_until(
      [&] {
        cli_at(sentinel_ports_[0], {"SENTINEL", "FAILOVER", "main"});
        return true;
      },
      std::chrono::seconds(30), "a sentinel to accept the failover");
  const int now = wait_for_failover(old_port);
  // The other sentinels learn the new primary from the one that switched, seconds later on a
  // loaded machine; until then one of them may still name the old primary, which still takes
  // writes. A client follows whichever sentinel answers it, so wait until all agree.
  wait_until(
      [&] {
        for (int port : sentinel_ports_) {
          const auto r = cli_at(port, {"SENTINEL", "get-master-addr-by-name", "main"});
          if (r.elements.size() != 2 || std::stoi(r.elements.at(1).str) != now) return false;
        }
        return true;
      },
      std::chrono::seconds(60), "every sentinel to name the new primary");
  return now;
}

}  // namespace credbroker::testing
