#pragma once
// The sealing keyring from CREDBROKER_KEYS: "id1:base64key,id2:base64key" (32-byte keys).
// The first key seals; every key opens, so keys can rotate without losing records.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/util/result.h"

namespace credbroker::crypto {

struct Key {
  std::string id;     // 1..64 chars of [A-Za-z0-9._-]
  std::string bytes;  // exactly 32 bytes
};

/** Owns key material; clears it with OPENSSL_cleanse on destruction. Move-only. */
class Keyring {
 public:
  Keyring() = default;
  /**
   * Takes keys that parse() would accept (valid ids, 32 bytes, no duplicate ids); anything else
   * is a programming error and throws std::invalid_argument (message without key material).
   */
  explicit Keyring(std::vector<Key> keys);
  ~Keyring();
  Keyring(Keyring&&) noexcept;
  Keyring& operator=(Keyring&&) noexcept;
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  bool empty() const { return keys_.empty(); }
  /** The key new records are sealed with; precondition: !empty(). */
  const Key& primary() const { return keys_.front(); }
  const Key* find(std::string_view id) const;

  /**
   * Parses CREDBROKER_KEYS. Entries are separated by ',' and trimmed of surrounding whitespace;
   * each is "id:key" with the key in standard, padded base64 (RFC 4648 §4; base64url is not
   * accepted). An empty or whitespace-only value gives an empty keyring; an empty entry (",,", a
   * trailing ',') is an error. Errors name the entry by 1-based position and never include key
   * material, e.g. "CREDBROKER_KEYS entry 2: key must decode to 32 bytes (got 16)".
   */
  static Result<Keyring, std::string> parse(std::string_view spec);

 private:
  std::vector<Key> keys_;
};

}  // namespace credbroker::crypto
