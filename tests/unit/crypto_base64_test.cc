#define BOOST_TEST_MODULE crypto_base64
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "shared/crypto/base64.h"

namespace credbroker::crypto {
namespace {

// RFC 4648 §10.
const std::vector<std::pair<std::string, std::string>> kVectors = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

// Printable stand-in for a failed decode, so BOOST_TEST can show both sides.
std::string or_invalid(const std::optional<std::string>& decoded) {
  return decoded.value_or("<invalid>");
}

std::string unpadded(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(standard_base64_matches_rfc4648_test_vectors) {
  for (const auto& [plain, encoded] : kVectors) {
    BOOST_TEST(base64_encode(plain) == encoded);
    const auto decoded = base64_decode(encoded);
    BOOST_REQUIRE_MESSAGE(decoded.has_value(), encoded);
    BOOST_TEST(*decoded == plain);
  }
}

BOOST_AUTO_TEST_CASE(base64url_matches_rfc4648_test_vectors_without_padding) {
  for (const auto& [plain, encoded] : kVectors) {
    BOOST_TEST(base64url_encode(plain) == unpadded(encoded));
    const auto decoded = base64url_decode(unpadded(encoded));
    BOOST_REQUIRE_MESSAGE(decoded.has_value(), encoded);
    BOOST_TEST(*decoded == plain);
  }
}

BOOST_AUTO_TEST_CASE(base64url_uses_dash_and_underscore_where_base64_uses_plus_and_slash) {
  const std::string bytes = "\xfb\xff\xbf";
  BOOST_TEST(base64_encode(bytes) == "+/+/");
  BOOST_TEST(base64url_encode(bytes) == "-_-_");
  BOOST_TEST(or_invalid(base64url_decode("-_-_")) == bytes);
  BOOST_TEST(or_invalid(base64_decode("+/+/")) == bytes);
  BOOST_TEST(!base64url_decode("+/+/").has_value());
  BOOST_TEST(!base64_decode("-_-_").has_value());
}

BOOST_AUTO_TEST_CASE(base64url_accepts_padding_only_when_it_is_correct) {
  BOOST_TEST(or_invalid(base64url_decode("Zg==")) == std::string("f"));
  BOOST_TEST(or_invalid(base64url_decode("Zm8=")) == std::string("fo"));
  for (const char* bad :
       {"Zg=", "Zg===", "Zm8==", "Zm9v=", "Zm9v====", "=", "==", "Z===", "Zg==Zg==", "Z=g="}) {
    BOOST_TEST(!base64url_decode(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(standard_base64_requires_padding) {
  for (const char* bad : {"Zg", "Zm8", "Zm9vYg", "Zg=", "Zm8==", "Zg===", "="}) {
    BOOST_TEST(!base64_decode(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(non_zero_trailing_bits_are_rejected_so_each_value_has_one_encoding) {
  // "Zh==" and "Zg==" would both mean "f" if the last 4 bits were ignored.
  for (const char* bad : {"Zh==", "Zm9=", "Zm/="}) {
    BOOST_TEST(!base64_decode(bad).has_value(), bad);
    BOOST_TEST(!base64url_decode(bad).has_value(), bad);
  }
  BOOST_TEST(!base64url_decode("Zh").has_value());
  BOOST_TEST(!base64url_decode("Zm9").has_value());
}

BOOST_AUTO_TEST_CASE(characters_outside_the_alphabet_are_rejected) {
  const std::vector<std::string> inputs = {
      "Zm9v YmFy",      "Zm9v\nYmFy", "Zm9v\r\n", " Zm9v", "Zm9v*mFy", std::string("Zm9v\0mFy", 8),
      "Zm9v\xc3\xa9mF", "Zg=a"};
  for (const std::string& bad : inputs) {
    BOOST_TEST(!base64_decode(bad).has_value(), bad);
    BOOST_TEST(!base64url_decode(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(lengths_that_no_encoding_produces_are_rejected) {
  for (const char* bad : {"Z", "Zm9vY", "Zm9vYmFyZ"}) {
    BOOST_TEST(!base64_decode(bad).has_value(), bad);
    BOOST_TEST(!base64url_decode(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(every_byte_string_round_trips_through_both_alphabets) {
  std::mt19937 gen(42);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t size = 0; size <= 70; ++size) {
    for (int round = 0; round < 20; ++round) {
      std::string bytes(size, '\0');
      for (auto& c : bytes) c = static_cast<char>(byte(gen));
      BOOST_REQUIRE(base64_decode(base64_encode(bytes)) == bytes);
      BOOST_REQUIRE(base64url_decode(base64url_encode(bytes)) == bytes);
    }
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  BOOST_TEST(or_invalid(base64_decode(base64_encode(all))) == all);
  BOOST_TEST(or_invalid(base64url_decode(base64url_encode(all))) == all);
}

BOOST_AUTO_TEST_CASE(base64url_output_never_holds_padding_or_standard_only_characters) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (std::size_t size = 0; size < 8; ++size) {
    const auto text = base64url_encode(all.substr(250 - size));
    BOOST_TEST(text.find_first_of("+/=") == std::string::npos, text);
  }
}

}  // namespace credbroker::crypto
