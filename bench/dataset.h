#pragma once
// The data `make bench` measures and `credbroker-profile` profiles, in one place so that the
// profile counts what the benchmark times: 10 brokered servers, a list user with 5 of them
// connected, connect and callback cycling through 1000 users.

#include <string>

#include "shared/store/credential_store.h"

namespace credbroker::bench {

inline constexpr int kServers = 10;   // list: 10 servers ...
inline constexpr int kConnected = 5;  // ... 5 of them connected
inline constexpr int kUsers = 1000;   // connect and callback cycle through this many users

/** The brokered servers "svc0".."svc9" (oauth_connect), their token endpoint `token_url`. */
std::string servers_json(const std::string& token_url);
/** The server key of "svc<i>". */
std::string server_key(int i);
/** User `u`'s id; the list user is user 0. */
std::string user(int u);
/** A connected credential that stays fresh for a day. */
store::Credential fresh_credential();
/** Connects the list user to the first kConnected servers (sealed with `keys`, CREDBROKER_KEYS). */
void seed_list_user(const std::string& redis_url, const std::string& keys);

}  // namespace credbroker::bench
