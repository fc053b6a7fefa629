#define BOOST_TEST_MODULE crypto_keyring
#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/crypto/keyring.h"

namespace credbroker::crypto {
namespace {

// 32 distinct bytes starting at `first`, and their standard base64.
std::string key_bytes(unsigned char first, std::size_t size = 32) {
  std::string out;
  for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>(first + i));
  return out;
}
std::string b64(unsigned char first, std::size_t size = 32) {
  return base64_encode(key_bytes(first, size));
}

// The error, for a failure message; Boost evaluates the message even when the check passes.
std::string why(const Result<Keyring, std::string>& r) {
  return r.ok() ? "" : r.error();
}

std::string parse_error(const std::string& spec) {
  auto r = Keyring::parse(spec);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "spec unexpectedly parsed: " << spec);
  return r.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_entries_parse_and_the_first_is_primary) {
  auto r = Keyring::parse("k2:" + b64(100) + ",k1:" + b64(1));
  BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
  const Keyring& ring = *r;
  BOOST_TEST(!ring.empty());
  BOOST_TEST(ring.primary().id == "k2");
  BOOST_TEST(ring.primary().bytes == key_bytes(100));
  BOOST_REQUIRE(ring.find("k1") != nullptr);
  BOOST_TEST(ring.find("k1")->bytes == key_bytes(1));
  BOOST_TEST(ring.find("k3") == nullptr);
  BOOST_TEST(ring.find("") == nullptr);
}

BOOST_AUTO_TEST_CASE(empty_or_whitespace_spec_gives_an_empty_keyring) {
  for (const char* spec : {"", " ", "\t\r\n "}) {
    auto r = Keyring::parse(spec);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->empty());
  }
}

BOOST_AUTO_TEST_CASE(whitespace_around_entries_is_trimmed) {
  auto r = Keyring::parse("  k1:" + b64(1) + " ,\n\tk2:" + b64(50) + "\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
  BOOST_TEST(r->primary().id == "k1");
  BOOST_TEST(r->find("k2") != nullptr);
}

BOOST_AUTO_TEST_CASE(ids_may_use_letters_digits_dot_underscore_dash_up_to_64_characters) {
  const std::string longest(64, 'x');
  auto r = Keyring::parse("Key_2024-01.a:" + b64(1) + "," + longest + ":" + b64(2));
  BOOST_REQUIRE_MESSAGE(r.ok(), why(r));
  BOOST_TEST(r->find("Key_2024-01.a") != nullptr);
  BOOST_TEST(r->find(longest) != nullptr);
}

BOOST_AUTO_TEST_CASE(entry_without_a_colon_is_rejected_with_the_expected_syntax) {
  BOOST_TEST(parse_error("k1" + b64(1)) == "CREDBROKER_KEYS entry 1: expected \"id:base64key\"");
}

BOOST_AUTO_TEST_CASE(empty_id_empty_key_and_empty_entries_are_rejected) {
  const std::string good = "k1:" + b64(1);
  BOOST_TEST(parse_error(":" + b64(1)) == "CREDBROKER_KEYS entry 1: expected \"id:base64key\"");
  BOOST_TEST(parse_error(good + ",k2:") == "CREDBROKER_KEYS entry 2: expected \"id:base64key\"");
  BOOST_TEST(parse_error(good + ",," + good) ==
             "CREDBROKER_KEYS entry 2: expected \"id:base64key\"");
  BOOST_TEST(parse_error(good + ",") == "CREDBROKER_KEYS entry 2: expected \"id:base64key\"");
  BOOST_TEST(parse_error(good + ",  ") == "CREDBROKER_KEYS entry 2: expected \"id:base64key\"");
}

BOOST_AUTO_TEST_CASE(short_key_is_rejected_with_its_decoded_length) {
  BOOST_TEST(parse_error("k1:" + b64(1) + ",k2:" + b64(1, 16)) ==
             "CREDBROKER_KEYS entry 2: key must decode to 32 bytes (got 16)");
  BOOST_TEST(parse_error("k1:" + b64(1, 33)) ==
             "CREDBROKER_KEYS entry 1: key must decode to 32 bytes (got 33)");
}

BOOST_AUTO_TEST_CASE(duplicate_id_is_rejected) {
  BOOST_TEST(parse_error("k1:" + b64(1) + ",k1:" + b64(2)) ==
             "CREDBROKER_KEYS entry 2: duplicate key id \"k1\"");
}

BOOST_AUTO_TEST_CASE(key_that_is_not_standard_padded_base64_is_rejected) {
  const std::string std_b64 = b64(0xF0);  // high bytes, so the text holds '+' or '/'
  BOOST_REQUIRE(std_b64.find_first_of("+/") != std::string::npos);
  std::string url = std_b64;
  for (auto& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  std::string unpadded = std_b64;
  unpadded.pop_back();

  for (const std::string& key :
       {url, unpadded, std::string("not base64!"), std_b64 + "AAAA=", " " + std_b64.substr(1)}) {
    BOOST_TEST(parse_error("k1:" + key) == "CREDBROKER_KEYS entry 1: key is not valid base64",
               "key text: " << key);
  }
}

BOOST_AUTO_TEST_CASE(bad_id_is_rejected_without_quoting_it) {
  for (const std::string& id : {std::string(65, 'x'), std::string("k 1"), std::string("k/1"),
                                std::string("ключ"), std::string("k\"1")}) {
    BOOST_TEST(parse_error(id + ":" + b64(1)) ==
               "CREDBROKER_KEYS entry 1: key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  }
}

BOOST_AUTO_TEST_CASE(errors_never_contain_key_material) {
  const std::string key = b64(7);
  const std::string short_key = b64(9, 16);
  const std::vector<std::string> specs = {
      "k1:" + key + ",k2:" + short_key,  // wrong size
      "k1:" + key + ",k1:" + key,        // duplicate
      "k1:" + key + ",k2:" + key + "!",  // not base64
      "k1:" + key + "," + key,           // no colon
      key + ":k1",                       // id and key swapped
      "k1:" + key + ",k2:" + key + ",",  // empty entry
  };
  for (const auto& spec : specs) {
    const std::string error = parse_error(spec);
    BOOST_TEST(error.find(key) == std::string::npos, error);
    BOOST_TEST(error.find(key.substr(0, 8)) == std::string::npos, error);
    BOOST_TEST(error.find(short_key.substr(0, 8)) == std::string::npos, error);
  }
}

BOOST_AUTO_TEST_CASE(moved_keyring_keeps_its_keys_and_leaves_the_source_empty) {
  auto parsed = Keyring::parse("k1:" + b64(1));
  BOOST_REQUIRE(parsed.ok());
  Keyring first = std::move(*parsed);
  BOOST_TEST(parsed->empty());

  Keyring second(std::move(first));
  BOOST_TEST(first.empty());  // NOLINT(bugprone-use-after-move): the state after a move is the spec
  BOOST_REQUIRE(!second.empty());
  BOOST_TEST(second.primary().bytes == key_bytes(1));

  Keyring third(std::vector<Key>{{"k9", key_bytes(9)}});
  third = std::move(second);
  BOOST_TEST(second.empty());  // NOLINT(bugprone-use-after-move)
  BOOST_TEST(third.primary().id == "k1");
  BOOST_TEST(third.find("k9") == nullptr);
}

BOOST_AUTO_TEST_CASE(constructing_from_invalid_keys_throws_without_key_material) {
  const auto message = [](std::vector<Key> keys) -> std::string {
    try {
      Keyring ring(std::move(keys));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  const std::string secret = "0123456789abcdef";
  BOOST_TEST(message({{"k1", secret}}) == "Keyring key 1: key must decode to 32 bytes (got 16)");
  BOOST_TEST(message({{"k1", key_bytes(1)}, {"k1", key_bytes(2)}}) ==
             "Keyring key 2: duplicate key id \"k1\"");
  BOOST_TEST(message({{"", key_bytes(1)}}) ==
             "Keyring key 1: key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
  BOOST_TEST(message({{"k1", key_bytes(1)}}) == "no exception");
}

}  // namespace credbroker::crypto
