#include "shared/store/user_keys.h"

#include "shared/crypto/hash.h"

namespace credbroker::store {

namespace {
constexpr std::size_t kTagHexDigits = 32;
}  // namespace

std::string user_tag(std::string_view user) {
  // A request derives several keys from its one user (credentials, generations, flows, rate
  // counters): the last user's tag is kept, one entry per thread, instead of hashing again.
  thread_local std::string last_user;
  thread_local std::string last_tag;
  if (last_tag.empty() || user != last_user) {
    last_tag = crypto::sha256_hex(user).substr(0, kTagHexDigits);
    last_user.assign(user);
  }
  return last_tag;
}

std::string tagged_key(std::string_view prefix, std::string_view tag, std::string_view rest) {
  std::string key(prefix);
  key.append("u:{").append(tag).append("}:").append(rest);
  return key;
}

std::string user_key(std::string_view prefix, std::string_view user, std::string_view rest) {
  return tagged_key(prefix, user_tag(user), rest);
}

std::string credential_key(std::string_view prefix, std::string_view user) {
  return user_key(prefix, user, "cred:" + std::string(user));
}

std::string generation_key(std::string_view prefix, std::string_view user) {
  return user_key(prefix, user, "gen:" + std::string(user));
}

bool is_user_tag(std::string_view tag) {
  if (tag.size() != kTagHexDigits) return false;
  for (const char c : tag) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace credbroker::store
