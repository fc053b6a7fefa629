#pragma once
// Redis deployments for the connection-mode tests, all on loopback and started by the tests: a
// test CA with server and client certificates (OpenSSL CLI), a 3-primary Cluster
// (`redis-cli --cluster create`) with a slot-migration helper, and a primary + replica + 3
// sentinels that can lose the primary. Every wait is bounded; everything stops with the object.

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

/** Runs a tool to completion (bounded: 60 s); throws with its output when it fails. */
std::string run_tool(const std::vector<std::string>& argv);

/** A throw-away CA; server certificates name localhost and 127.0.0.1. */
class TestCa {
 public:
  TestCa();
  std::string ca_file() const { return dir_.file("ca.pem"); }
  std::string server_cert() const { return dir_.file("server.pem"); }
  std::string server_key() const { return dir_.file("server.key"); }
  std::string client_cert() const { return dir_.file("client.pem"); }
  std::string client_key() const { return dir_.file("client.key"); }
  /** A CA that signed nothing here: trusting only it must fail the handshake. */
  std::string other_ca_file() const { return dir_.file("other-ca.pem"); }
  /** redis-server arguments for a TLS port requiring a client certificate from this CA. */
  std::vector<std::string> server_args(int tls_port) const;

 private:
  TempDir dir_{"credbroker-ca"};
};

/** Three primaries, no replicas, slots spread by redis-cli. */
class RedisClusterDeployment {
 public:
  RedisClusterDeployment();
  RedisServer& node(std::size_t i) { return *nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }
  /** "redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>" (two seeds of three). */
  std::string url() const;
  std::string node_id(std::size_t i);
  /** The node index owning `slot` (from node 0's CLUSTER SLOTS). */
  std::size_t owner(int slot);
  /** First half of a migration: IMPORTING on `to`, MIGRATING on `from`. */
  void begin_migration(int slot, std::size_t from, std::size_t to);
  /** MIGRATE up to `max` keys of the slot from `from` to `to`; returns how many moved. */
  int migrate_keys(int slot, std::size_t from, std::size_t to, int max);
  /** CLUSTER SETSLOT <slot> NODE <to> on every node. */
  void end_migration(int slot, std::size_t to);

 private:
  void wait_until_ok();
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

/** Primary + replica + 3 sentinels monitoring "main" (quorum 2, down after 1 s). */
class RedisSentinelDeployment {
 public:
  RedisSentinelDeployment();
  ~RedisSentinelDeployment();
  /** "redis-sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>,127.0.0.1:<s3>/main". */
  std::string url() const;
  /** The port the sentinels currently name as the primary. */
  int primary_port();
  RedisServer& server(int port);
  /** SIGKILL on the current primary; returns its port. */
  int kill_primary();
  /** Waits (bounded) until the sentinels name a primary other than `old_port` and it answers as
   *  a primary; returns its port. */
  int wait_for_failover(int old_port);
  /** Starts every stopped server again (the sentinels make it a replica of the primary). */
  void restart_stopped();
  /** SENTINEL FAILOVER (a planned switch, the old primary demoted, alive): retried until a
   *  replica is good enough, then waits until every sentinel names the new primary (bounded);
   *  returns its port. */
  int switch_over();

 private:
  std::vector<std::unique_ptr<RedisServer>> servers_;
  TempDir dir_{"credbroker-sentinel"};
  std::vector<int> sentinel_ports_;
  std::vector<ChildProcess> sentinels_;
};

}  // namespace credbroker::testing
