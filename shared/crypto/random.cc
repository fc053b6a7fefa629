#include "shared/crypto/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace credbroker::crypto {

namespace {
class SystemRandom final : public Random {
 public:
  std::string bytes(std::size_t n) override {
    std::string out(n, '\0');
    if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
      // Without randomness no state, nonce or verifier is safe: stop rather than continue.
      std::fputs("{\"level\":\"error\",\"event\":\"csprng_failed\"}\n", stderr);
      std::abort();
    }
    return out;
  }
};
}  // namespace

Random& system_random() {
  static SystemRandom r;
  return r;
}

}  // namespace credbroker::crypto
