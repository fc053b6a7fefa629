#pragma once
// A server-side script run by its SHA-1 (EVALSHA), so a request sends the digest, not the text.
// The digest is computed once, when the Script is built (one per process: a function-local
// static next to its caller). A server that does not hold the script yet (first use, a restart,
// SCRIPT FLUSH, another Cluster node) answers NOSCRIPT: the text is then loaded (SCRIPT LOAD) and
// the call made once more.

#include <string>
#include <string_view>
#include <vector>

#include "shared/store/redis.h"
#include "shared/util/result.h"

namespace credbroker::store {

class Script {
 public:
  explicit Script(std::string_view text);

  /** EVALSHA sha numkeys keys... args...; on NOSCRIPT, SCRIPT LOAD and EVALSHA once more. */
  Result<Reply, RedisFailure> run(Redis& redis, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const;

  const std::string& sha() const { return sha_; }
  std::string_view text() const { return text_; }

 private:
  std::string_view text_;
  std::string sha_;  // 40 lower-case hex digits
};

/** SHA-1 of `text` in lower-case hex, the name Redis gives a script. */
std::string script_sha(std::string_view text);

}  // namespace credbroker::store
