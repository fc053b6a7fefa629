#include "shared/store/flow_store.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/crypto/base64.h"
#include "shared/crypto/hash.h"
#include "shared/crypto/pkce.h"
#include "shared/crypto/seal.h"
#include "shared/store/script.h"
#include "shared/store/scripts.h"
#include "shared/store/user_keys.h"

namespace credbroker::store {

namespace {

constexpr std::string_view kFlowKind = "flow";
/** The seal of the user's tag inside a state. */
constexpr std::string_view kStateKind = "flow_state";

void put_string(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key,
                std::string_view value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

bool get_string(const rapidjson::Value& obj, const char* key, std::string& out) {
  const auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return false;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

}  // namespace

std::string encode_flow(const PendingFlow& flow) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  put_string(w, "user", flow.user);
  put_string(w, "server_key", flow.server_key);
  put_string(w, "verifier", flow.verifier);
  put_string(w, "redirect_uri", flow.redirect_uri);
  put_string(w, "issuer", flow.issuer);
  w.Key("created_at");
  w.Int64(flow.created_at);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::optional<PendingFlow> decode_flow(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  PendingFlow f;
  if (!get_string(doc, "user", f.user) || !get_string(doc, "server_key", f.server_key) ||
      !get_string(doc, "verifier", f.verifier) ||
      !get_string(doc, "redirect_uri", f.redirect_uri) || !get_string(doc, "issuer", f.issuer)) {
    return std::nullopt;
  }
  const auto it = doc.FindMember("created_at");
  if (it == doc.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  f.created_at = it->value.GetInt64();
  return f;
}

FlowStore::FlowStore(Redis& redis, const crypto::Keyring& keyring, std::string key_prefix,
                     crypto::Random& random, audit::Log& log)
    : redis_(redis),
      keyring_(keyring),
      prefix_(std::move(key_prefix)),
      random_(random),
      log_(log) {}

std::string FlowStore::new_state(std::string_view user) {
  std::string state = crypto::make_state(random_);
  const std::string sealed = crypto::seal(
      keyring_, random_, {.user = state, .server_key = "", .kind = kStateKind}, user_tag(user));
  state.push_back('.');
  state += crypto::base64url_encode(sealed);
  return state;
}

std::optional<std::string> FlowStore::tag_of(std::string_view state) const {
  const auto dot = state.find('.');
  if (dot == std::string_view::npos || keyring_.empty()) return std::nullopt;
  const auto sealed = crypto::base64url_decode(state.substr(dot + 1));
  if (!sealed) return std::nullopt;
  auto tag = crypto::open(
      keyring_, {.user = state.substr(0, dot), .server_key = "", .kind = kStateKind}, *sealed);
  if (!tag || !is_user_tag(*tag)) return std::nullopt;
  return std::move(tag.value());
}

std::string FlowStore::flow_key(std::string_view state) const {
  const auto tag = tag_of(state);
  if (!tag) return legacy_flow_key(state);
  return tagged_key(prefix_, *tag, "flow:" + crypto::sha256_hex(state));
}

std::string FlowStore::legacy_flow_key(std::string_view state) const {
  return prefix_ + "flow:" + crypto::sha256_hex(state);
}

std::string FlowStore::index_key(std::string_view user) const {
  return user_key(prefix_, user, "flows");
}

Result<Unit, StoreError> FlowStore::put(std::string_view state, const PendingFlow& flow,
                                        const FlowLimits& limits) {
  if (!enabled()) return Err{StoreError::kDisabled};
  // The flow's keys carry the tag the state carries (sealed), so the callback finds them from
  // the state alone; it must be this user's tag.
  const auto tag = tag_of(state);
  if (!tag || *tag != user_tag(flow.user)) {
    log_.warn("flow_state_refused", {{"user", std::string_view(flow.user)}});
    return Err{StoreError::kUnavailable};
  }
  const std::string id = crypto::sha256_hex(state);
  const std::string flows = tagged_key(prefix_, *tag, "flow:");
  const std::string key = flows + id;
  const std::string sealed = crypto::seal(
      keyring_, random_, {.user = id, .server_key = "", .kind = kFlowKind}, encode_flow(flow));
  const auto failed = [this](const RedisFailure& f) {
    log_.warn("redis_unavailable",
              {{"op", std::string_view("flow_put")}, {"detail", std::string_view(f.detail)}});
    return Err{StoreError::kUnavailable};
  };

  // One atomic step on the server (scripts::kPutFlow): the flow's SET NX EX, its index entry
  // scored by the server's TIME, the index trimmed of expired entries and down to the cap (the
  // oldest others first, their flows deleted), the index's EXPIRE. Nothing is left half done, so
  // there is nothing to undo; a reply lost after the script ran leaves a flow nobody holds, inside
  // the cap, until its TTL.
  static const Script kPut(scripts::kPutFlow);
  // model: connect.put_script
  auto reply = kPut.run(
      redis_, {key, tagged_key(prefix_, *tag, "flows")},
      {sealed, std::to_string(limits.ttl_seconds), std::to_string(limits.max_per_user), id, flows});
  if (!reply) return failed(reply.error());
  if (reply->type != Reply::Type::kInteger) {
    return failed({RedisError::kRejected, "unexpected reply to EVALSHA"});
  }
  // -1: the key exists: 256 random bits collided, or the state was reused.
  if (reply->integer < 0) return Err{StoreError::kUnavailable};
  if (reply->integer > 0) {
    log_.info("pending_flows_capped",
              {{"user", std::string_view(flow.user)}, {"dropped", reply->integer}});
  }
  return Unit{};
}

Result<std::int64_t, StoreError> FlowStore::purge_user(std::string_view user) {
  const auto failed = [this](const RedisFailure& f) {
    log_.warn("redis_unavailable",
              {{"op", std::string_view("flow_purge")}, {"detail", std::string_view(f.detail)}});
    return Err{StoreError::kUnavailable};
  };
  const std::string index = index_key(user);
  auto ids = redis_.command({"ZRANGE", index, "0", "-1"});
  if (!ids) return failed(ids.error());
  std::int64_t removed = 0;
  for (const Reply& id : ids->elements) {
    auto r = redis_.command({"DEL", user_key(prefix_, user, "flow:" + id.str)});
    if (!r) return failed(r.error());
    removed += r->integer;
  }
  if (auto r = redis_.command({"DEL", index}); !r) return failed(r.error());
  return removed;
}

Result<std::optional<PendingFlow>, StoreError> FlowStore::take(std::string_view state) {
  if (!enabled()) return Err{StoreError::kDisabled};
  const std::string id = crypto::sha256_hex(state);
  Result<Reply, RedisFailure> got = Reply{};
  if (const auto tag = tag_of(state)) {
    // One atomic step: GETDEL of the flow and ZREM of its index entry (scripts::kTakeFlow); of
    // racing callers exactly one gets the flow.
    static const Script kTake(scripts::kTakeFlow);
    // model: callback.getdel
    got = kTake.run(redis_,
                    {tagged_key(prefix_, *tag, "flow:" + id), tagged_key(prefix_, *tag, "flows")},
                    {id});
  } else if (state.find('.') == std::string_view::npos) {
    // A state handed out before the per-user hash tags: its flow, if still pending, is under the
    // old key (its old index entry expires with the old index).
    got = redis_.command({"GETDEL", legacy_flow_key(state)});
  } else {
    return std::optional<PendingFlow>();  // a tag that does not open: no such flow can exist
  }
  if (!got) {
    log_.warn("redis_unavailable", {{"op", std::string_view("flow_take")},
                                    {"detail", std::string_view(got.error().detail)}});
    return Err{StoreError::kUnavailable};
  }
  if (got->type != Reply::Type::kString) return std::optional<PendingFlow>();
  auto opened = crypto::open(keyring_, {.user = id, .server_key = "", .kind = kFlowKind}, got->str);
  if (!opened) {
    log_.warn("flow_unreadable", {{"reason", crypto::label(opened.error())}});
    return std::optional<PendingFlow>();
  }
  auto flow = decode_flow(*opened);
  if (!flow) {
    log_.warn("flow_unreadable", {{"reason", std::string_view("malformed")}});
    return std::optional<PendingFlow>();
  }
  return flow;
}

}  // namespace credbroker::store
