#define BOOST_TEST_MODULE crypto_random
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "shared/crypto/random.h"

namespace credbroker::crypto {

BOOST_AUTO_TEST_CASE(system_random_returns_exactly_the_requested_number_of_bytes) {
  for (std::size_t n : {0, 1, 12, 32, 4096}) BOOST_TEST(system_random().bytes(n).size() == n);
}

BOOST_AUTO_TEST_CASE(system_random_does_not_repeat_itself) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(system_random().bytes(16));
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(system_random_is_one_shared_instance) {
  BOOST_TEST(&system_random() == &system_random());
}

}  // namespace credbroker::crypto
