#include "shared/store/credential_store.h"

#include <openssl/crypto.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/crypto/cleanse.h"
#include "shared/crypto/seal.h"
#include "shared/store/keyspace.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"

namespace credbroker::store {

using crypto::cleanse;

namespace {

constexpr std::string_view kKind = "credential";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put_string(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

/** Optional string member: absent leaves `out` alone, present must be a string. */
bool read_string(const rapidjson::Value& obj, const char* name, std::string& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsString()) return false;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

/** Optional integer member: absent leaves `out` alone, present must be an integer. */
bool read_int(const rapidjson::Value& obj, const char* name, std::int64_t& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsInt64()) return false;
  out = it->value.GetInt64();
  return true;
}

bool read_bool(const rapidjson::Value& obj, const char* name, bool& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsBool()) return false;
  out = it->value.GetBool();
  return true;
}

bool read_strings(const rapidjson::Value& obj, const char* name, std::vector<std::string>& out) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return true;
  if (!it->value.IsArray()) return false;
  for (const auto& v : it->value.GetArray()) {
    if (!v.IsString()) return false;
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return true;
}

// A put that keeps losing to deletes gives up after this many seals (each one round trip more).
constexpr int kPutAttempts = 3;

/** A generation as Redis holds it: nil = 0, else a canonical non-negative decimal (HINCRBY's
 *  form). Anything else is not ours: nullopt, and the caller fails closed. */
std::optional<std::int64_t> parse_generation(const Reply& reply) {
  if (reply.type == Reply::Type::kNil) return 0;
  if (reply.type != Reply::Type::kString) return std::nullopt;
  const std::string& s = reply.str;
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  std::int64_t n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

std::string encode_credential(const Credential& c) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  put_string(w, "type", c.type);
  put_string(w, "access_token", c.access_token);
  put_string(w, "refresh_token", c.refresh_token);
  put_string(w, "token_type", c.token_type);
  w.Key("expires_at");
  w.Int64(c.expires_at);
  w.Key("scopes");
  w.StartArray();
  for (const auto& s : c.scopes) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  put_string(w, "audience", c.audience);
  put_string(w, "obtained_via", c.obtained_via);
  w.Key("updated_at");
  w.Int64(c.updated_at);
  if (c.reconnect_required) {
    w.Key("reconnect_required");
    w.Bool(true);
  }
  w.EndObject();
  std::string out(buf.GetString(), buf.GetSize());
  OPENSSL_cleanse(const_cast<char*>(buf.GetString()), buf.GetSize());
  return out;
}

namespace {

/** decode_credential into `c` (a fresh Credential): false when `json` is not a record. What was
 *  read before a failure stays in `c`; the caller drops it (and its destructor cleanses it). */
bool decode_into(std::string_view json, Credential& c) {
  // Parsed in place so the tokens live only in `text`, which is cleansed afterwards. In-place
  // parsing stops at a NUL, so one inside the text would hide trailing garbage: reject it.
  if (json.find('\0') != std::string_view::npos) return false;
  std::string text(json);
  rapidjson::Document doc;
  doc.ParseInsitu(text.data());

  const bool ok =
      !doc.HasParseError() && doc.IsObject() && doc.HasMember("access_token") &&
      read_string(doc, "type", c.type) && read_string(doc, "access_token", c.access_token) &&
      read_string(doc, "refresh_token", c.refresh_token) &&
      read_string(doc, "token_type", c.token_type) && read_int(doc, "expires_at", c.expires_at) &&
      read_strings(doc, "scopes", c.scopes) && read_string(doc, "audience", c.audience) &&
      read_string(doc, "obtained_via", c.obtained_via) &&
      read_int(doc, "updated_at", c.updated_at) &&
      read_bool(doc, "reconnect_required", c.reconnect_required);
  cleanse(text);
  return ok;
}

}  // namespace

// Credential's moves are copies (its destructor cleanses every copy), so the record is decoded
// where it is returned, never copied into place.
std::optional<Credential> decode_credential(std::string_view json) {
  std::optional<Credential> c(std::in_place);
  if (!decode_into(json, *c)) c.reset();
  return c;
}

CredentialStore::CredentialStore(Redis& redis, const crypto::Keyring& keyring,
                                 crypto::Random& random, std::string key_prefix, audit::Log& log)
    : redis_(redis),
      keyring_(keyring),
      random_(random),
      prefix_(std::move(key_prefix)),
      log_(log) {}

std::string CredentialStore::hash_key(std::string_view user) const {
  return credential_key(prefix_, user);
}

std::string CredentialStore::generation_key(std::string_view user) const {
  return store::generation_key(prefix_, user);
}

Result<std::map<std::string, Credential>, StoreError> CredentialStore::load_all(
    std::string_view user) {
  if (!enabled()) return Err(StoreError::kDisabled);
  static const Script kLoadAll(scripts::kLoadCredentials);
  auto reply = kLoadAll.run(redis_, {hash_key(user), generation_key(user)}, {});
  if (!reply) return unavailable("load_all", reply.error());
  const auto well_formed = [](const Reply& r) {
    return r.type == Reply::Type::kArray && r.elements.size() % 2 == 0;
  };
  if (reply->type != Reply::Type::kArray || reply->elements.size() != 2 ||
      !well_formed(reply->elements[0]) || !well_formed(reply->elements[1])) {
    return unavailable("load_all", {RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  const auto& records = reply->elements[0].elements;
  const auto& generation_fields = reply->elements[1].elements;
  std::map<std::string_view, const Reply*> generations;
  for (std::size_t i = 0; i + 1 < generation_fields.size(); i += 2) {
    generations.emplace(generation_fields[i].str, &generation_fields[i + 1]);
  }
  std::map<std::string, Credential> out;
  for (std::size_t i = 0; i + 1 < records.size(); i += 2) {
    const std::string& server_key = records[i].str;
    const auto g = generations.find(server_key);
    const auto generation =
        g == generations.end() ? std::optional<std::int64_t>(0) : parse_generation(*g->second);
    if (!generation) {
      return unavailable("load_all", {RedisError::kRejected, "generation is not a number"});
    }
    // Opened into its place in the map (a Credential is never moved, see decode_credential).
    const auto [slot, fresh] = out.try_emplace(server_key);
    if (fresh && !open_record(user, server_key, *generation, records[i + 1].str, slot->second)) {
      out.erase(slot);
    }
  }
  return out;
}

Result<std::optional<Credential>, StoreError> CredentialStore::load(std::string_view user,
                                                                    std::string_view server_key) {
  auto record = load_versioned(user, server_key);
  if (!record) return Err(record.error());
  return std::move(record->credential);
}

Result<Unit, StoreError> CredentialStore::put(std::string_view user, std::string_view server_key,
                                              const Credential& credential) {
  if (!enabled()) return Err(StoreError::kDisabled);
  for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
    auto current = redis_.command({"HGET", generation_key(user), std::string(server_key)});
    if (!current) return unavailable("put", current.error());
    const auto generation = parse_generation(*current);
    if (!generation) {
      return unavailable("put", {RedisError::kRejected, "generation is not a number"});
    }
    const std::string sealed = seal_record(user, server_key, *generation, credential);
    static const Script kPut(scripts::kPutCredential);
    auto reply = kPut.run(redis_, {hash_key(user), generation_key(user)},
                          {std::string(server_key), std::to_string(*generation), sealed});
    if (!reply) return unavailable("put", reply.error());
    if (reply->type != Reply::Type::kInteger) {
      return unavailable("put", {RedisError::kRejected, "unexpected reply to EVALSHA"});
    }
    if (reply->integer == 1) return Unit{};
    // A delete bumped the generation after we read it: seal again under the new one.
  }
  return unavailable("put", {RedisError::kRejected, "generation kept moving"});
}

Result<VersionedCredential, StoreError> CredentialStore::load_versioned(
    std::string_view user, std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  static const Script kLoad(scripts::kLoadCredential);
  auto reply = kLoad.run(redis_, {hash_key(user), generation_key(user)}, {std::string(server_key)});
  if (!reply) return unavailable("load", reply.error());
  const auto nil_or_string = [](const Reply& r) {
    return r.type == Reply::Type::kNil || r.type == Reply::Type::kString;
  };
  if (reply->type != Reply::Type::kArray || reply->elements.size() != 2 ||
      !nil_or_string(reply->elements[0]) || !nil_or_string(reply->elements[1])) {
    return unavailable("load", {RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  const auto generation = parse_generation(reply->elements[1]);
  if (!generation) {
    return unavailable("load", {RedisError::kRejected, "generation is not a number"});
  }
  VersionedCredential out;
  out.generation = *generation;
  if (reply->elements[0].type == Reply::Type::kNil) return out;
  out.credential.emplace();
  if (!open_record(user, server_key, *generation, reply->elements[0].str, *out.credential)) {
    out.credential.reset();
  }
  out.version = std::move(reply->elements[0].str);
  return out;
}

// model: refresh.put_if
Result<std::optional<std::string>, StoreError> CredentialStore::put_if(
    std::string_view user, std::string_view server_key, const Credential& credential,
    const VersionedCredential& expected) {
  if (!enabled()) return Err(StoreError::kDisabled);
  std::string sealed = seal_record(user, server_key, expected.generation, credential);
  static const Script kPutIf(scripts::kPutIf);
  auto reply = kPutIf.run(
      redis_, {hash_key(user), generation_key(user)},
      {std::string(server_key), expected.version, std::to_string(expected.generation), sealed});
  if (!reply) return unavailable("put_if", reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return unavailable("put_if", {RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  if (reply->integer != 1) return std::optional<std::string>();
  return std::optional<std::string>(std::move(sealed));
}

Result<Unit, StoreError> CredentialStore::remove(std::string_view user,
                                                 std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  static const Script kRemove(scripts::kRemoveCredential);
  auto reply =
      kRemove.run(redis_, {hash_key(user), generation_key(user)}, {std::string(server_key)});
  if (!reply) return unavailable("remove", reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return unavailable("remove", {RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  return Unit{};
}

std::string CredentialStore::scan_pattern() const {
  return glob_escape(prefix_) + "u:{*}:cred:*";
}

std::optional<std::string> CredentialStore::user_of(std::string_view key) const {
  // "<prefix>u:{<tag>}:cred:<user>": the user is what follows the kind, checked against the tag.
  const std::string head = prefix_ + "u:{";
  constexpr std::string_view kKind = "}:cred:";
  if (!key.starts_with(head)) return std::nullopt;
  const auto kind = key.find(kKind, head.size());
  if (kind == std::string_view::npos) return std::nullopt;
  std::string user(key.substr(kind + kKind.size()));
  if (hash_key(user) != key) return std::nullopt;
  return user;
}

Result<std::vector<std::string>, StoreError> CredentialStore::server_keys(std::string_view user) {
  auto reply = redis_.command({"HKEYS", hash_key(user)});
  if (!reply) return unavailable("server_keys", reply.error());
  if (reply->type != Reply::Type::kArray) {
    return unavailable("server_keys", {RedisError::kRejected, "unexpected reply to HKEYS"});
  }
  std::vector<std::string> out;
  for (auto& e : reply->elements) out.push_back(std::move(e.str));
  return out;
}

Result<CredentialStore::Reseal, StoreError> CredentialStore::reseal(std::string_view user,
                                                                    std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  // One read through the store's own open, so every rule of the record format applies.
  auto current = load_versioned(user, server_key);
  if (!current) return Err(current.error());
  if (current->version.empty()) return Reseal::kGone;
  if (!current->credential) return Reseal::kUnopenable;
  // Re-running a rotation leaves records already under the first key alone: it is resumable.
  // A record in the format before generations is sealed again even under the first key.
  if (auto id = crypto::sealed_key_id(current->version);
      id && *id == keyring_.primary().id && crypto::is_current_format(current->version)) {
    return Reseal::kCurrent;
  }
  auto written = put_if(user, server_key, *current->credential, *current);
  if (!written) return Err(written.error());
  return written->has_value() ? Reseal::kResealed : Reseal::kChanged;
}

Result<std::vector<std::string>, StoreError> CredentialStore::remove_all(std::string_view user) {
  auto keys = server_keys(user);
  if (!keys) return keys;
  // One remove() each, so every generation moves on: a purged record put back does not open.
  for (const auto& server_key : *keys) {
    if (auto removed = remove(user, server_key); !removed) return Err(removed.error());
  }
  return keys;
}

Credential::~Credential() {
  cleanse(*this);
}

void cleanse(Credential& credential) noexcept {
  crypto::cleanse(credential.access_token);
  crypto::cleanse(credential.refresh_token);
}

std::string CredentialStore::seal_record(std::string_view user, std::string_view server_key,
                                         std::int64_t generation, const Credential& credential) {
  std::string json = encode_credential(credential);
  const crypto::SealContext where{user, server_key, kKind, static_cast<std::uint64_t>(generation)};
  std::string sealed = crypto::seal(keyring_, random_, where, json);
  cleanse(json);
  return sealed;
}

bool CredentialStore::open_record(std::string_view user, std::string_view server_key,
                                  std::int64_t generation, std::string_view record,
                                  Credential& out) {
  const crypto::SealContext where{user, server_key, kKind, static_cast<std::uint64_t>(generation)};
  auto opened = crypto::open(keyring_, where, record);
  bool ok = false;
  if (opened) {
    ok = decode_into(*opened, out);
    cleanse(*opened);
  }
  if (!ok) {
    const std::string_view why = opened ? "malformed" : crypto::label(opened.error());
    log_.warn("credential_unreadable",
              {{"user", user}, {"server_key", server_key}, {"reason", why}});
  }
  return ok;
}

Err<StoreError> CredentialStore::unavailable(std::string_view op, const RedisFailure& failure) {
  log_.warn("redis_unavailable",
            {{"op", op}, {"kind", label(failure.kind)}, {"detail", failure.detail}});
  return Err(StoreError::kUnavailable);
}

}  // namespace credbroker::store
