#pragma once
// The one shape of a black-box test module: its servers (Redis, fronts, fakes) start once, in a
// Boost.Test global fixture, and every case reaches them through S(). A module writes
//
//   struct Suite : SuiteInstance<Suite> { RedisServer redis; ... };
//   CREDBROKER_TEST_SUITE(Suite)
//
// and gets S(), the running instance.

#include <boost/test/unit_test.hpp>

namespace credbroker::testing {

template <class Fixture>
class SuiteInstance {
 public:
  SuiteInstance(const SuiteInstance&) = delete;
  SuiteInstance& operator=(const SuiteInstance&) = delete;
  /** The running fixture; only while the module's cases run. */
  static Fixture& get() { return *current(); }

 protected:
  SuiteInstance() { current() = static_cast<Fixture*>(this); }
  ~SuiteInstance() { current() = nullptr; }

 private:
  static Fixture*& current() {
    static Fixture* instance = nullptr;
    return instance;
  }
};

}  // namespace credbroker::testing

/** Registers `Fixture` as the module's global fixture and defines S(), its running instance. */
#define CREDBROKER_TEST_SUITE(Fixture) \
  BOOST_TEST_GLOBAL_FIXTURE(Fixture);  \
  [[maybe_unused]] Fixture& S() {      \
    return Fixture::get();             \
  }
