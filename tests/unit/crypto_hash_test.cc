#define BOOST_TEST_MODULE crypto_hash
#include <boost/test/unit_test.hpp>
#include <string>

#include "shared/crypto/hash.h"
#include "shared/util/strings.h"

namespace credbroker::crypto {

// FIPS 180-4 examples (NIST CSRC "SHA-256" example values) and the empty string.
BOOST_AUTO_TEST_CASE(sha256_hex_matches_the_published_test_vectors) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

BOOST_AUTO_TEST_CASE(sha256_returns_32_raw_bytes_that_hex_encode_to_sha256_hex) {
  const std::string digest = sha256("abc");
  BOOST_TEST(digest.size() == 32u);
  BOOST_TEST(to_hex(digest) == sha256_hex("abc"));
}

BOOST_AUTO_TEST_CASE(sha256_hashes_embedded_nul_bytes) {
  BOOST_TEST(sha256_hex(std::string("a\0b", 3)) != sha256_hex("a"));
  BOOST_TEST(sha256_hex(std::string("\0", 1)) ==
             "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

}  // namespace credbroker::crypto
