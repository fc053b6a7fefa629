// PKCE (RFC 7636) and the flow state: the Appendix B test vector, and the shape of what
// make_code_verifier / make_state draw, with randomness pinned by a fake and drawn for real.
#define BOOST_TEST_MODULE crypto_pkce
#include <boost/test/unit_test.hpp>
#include <set>
#include <string>

#include "shared/crypto/pkce.h"
#include "tests/support/fakes/fakes.h"

namespace credbroker::crypto {
namespace {

// RFC 7636 Appendix B: the 32 octets, the verifier they encode to, and its S256 challenge.
constexpr unsigned char kAppendixBOctets[] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                              125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                              191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
constexpr char kAppendixBVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr char kAppendixBChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** RFC 7636 §4.1: code-verifier = 43*128unreserved; we draw base64url, a subset. */
bool is_base64url(const std::string& s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(s256_challenge_matches_rfc7636_appendix_b) {
  BOOST_TEST(s256_challenge(kAppendixBVerifier) == kAppendixBChallenge);
}

BOOST_AUTO_TEST_CASE(verifier_is_base64url_of_32_random_bytes_as_in_appendix_b) {
  testing::FakeRandom random;
  random.script(
      std::string(reinterpret_cast<const char*>(kAppendixBOctets), sizeof kAppendixBOctets));
  BOOST_TEST(make_code_verifier(random) == kAppendixBVerifier);
  BOOST_TEST(random.calls == 1u);
  BOOST_TEST(random.sizes.at(0) == 32u);
}

BOOST_AUTO_TEST_CASE(state_is_base64url_of_32_random_bytes) {
  testing::FakeRandom random;
  random.script(std::string(32, '\xff'));
  BOOST_TEST(make_state(random) == "__________________________________________8");
  BOOST_TEST(random.calls == 1u);
  BOOST_TEST(random.sizes.at(0) == 32u);
}

BOOST_AUTO_TEST_CASE(challenge_is_43_characters_without_padding) {
  for (const char* v : {"", "a", kAppendixBVerifier}) {
    const std::string c = s256_challenge(v);
    BOOST_TEST(c.size() == 43u);
    BOOST_TEST(is_base64url(c), c);
  }
  BOOST_TEST(s256_challenge("a") != s256_challenge("b"));
}

BOOST_AUTO_TEST_CASE(drawn_verifiers_and_states_have_the_rfc_length_alphabet_and_differ) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string verifier = make_code_verifier(system_random());
    const std::string state = make_state(system_random());
    for (const auto& s : {verifier, state}) {
      BOOST_TEST(s.size() == 43u);  // RFC 7636 §4.1: 43..128 characters
      BOOST_TEST(is_base64url(s), s);
      BOOST_TEST(seen.insert(s).second, "drawn twice: " << s);
    }
  }
}

}  // namespace credbroker::crypto
