#pragma once
// One redis-server for a whole unit-test module, started and stopped by its global fixture, and
// a case fixture that hands each case a running, empty server:
//
//   BOOST_TEST_GLOBAL_FIXTURE(OneRedisServer);
//   BOOST_FIXTURE_TEST_SUITE(store, FreshServer)  ... server().cli({...}) ...
//
// A module that needs options derives: struct Guarded : OneRedisServer { Guarded() :
// OneRedisServer({.password = "p"}) {} }; BOOST_TEST_GLOBAL_FIXTURE(Guarded);

#include <utility>

#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"

namespace credbroker::testing {

class OneRedisServer : public SuiteInstance<OneRedisServer> {
 public:
  explicit OneRedisServer(RedisServerOptions options = {}) : redis(std::move(options)) {}
  RedisServer redis;
};

/** The module's server; only while its cases run. */
inline RedisServer& server() {
  return OneRedisServer::get().redis;
}

/** Whatever the last case did (stopped, paused, filled): running and empty. */
struct FreshServer {
  FreshServer() {
    server().ensure_running();
    server().flushall();
  }
};

}  // namespace credbroker::testing
