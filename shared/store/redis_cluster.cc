#include "shared/store/redis_cluster.h"

#include <array>
#include <charconv>

#include "shared/util/strings.h"

namespace credbroker::store::cluster {

std::uint16_t crc16(std::string_view data) {
  std::uint16_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

int key_slot(std::string_view key) {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return crc16(key) % kSlots;
}

std::optional<std::size_t> first_key(const std::vector<std::string>& argv) {
  if (argv.empty()) return std::nullopt;
  const std::string name = to_lower(argv[0]);
  // EVAL script numkeys key [key ...] arg ...; no key: any node.
  if (name == "eval" || name == "evalsha" || name == "eval_ro" || name == "evalsha_ro" ||
      name == "fcall" || name == "fcall_ro") {
    if (argv.size() < 4 || argv[2] == "0") return std::nullopt;
    return 3;
  }
  // Commands whose first argument is a key (what credbroker and its tests send).
  static constexpr std::array<std::string_view, 33> kKeyFirst = {"get",     "set",
                                                                 "getdel",  "del",
                                                                 "unlink",  "exists",
                                                                 "expire",  "pexpire",
                                                                 "ttl",     "pttl",
                                                                 "type",    "incr",
                                                                 "incrby",  "hget",
                                                                 "hset",    "hdel",
                                                                 "hgetall", "hlen",
                                                                 "hexists", "hkeys",
                                                                 "zadd",    "zcard",
                                                                 "zrem",    "zrange",
                                                                 "zpopmin", "zremrangebyscore",
                                                                 "zscore",  "xadd",
                                                                 "xlen",    "xrange",
                                                                 "dump",    "restore",
                                                                 "persist"};
  for (std::string_view k : kKeyFirst) {
    if (name == k) return argv.size() > 1 ? std::optional<std::size_t>(1) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<Redirect> parse_redirect(std::string_view error) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view slot = error.substr(0, space);
  const std::string_view addr = error.substr(space + 1);
  const auto [end, ec] = std::from_chars(slot.data(), slot.data() + slot.size(), r.slot);
  if (ec != std::errc() || end != slot.data() + slot.size() || r.slot < 0 || r.slot >= kSlots) {
    return std::nullopt;
  }
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = addr.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  const std::string_view port = addr.substr(colon + 1);
  const auto [pend, pec] = std::from_chars(port.data(), port.data() + port.size(), r.node.port);
  if (pec != std::errc() || pend != port.data() + port.size() || r.node.port < 1 ||
      r.node.port > 65535 || host.empty()) {
    return std::nullopt;
  }
  r.node.host = std::string(host);
  return r;
}

}  // namespace credbroker::store::cluster
