#include "shared/crypto/keyring.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "shared/crypto/base64.h"
#include "shared/crypto/cleanse.h"
#include "shared/util/strings.h"

namespace credbroker::crypto {

namespace {

constexpr std::size_t kKeyBytes = 32;  // AES-256
constexpr std::size_t kMaxIdLength = 64;

void cleanse(std::vector<Key>& keys) {
  for (auto& k : keys) crypto::cleanse(k.bytes);
  keys.clear();
}

bool valid_id(std::string_view id) {
  return id.size() <= kMaxIdLength && is_alnum_or(id, "._-");
}

constexpr std::string_view kBadId = "key id must be 1 to 64 characters of A-Z a-z 0-9 . _ -";

std::string wrong_size(std::size_t got) {
  return "key must decode to 32 bytes (got " + std::to_string(got) + ")";
}

std::string duplicate(std::string_view id) {
  return "duplicate key id \"" + std::string(id) + "\"";
}

bool has_id(const std::vector<Key>& keys, std::size_t count, std::string_view id) {
  return std::any_of(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(count),
                     [id](const Key& k) { return k.id == id; });
}

}  // namespace

Keyring::Keyring(std::vector<Key> keys) : keys_(std::move(keys)) {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    std::optional<std::string> problem;
    if (!valid_id(keys_[i].id)) {
      problem = std::string(kBadId);
    } else if (keys_[i].bytes.size() != kKeyBytes) {
      problem = wrong_size(keys_[i].bytes.size());
    } else if (has_id(keys_, i, keys_[i].id)) {
      problem = duplicate(keys_[i].id);
    }
    if (problem) {
      cleanse(keys_);
      throw std::invalid_argument("Keyring key " + std::to_string(i + 1) + ": " + *problem);
    }
  }
}

Keyring::~Keyring() {
  cleanse(keys_);
}

// Moving a vector hands its buffer over without copying the key bytes, so only the keys this
// object held before an assignment need clearing.
Keyring::Keyring(Keyring&& other) noexcept : keys_(std::move(other.keys_)) {
  other.keys_.clear();
}

Keyring& Keyring::operator=(Keyring&& other) noexcept {
  if (this != &other) {
    cleanse(keys_);
    keys_ = std::move(other.keys_);
    other.keys_.clear();
  }
  return *this;
}

const Key* Keyring::find(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

Result<Keyring, std::string> Keyring::parse(std::string_view spec) {
  if (trim(spec).empty()) return Keyring();

  const auto entries = split(spec, ',');
  std::vector<Key> keys;
  keys.reserve(entries.size());  // no reallocation, so no stray copies of key bytes
  const auto fail = [&keys](std::size_t index, std::string_view problem) {
    cleanse(keys);
    return Err("CREDBROKER_KEYS entry " + std::to_string(index + 1) + ": " + std::string(problem));
  };

  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string_view entry = trim(entries[i]);
    const auto colon = entry.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) {
      return fail(i, "expected \"id:base64key\"");
    }
    const std::string_view id = entry.substr(0, colon);
    if (!valid_id(id)) return fail(i, kBadId);
    if (has_id(keys, keys.size(), id)) return fail(i, duplicate(id));
    // Standard base64 only (RFC 4648 §4, padded), as `openssl rand -base64 32` prints it.
    auto bytes = base64_decode(entry.substr(colon + 1));
    if (!bytes) return fail(i, "key is not valid base64");
    if (bytes->size() != kKeyBytes) {
      const std::size_t got = bytes->size();
      cleanse(*bytes);
      return fail(i, wrong_size(got));
    }
    keys.push_back(Key{std::string(id), std::move(*bytes)});
  }
  return Keyring(std::move(keys));
}

}  // namespace credbroker::crypto
