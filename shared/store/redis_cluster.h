#pragma once
// Pure Redis Cluster rules used by the Cluster client (redis.cc): the key -> slot function
// (CRC16/XMODEM of the key, or of its first non-empty {hash tag}, mod 16384), where the first key
// of each command credbroker sends sits, and the MOVED / ASK redirections.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/redis_url.h"

namespace credbroker::store::cluster {

constexpr int kSlots = 16384;

/** CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as in the Cluster specification. */
std::uint16_t crc16(std::string_view data);

/** The hash slot of a key, with the hash-tag rule: the part between the first '{' and the next
 *  '}' when that part is non-empty, else the whole key. */
int key_slot(std::string_view key);

/**
 * The index in argv of the command's first key; nullopt for a command without keys (PING, an EVAL
 * with no keys) or one not in the table (it goes to any node, and a MOVED reply corrects that).
 */
std::optional<std::size_t> first_key(const std::vector<std::string>& argv);

struct Redirect {
  bool ask = false;  // ASK: this command only, after ASKING; MOVED: the slot moved for good
  int slot = 0;
  config::RedisHost node;
};

/** "MOVED 3999 127.0.0.1:6381" or "ASK 3999 [::1]:6381"; nullopt for any other error. */
std::optional<Redirect> parse_redirect(std::string_view error);

}  // namespace credbroker::store::cluster
