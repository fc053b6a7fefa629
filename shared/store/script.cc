#include "shared/store/script.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace credbroker::store {

std::string script_sha(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

Script::Script(std::string_view text) : text_(text), sha_(script_sha(text)) {}

Result<Reply, RedisFailure> Script::run(Redis& redis, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args) const {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(sha_);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto reply = redis.command(argv);
  if (reply || reply.error().kind != RedisError::kRejected ||
      !reply.error().detail.starts_with("NOSCRIPT")) {
    return reply;
  }
  auto loaded = redis.command({"SCRIPT", "LOAD", std::string(text_)});
  if (!loaded) return loaded;
  return redis.command(argv);
}

}  // namespace credbroker::store
