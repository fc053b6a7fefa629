#include "shared/store/keyspace.h"

namespace credbroker::store {

std::string glob_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '^' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::vector<Redis*> primaries(Redis& redis) {
  return {&redis};
}

Result<Unit, RedisFailure> scan_keys(Redis& redis, std::string_view pattern,
                                     const std::function<bool(const std::string& key)>& each,
                                     int count) {
  for (Redis* node : primaries(redis)) {
    std::string cursor = "0";
    // SCAN guarantees a full iteration ends with cursor 0 (keys added meanwhile may or may not be
    // returned, keys present throughout are returned at least once).
    do {
      auto reply = node->command(
          {"SCAN", cursor, "MATCH", std::string(pattern), "COUNT", std::to_string(count)});
      if (!reply) return Err(reply.error());
      if (reply->type != Reply::Type::kArray || reply->elements.size() != 2 ||
          reply->elements[1].type != Reply::Type::kArray) {
        return Err(RedisFailure{RedisError::kRejected, "unexpected reply to SCAN"});
      }
      cursor = reply->elements[0].str;
      for (const Reply& key : reply->elements[1].elements) {
        if (!each(key.str)) return Unit{};
      }
    } while (cursor != "0");
  }
  return Unit{};
}

}  // namespace credbroker::store
