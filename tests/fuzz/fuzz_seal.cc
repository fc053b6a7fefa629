// Fuzzes opening sealed records (crypto::open) with a fixed keyring: whatever Redis holds, open
// returns a value or an OpenError and never reads out of bounds.
//
// First byte even: the rest is a record, opened as read from Redis.
// First byte odd:  the rest is "<plaintext>" sealed here, then one byte of the record (chosen by
//                  the second byte) is flipped: the intact record must open to the plaintext and
//                  the altered one must not open at all.

#include <cstdint>
#include <string>

#include "shared/crypto/keyring.h"
#include "shared/crypto/seal.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

namespace {

/** Nonces from a counter: the fuzzer's runs stay reproducible. */
class CountingRandom final : public crypto::Random {
 public:
  std::string bytes(std::size_t n) override {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n && i < sizeof(counter_); ++i) {
      out[i] = static_cast<char>((counter_ >> (8 * i)) & 0xFF);
    }
    ++counter_;
    return out;
  }

 private:
  std::uint64_t counter_ = 1;
};

const crypto::Keyring& keyring() {
  // Two fuzzing keys: "k2" seals, both open (a rotation in progress).
  static const crypto::Keyring ring = [] {
    crypto::Key k2{"k2", std::string(32, '\x22')};
    crypto::Key k1{"k1", std::string(32, '\x11')};
    return crypto::Keyring({k2, k1});
  }();
  return ring;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const crypto::SealContext where{"alice", "github_0123456789abcdef", "credential"};
  fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  if (mode % 2 == 0) {
    (void)crypto::open(keyring(), where, in.rest());
    (void)crypto::open(keyring(), {"bob", "github_0123456789abcdef", "flow"}, in.rest());
    return 0;
  }
  const std::uint8_t at = in.byte();
  const std::uint8_t mask = in.byte() | 1;  // never zero: the record must change
  const std::string plaintext(in.rest());
  static CountingRandom random;
  std::string record = crypto::seal(keyring(), random, where, plaintext);
  const auto opened = crypto::open(keyring(), where, record);
  fuzz::require(opened && *opened == plaintext, "a sealed record opens to its plaintext");
  fuzz::require(!crypto::open(keyring(), {"bob", where.server_key, where.kind}, record),
                "a record moved to another user does not open");
  record[at % record.size()] = static_cast<char>(record[at % record.size()] ^ mask);
  fuzz::require(!crypto::open(keyring(), where, record), "an altered record does not open");
  return 0;
}
