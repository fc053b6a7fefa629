#pragma once
// One home for the names of a user's keys (docs/architecture.md "Data in Redis"). Every key of one
// user starts with "<prefix>u:{<tag>}:", so all of them share one Redis Cluster hash slot and a
// script may touch several. The tag is derived from the user id, which may hold any character
// (braces too), so the id itself never sits inside the braces:
//   <prefix>u:{<tag>}:cred:<user>                 hash, the user's sealed credentials
//   <prefix>u:{<tag>}:gen:<user>                  hash, their generations
// (the two hashes end with the id, so that credbroker-admin can name the user of a hash it finds
// by SCAN: a record opens only with its user in the associated data)
//   <prefix>u:{<tag>}:flows                       sorted set, the user's pending flow ids
//   <prefix>u:{<tag>}:flow:<sha256hex(state)>     string, one sealed pending flow
//   <prefix>u:{<tag>}:lock:<server key>           string, a refresh lock
//   <prefix>u:{<tag>}:rate:<action>:<window>      string, a rate-limit counter
// The tag is a plain digest (stable for ever: no key to rotate). It hides the id from anyone
// reading key names, though not from someone who guesses the id and hashes it; the state sent to
// the browser carries the tag only sealed (FlowStore::new_state).

#include <string>
#include <string_view>

namespace credbroker::store {

/** The user's hash tag: the first 128 bits of SHA-256(user) as 32 lower-case hex digits. */
std::string user_tag(std::string_view user);

/** "<prefix>u:{<tag>}:<rest>" */
std::string tagged_key(std::string_view prefix, std::string_view tag, std::string_view rest);

/** "<prefix>u:{<user_tag(user)>}:<rest>" */
std::string user_key(std::string_view prefix, std::string_view user, std::string_view rest);

/** "<prefix>u:{<tag>}:cred:<user>": the user's credential hash. */
std::string credential_key(std::string_view prefix, std::string_view user);
/** "<prefix>u:{<tag>}:gen:<user>": the generations of the user's records. */
std::string generation_key(std::string_view prefix, std::string_view user);

/** Whether `tag` has the form user_tag() gives (32 lower-case hex digits). */
bool is_user_tag(std::string_view tag);

}  // namespace credbroker::store
