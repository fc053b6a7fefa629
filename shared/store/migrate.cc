#include "shared/store/migrate.h"

#include <string>
#include <vector>

#include "shared/store/user_keys.h"

namespace credbroker::store {

namespace {

/** `text` with the glob characters of SCAN's MATCH escaped, so a prefix matches as itself. */
std::string glob_literal(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// SCAN visits every key in a bounded number of calls; this bound only guards against a server
// that never answers cursor 0.
constexpr int kMaxScanCalls = 1 << 24;

}  // namespace

Result<MigrationReport, StoreError> migrate_legacy_credentials(Redis& redis,
                                                               std::string_view prefix,
                                                               audit::Log& log) {
  const auto failed = [&](std::string_view step, const RedisFailure& f) {
    log.warn("migration_failed", {{"step", step}, {"detail", std::string_view(f.detail)}});
    return Err{StoreError::kUnavailable};
  };
  const std::string old_prefix = std::string(prefix) + "cred:{";
  const std::string pattern = glob_literal(old_prefix) + "*}";
  MigrationReport report;
  std::string cursor = "0";
  for (int call = 0; call < kMaxScanCalls; ++call) {
    auto scan = redis.command({"SCAN", cursor, "MATCH", pattern, "COUNT", "200"});
    if (!scan) return failed("scan", scan.error());
    if (scan->type != Reply::Type::kArray || scan->elements.size() != 2) {
      return failed("scan", {RedisError::kRejected, "unexpected reply to SCAN"});
    }
    cursor = scan->elements[0].str;
    for (const auto& entry : scan->elements[1].elements) {
      const std::string& key = entry.str;
      if (!key.starts_with(old_prefix) || !key.ends_with('}')) continue;
      const std::string_view user =
          std::string_view(key).substr(old_prefix.size(), key.size() - old_prefix.size() - 1);
      const std::string new_key = credential_key(prefix, user);
      auto fields = redis.command({"HGETALL", key});
      if (!fields) return failed("read", fields.error());
      if (fields->type != Reply::Type::kArray || fields->elements.size() % 2 != 0) {
        return failed("read", {RedisError::kRejected, "unexpected reply to HGETALL"});
      }
      if (fields->elements.empty()) continue;  // gone since SCAN listed it
      for (std::size_t i = 0; i + 1 < fields->elements.size(); i += 2) {
        auto set = redis.command(
            {"HSETNX", new_key, fields->elements[i].str, fields->elements[i + 1].str});
        if (!set) return failed("write", set.error());
        ++(set->integer == 1 ? report.records : report.kept_newer);
      }
      if (auto del = redis.command({"DEL", key}); !del) return failed("delete", del.error());
      ++report.users;
    }
    if (cursor == "0") {
      log.info("credentials_migrated", {{"users", report.users},
                                        {"records", report.records},
                                        {"kept_newer", report.kept_newer}});
      return report;
    }
  }
  return failed("scan", {RedisError::kRejected, "SCAN did not finish"});
}

}  // namespace credbroker::store
