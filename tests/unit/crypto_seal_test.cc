#define BOOST_TEST_MODULE crypto_seal
#include <openssl/evp.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/crypto/seal.h"
#include "shared/util/strings.h"

namespace credbroker::crypto {

std::ostream& operator<<(std::ostream& os, OpenError e) {
  switch (e) {
    case OpenError::kMalformed:
      return os << "kMalformed";
    case OpenError::kUnknownKeyId:
      return os << "kUnknownKeyId";
    case OpenError::kAuthFailed:
      return os << "kAuthFailed";
    case OpenError::kStale:
      return os << "kStale";
  }
  return os << "OpenError(" << static_cast<int>(e) << ")";
}

namespace {

/** Hands out 0x00, 0x01, 0x02, ... so every nonce is known; counts calls. */
class CountingRandom final : public Random {
 public:
  std::string bytes(std::size_t n) override {
    ++calls;
    last_request = n;
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(next++));
    return out;
  }
  int calls = 0;
  std::size_t last_request = 0;
  unsigned char next = 0;
};

/** A broken source that returns fewer bytes than asked for. */
class ShortRandom final : public Random {
 public:
  std::string bytes(std::size_t n) override { return std::string(n / 2, 'x'); }
};

Key key(std::string id, char fill) {
  return Key{std::move(id), std::string(32, fill)};
}

Keyring keyring(std::vector<Key> keys) {
  return Keyring(std::move(keys));
}

const SealContext kHere{"alice", "github_0123456789abcdef", "credential"};

OpenError open_error(const Keyring& ring, const SealContext& where, std::string_view record) {
  auto r = open(ring, where, record);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "record unexpectedly opened");
  return r.error();
}

std::string be64(std::uint64_t n) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  return out;
}

// Decrypts with OpenSSL directly, from the documented layout and associated data, to pin both
// independently of seal.cc.
std::optional<std::string> reference_open(std::string_view key, std::string_view nonce,
                                          std::string_view ciphertext, std::string_view tag,
                                          std::string_view aad) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto u = [](std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
  };
  std::string out(ciphertext.size(), '\0');
  std::string tag_copy(tag);
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, u(key), u(nonce)) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &len, u(aad), static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                              u(ciphertext), static_cast<int>(ciphertext.size())) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag_copy.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sealed_record_opens_to_the_same_plaintext) {
  const auto ring = keyring({key("k1", 'a')});
  for (std::size_t size : {0, 1, 15, 16, 17, 1000, 70000}) {
    std::string plaintext(size, '\0');
    for (std::size_t i = 0; i < size; ++i) plaintext[i] = static_cast<char>(i * 7);
    const auto record = seal(ring, system_random(), kHere, plaintext);
    const auto opened = open(ring, kHere, record);
    BOOST_REQUIRE_MESSAGE(opened.ok(), "size " << size);
    BOOST_TEST(*opened == plaintext);
  }
}

BOOST_AUTO_TEST_CASE(record_layout_is_version_id_length_id_nonce_ciphertext_tag) {
  const auto ring = keyring({key("key-2024.a_b", 'a')});
  CountingRandom random;
  random.next = 0x40;
  const std::string plaintext = "refresh-token-xyz";
  const auto record = seal(ring, random, kHere, plaintext);

  BOOST_TEST(random.calls == 1);
  BOOST_TEST(random.last_request == 12u);
  BOOST_REQUIRE(record.size() == 1 + 1 + 12 + 12 + plaintext.size() + 16);
  BOOST_TEST(static_cast<unsigned char>(record[0]) == 0x01);
  BOOST_TEST(static_cast<unsigned char>(record[1]) == 12);
  BOOST_TEST(record.substr(2, 12) == "key-2024.a_b");
  BOOST_TEST(to_hex(record.substr(14, 12)) == "404142434445464748494a4b");
  // The plaintext does not appear in the clear.
  BOOST_TEST(record.find(plaintext) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(associated_data_is_version_then_length_prefixed_id_user_server_kind) {
  const auto ring = keyring({key("k1", 'a')});
  CountingRandom random;
  const auto record = seal(ring, random, kHere, "secret");
  const std::string aad = std::string(1, '\x01') + be64(2) + "k1" + be64(5) + "alice" + be64(23) +
                          "github_0123456789abcdef" + be64(10) + "credential";
  const auto plaintext = reference_open(std::string(32, 'a'), record.substr(4, 12),
                                        record.substr(16, 6), record.substr(22, 16), aad);
  BOOST_REQUIRE(plaintext.has_value());
  BOOST_TEST(*plaintext == "secret");
}

BOOST_AUTO_TEST_CASE(record_format_is_stable_across_releases) {
  // Records live in Redis for years, so the bytes for a pinned key and nonce must never change.
  // (associated_data_is_... above checks this layout against OpenSSL directly.)
  const auto ring = keyring({key("k1", 'a')});
  CountingRandom random;
  const auto record = seal(ring, random, kHere, "secret");
  BOOST_TEST(to_hex(record) ==
             "0102"
             "6b31"
             "000102030405060708090a0b"
             "c47f879235fb"
             "f563df7b9f624e7649c0af33efcb66f4");
}

BOOST_AUTO_TEST_CASE(format_2_carries_the_generation_in_the_header_and_the_associated_data) {
  const auto ring = keyring({key("k1", 'a')});
  CountingRandom random;
  SealContext here = kHere;
  here.generation = 0x0102;
  const auto record = seal(ring, random, here, "secret");
  BOOST_TEST(to_hex(record.substr(0, 4)) == "02026b31");
  BOOST_TEST(record.substr(4, 8) == be64(0x0102));
  const std::string aad = std::string(1, '\x02') + be64(2) + "k1" + be64(5) + "alice" + be64(23) +
                          "github_0123456789abcdef" + be64(10) + "credential" + be64(8) +
                          be64(0x0102);
  const auto plaintext = reference_open(std::string(32, 'a'), record.substr(12, 12),
                                        record.substr(24, 6), record.substr(30, 16), aad);
  BOOST_REQUIRE(plaintext.has_value());
  BOOST_TEST(*plaintext == "secret");
  const auto opened = open(ring, here, record);
  BOOST_REQUIRE(opened.ok());
  BOOST_TEST(*opened == "secret");
}

BOOST_AUTO_TEST_CASE(a_record_opens_only_under_its_own_generation) {
  const auto ring = keyring({key("k1", 'a')});
  SealContext here = kHere;
  here.generation = 3;
  const auto record = seal(ring, system_random(), here, "token");
  for (const std::uint64_t other : {0ull, 2ull, 4ull, 0x0100000000000003ull}) {
    SealContext elsewhen = kHere;
    elsewhen.generation = other;
    BOOST_TEST(open_error(ring, elsewhen, record) == OpenError::kStale, "generation " << other);
  }
  // A header rewritten to claim the current generation fails authentication.
  std::string rewritten = record;
  rewritten[2 + 2 + 7] = 4;
  SealContext four = kHere;
  four.generation = 4;
  BOOST_TEST(open_error(ring, four, rewritten) == OpenError::kAuthFailed);
  // Without a generation (flows) format 2 is not taken at all.
  BOOST_TEST(open_error(ring, kHere, record) == OpenError::kMalformed);
}

BOOST_AUTO_TEST_CASE(a_format_1_record_stands_for_generation_0) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  SealContext zero = kHere;
  zero.generation = 0;
  const auto opened = open(ring, zero, record);
  BOOST_REQUIRE(opened.ok());
  BOOST_TEST(*opened == "token");
  SealContext one = kHere;
  one.generation = 1;
  BOOST_TEST(open_error(ring, one, record) == OpenError::kStale);
  BOOST_TEST(label(OpenError::kStale) == "stale");
}

BOOST_AUTO_TEST_CASE(truncated_format_2_records_of_every_length_fail_without_crashing) {
  const auto ring = keyring({key("k1", 'a')});
  SealContext here = kHere;
  here.generation = 7;
  const auto record = seal(ring, system_random(), here, "token");
  for (std::size_t n = 0; n < record.size(); ++n) {
    BOOST_TEST(!open(ring, here, record.substr(0, n)).ok(), "length " << n);
  }
}

BOOST_AUTO_TEST_CASE(every_single_bit_flip_fails_to_open) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "x");
  BOOST_REQUIRE(record.size() == 2 + 2 + 12 + 1 + 16);
  for (std::size_t i = 0; i < record.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = record;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      BOOST_TEST(!open(ring, kHere, tampered).ok(), "byte " << i << " bit " << bit);
    }
  }
}

BOOST_AUTO_TEST_CASE(flipped_payload_bits_fail_with_auth_failed) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "x");
  for (std::size_t i = 4; i < record.size(); ++i) {  // nonce, ciphertext, tag
    std::string tampered = record;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x80);
    BOOST_TEST(open_error(ring, kHere, tampered) == OpenError::kAuthFailed, "byte " << i);
  }
}

BOOST_AUTO_TEST_CASE(record_moved_to_another_user_does_not_open) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  const SealContext mallory{"mallory", kHere.server_key, kHere.kind};
  BOOST_TEST(open_error(ring, mallory, record) == OpenError::kAuthFailed);
}

BOOST_AUTO_TEST_CASE(record_moved_to_another_server_does_not_open) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  const SealContext other{kHere.user, "gitlab_0123456789abcdef", kHere.kind};
  BOOST_TEST(open_error(ring, other, record) == OpenError::kAuthFailed);
}

BOOST_AUTO_TEST_CASE(record_of_another_kind_does_not_open) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  const SealContext flow{kHere.user, kHere.server_key, "flow"};
  BOOST_TEST(open_error(ring, flow, record) == OpenError::kAuthFailed);
}

BOOST_AUTO_TEST_CASE(field_boundaries_are_bound_so_shifted_characters_do_not_open) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), {"ab", "c", "credential"}, "token");
  BOOST_TEST(open_error(ring, {"a", "bc", "credential"}, record) == OpenError::kAuthFailed);
  BOOST_TEST(open_error(ring, {"abc", "", "credential"}, record) == OpenError::kAuthFailed);
  BOOST_TEST(open_error(ring, {"ab", "", "ccredential"}, record) == OpenError::kAuthFailed);
  BOOST_TEST(open(ring, {"ab", "c", "credential"}, record).ok());
}

BOOST_AUTO_TEST_CASE(new_records_are_sealed_with_the_primary_key) {
  const auto ring = keyring({key("k2", 'b'), key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  BOOST_TEST(record.substr(1, 3) == std::string("\x02k2"));
}

BOOST_AUTO_TEST_CASE(the_key_id_is_read_from_the_header_without_opening) {
  const auto record = seal(keyring({key("k1", 'a')}), system_random(), kHere, "token");
  const auto id = sealed_key_id(record);
  BOOST_REQUIRE(id.ok());
  BOOST_TEST(*id == "k1");
  for (std::size_t n = 0; n < 2 + 2 + 12 + 16; ++n) {
    BOOST_TEST(!sealed_key_id(record.substr(0, n)).ok(), n);
  }
  std::string other_version = record;
  other_version[0] = 0x02;
  BOOST_TEST(!sealed_key_id(other_version).ok());
}

BOOST_AUTO_TEST_CASE(record_sealed_with_an_older_key_opens_after_rotation) {
  const auto record = seal(keyring({key("k1", 'a')}), system_random(), kHere, "token");
  const auto rotated = keyring({key("k2", 'b'), key("k1", 'a')});
  const auto opened = open(rotated, kHere, record);
  BOOST_REQUIRE(opened.ok());
  BOOST_TEST(*opened == "token");
}

BOOST_AUTO_TEST_CASE(record_whose_key_was_retired_reports_unknown_key_id) {
  const auto record = seal(keyring({key("k1", 'a')}), system_random(), kHere, "token");
  BOOST_TEST(open_error(keyring({key("k2", 'b')}), kHere, record) == OpenError::kUnknownKeyId);
  BOOST_TEST(open_error(Keyring(), kHere, record) == OpenError::kUnknownKeyId);
}

BOOST_AUTO_TEST_CASE(same_key_id_with_other_key_bytes_fails_authentication) {
  const auto record = seal(keyring({key("k1", 'a')}), system_random(), kHere, "token");
  BOOST_TEST(open_error(keyring({key("k1", 'z')}), kHere, record) == OpenError::kAuthFailed);
}

BOOST_AUTO_TEST_CASE(truncated_records_of_every_length_fail_without_crashing) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "some plaintext");
  const std::size_t shortest = 2 + 2 + 12 + 16;  // header, nonce and tag, empty ciphertext
  for (std::size_t n = 0; n < record.size(); ++n) {
    // An exact-size copy, so a read past the end shows up under ASan/valgrind.
    const std::vector<char> copy(record.begin(), record.begin() + static_cast<std::ptrdiff_t>(n));
    const auto error = open_error(ring, kHere, std::string_view(copy.data(), copy.size()));
    if (n < shortest) {
      BOOST_TEST(error == OpenError::kMalformed, "length " << n);
    } else {
      BOOST_TEST(error == OpenError::kAuthFailed, "length " << n);
    }
  }
}

BOOST_AUTO_TEST_CASE(record_with_bytes_appended_fails_authentication) {
  const auto ring = keyring({key("k1", 'a')});
  const auto record = seal(ring, system_random(), kHere, "token");
  BOOST_TEST(open_error(ring, kHere, record + "x") == OpenError::kAuthFailed);
}

BOOST_AUTO_TEST_CASE(unknown_version_byte_is_malformed) {
  const auto ring = keyring({key("k1", 'a')});
  auto record = seal(ring, system_random(), kHere, "token");
  for (int version : {0x00, 0x02, 0xFF}) {
    record[0] = static_cast<char>(version);
    BOOST_TEST(open_error(ring, kHere, record) == OpenError::kMalformed);
  }
}

BOOST_AUTO_TEST_CASE(impossible_key_id_lengths_are_malformed) {
  const auto ring = keyring({key("k1", 'a')});
  const std::string body(100, 'k');
  BOOST_TEST(open_error(ring, kHere, std::string("\x01\x00", 2) + body) == OpenError::kMalformed);
  BOOST_TEST(open_error(ring, kHere, "\x01\x41" + body) == OpenError::kMalformed);  // 65 > 64
  BOOST_TEST(open_error(ring, kHere, "\x01\xff" + body) == OpenError::kMalformed);
  // An id length that runs past the end of the record.
  BOOST_TEST(open_error(ring, kHere, "\x01\x40" + std::string(40, 'k')) == OpenError::kMalformed);
}

BOOST_AUTO_TEST_CASE(arbitrary_bytes_never_open_and_never_crash) {
  const auto ring = keyring({key("k1", 'a')});
  std::mt19937 gen(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 80);
  for (int round = 0; round < 20000; ++round) {
    std::vector<char> input(static_cast<std::size_t>(length(gen)));
    for (auto& c : input) c = static_cast<char>(byte(gen));
    // Steer half the inputs past the version and id checks.
    if (round % 2 == 0 && input.size() >= 4) {
      input[0] = 0x01;
      input[1] = 0x02;
      input[2] = 'k';
      input[3] = '1';
    }
    BOOST_REQUIRE(!open(ring, kHere, std::string_view(input.data(), input.size())).ok());
  }
}

BOOST_AUTO_TEST_CASE(two_seals_of_the_same_plaintext_differ) {
  const auto ring = keyring({key("k1", 'a')});
  const auto first = seal(ring, system_random(), kHere, "token");
  const auto second = seal(ring, system_random(), kHere, "token");
  BOOST_TEST(first != second);
  BOOST_TEST(first.substr(4, 12) != second.substr(4, 12));  // fresh nonce
  BOOST_TEST(open(ring, kHere, first).ok());
  BOOST_TEST(open(ring, kHere, second).ok());
}

BOOST_AUTO_TEST_CASE(every_seal_draws_a_fresh_nonce) {
  const auto ring = keyring({key("k1", 'a')});
  CountingRandom random;
  const auto first = seal(ring, random, kHere, "token");
  const auto second = seal(ring, random, kHere, "token");
  BOOST_TEST(random.calls == 2);
  BOOST_TEST(to_hex(first.substr(4, 12)) == "000102030405060708090a0b");
  BOOST_TEST(to_hex(second.substr(4, 12)) == "0c0d0e0f1011121314151617");
}

BOOST_AUTO_TEST_CASE(sealing_with_an_empty_keyring_is_a_logic_error) {
  BOOST_CHECK_THROW(seal(Keyring(), system_random(), kHere, "token"), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_random_source_that_returns_too_few_bytes_is_a_logic_error) {
  ShortRandom random;
  BOOST_CHECK_THROW(seal(keyring({key("k1", 'a')}), random, kHere, "token"), std::logic_error);
}

}  // namespace credbroker::crypto
