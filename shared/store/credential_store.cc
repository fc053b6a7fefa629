#include "shared/store/credential_store.h"

#include <openssl/crypto.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/crypto/cleanse.h"
#include "shared/crypto/seal.h"
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

std::string_view kind_name(RedisError e) {
  return e == RedisError::kUnreachable ? "unreachable" : "rejected";
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

std::optional<Credential> decode_credential(std::string_view json) {
  // Parsed in place so the tokens live only in `text`, which is cleansed afterwards. In-place
  // parsing stops at a NUL, so one inside the text would hide trailing garbage: reject it.
  if (json.find('\0') != std::string_view::npos) return std::nullopt;
  std::string text(json);
  rapidjson::Document doc;
  doc.ParseInsitu(text.data());

  Credential c;
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
  if (!ok) return std::nullopt;
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
  return user_key(prefix_, user, "cred");
}

Result<std::map<std::string, Credential>, StoreError> CredentialStore::load_all(
    std::string_view user) {
  if (!enabled()) return Err(StoreError::kDisabled);
  auto reply = redis_.command({"HGETALL", hash_key(user)});
  if (!reply) return unavailable("load_all", reply.error());
  if (reply->type != Reply::Type::kArray || reply->elements.size() % 2 != 0) {
    return unavailable("load_all", {RedisError::kRejected, "unexpected reply to HGETALL"});
  }
  std::map<std::string, Credential> out;
  for (std::size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    const std::string& server_key = reply->elements[i].str;
    if (auto c = open_record(user, server_key, reply->elements[i + 1].str)) {
      out.emplace(server_key, std::move(*c));
    }
  }
  return out;
}

Result<std::optional<Credential>, StoreError> CredentialStore::load(std::string_view user,
                                                                    std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  auto reply = redis_.command({"HGET", hash_key(user), std::string(server_key)});
  if (!reply) return unavailable("load", reply.error());
  if (reply->type == Reply::Type::kNil) return std::optional<Credential>();
  if (reply->type != Reply::Type::kString) {
    return unavailable("load", {RedisError::kRejected, "unexpected reply to HGET"});
  }
  return open_record(user, server_key, reply->str);
}

Result<Unit, StoreError> CredentialStore::put(std::string_view user, std::string_view server_key,
                                              const Credential& credential) {
  if (!enabled()) return Err(StoreError::kDisabled);
  std::string json = encode_credential(credential);
  const crypto::SealContext where{user, server_key, kKind};
  std::string sealed = crypto::seal(keyring_, random_, where, json);
  cleanse(json);
  auto reply = redis_.command({"HSET", hash_key(user), std::string(server_key), sealed});
  if (!reply) return unavailable("put", reply.error());
  return Unit{};
}

Result<VersionedCredential, StoreError> CredentialStore::load_versioned(
    std::string_view user, std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  auto reply = redis_.command({"HGET", hash_key(user), std::string(server_key)});
  if (!reply) return unavailable("load", reply.error());
  if (reply->type == Reply::Type::kNil) return VersionedCredential{};
  if (reply->type != Reply::Type::kString) {
    return unavailable("load", {RedisError::kRejected, "unexpected reply to HGET"});
  }
  VersionedCredential out;
  out.credential = open_record(user, server_key, reply->str);
  out.version = std::move(reply->str);
  return out;
}

// model: refresh.put_if
Result<std::optional<std::string>, StoreError> CredentialStore::put_if(std::string_view user,
                                                                       std::string_view server_key,
                                                                       const Credential& credential,
                                                                       std::string_view expected) {
  if (!enabled()) return Err(StoreError::kDisabled);
  std::string json = encode_credential(credential);
  const crypto::SealContext where{user, server_key, kKind};
  std::string sealed = crypto::seal(keyring_, random_, where, json);
  cleanse(json);
  auto reply = redis_.command({"EVAL", std::string(scripts::kPutIf), "1", hash_key(user),
                               std::string(server_key), std::string(expected), sealed});
  if (!reply) return unavailable("put_if", reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return unavailable("put_if", {RedisError::kRejected, "unexpected reply to EVAL"});
  }
  if (reply->integer != 1) return std::optional<std::string>();
  return std::optional<std::string>(std::move(sealed));
}

Result<Unit, StoreError> CredentialStore::remove(std::string_view user,
                                                 std::string_view server_key) {
  if (!enabled()) return Err(StoreError::kDisabled);
  auto reply = redis_.command({"HDEL", hash_key(user), std::string(server_key)});
  if (!reply) return unavailable("remove", reply.error());
  return Unit{};
}

Credential::~Credential() {
  cleanse(*this);
}

void cleanse(Credential& credential) noexcept {
  crypto::cleanse(credential.access_token);
  crypto::cleanse(credential.refresh_token);
}

std::optional<Credential> CredentialStore::open_record(std::string_view user,
                                                       std::string_view server_key,
                                                       std::string_view record) {
  const crypto::SealContext where{user, server_key, kKind};
  auto opened = crypto::open(keyring_, where, record);
  std::optional<Credential> c;
  if (opened) {
    c = decode_credential(*opened);
    cleanse(*opened);
  }
  if (!c) {
    const std::string_view why = opened ? "malformed" : crypto::describe(opened.error());
    log_.warn("credential_unreadable",
              {{"user", user}, {"server_key", server_key}, {"reason", why}});
  }
  return c;
}

Err<StoreError> CredentialStore::unavailable(std::string_view op, const RedisFailure& failure) {
  log_.warn("redis_unavailable",
            {{"op", op}, {"kind", kind_name(failure.kind)}, {"detail", failure.detail}});
  return Err(StoreError::kUnavailable);
}

}  // namespace credbroker::store
