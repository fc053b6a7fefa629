#include "shared/store/flow_store.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>

#include "shared/crypto/hash.h"
#include "shared/crypto/seal.h"

namespace credbroker::store {

namespace {

constexpr std::string_view kFlowKind = "flow";

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
                     crypto::Random& random, const Clock& clock, audit::Log& log)
    : redis_(redis),
      keyring_(keyring),
      prefix_(std::move(key_prefix)),
      random_(random),
      clock_(clock),
      log_(log) {}

std::string FlowStore::flow_key(std::string_view state) const {
  return prefix_ + "flow:" + crypto::sha256_hex(state);
}

std::string FlowStore::index_key(std::string_view user) const {
  std::string key = prefix_ + "flows:{";
  key.append(user);
  key.push_back('}');
  return key;
}

Result<Unit, StoreError> FlowStore::put(std::string_view state, const PendingFlow& flow,
                                        const FlowLimits& limits) {
  if (!enabled()) return Err{StoreError::kDisabled};
  const std::string id = crypto::sha256_hex(state);
  const std::string key = prefix_ + "flow:" + id;
  const std::string sealed = crypto::seal(
      keyring_, random_, {.user = id, .server_key = "", .kind = kFlowKind}, encode_flow(flow));
  const auto failed = [this](const RedisFailure& f) {
    log_.warn("redis_unavailable",
              {{"op", std::string_view("flow_put")}, {"detail", std::string_view(f.detail)}});
    return Err{StoreError::kUnavailable};
  };

  // model: connect.set_nx
  auto set = redis_.command({"SET", key, sealed, "NX", "EX", std::to_string(limits.ttl_seconds)});
  if (!set) return failed(set.error());
  // A nil reply means the key exists: 256 random bits collided, or the state was reused.
  if (set->type == Reply::Type::kNil) return Err{StoreError::kUnavailable};

  // The per-user index, ordered by creation time in microseconds, holds the cap.
  const std::string index = index_key(flow.user);
  // From here on the record exists. On a later failure the caller answers 503 and nobody ever
  // holds this state, so the record goes again (best effort) rather than sit outside the cap
  // until its TTL.
  // model: connect.abandon
  const auto abandon = [&](const RedisFailure& f) {
    (void)redis_.command({"ZREM", index, id});
    (void)redis_.command({"DEL", key});
    return failed(f);
  };
  const auto now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.now().time_since_epoch())
          .count();
  const std::int64_t horizon_us = now_us - limits.ttl_seconds * 1'000'000;
  // model: connect.index_and_cap
  if (auto r = redis_.command({"ZADD", index, std::to_string(now_us), id}); !r) {
    return abandon(r.error());
  }
  if (auto r = redis_.command({"ZREMRANGEBYSCORE", index, "-inf", std::to_string(horizon_us)});
      !r) {
    return abandon(r.error());
  }
  auto count = redis_.command({"ZCARD", index});
  if (!count) return abandon(count.error());
  if (count->integer > limits.max_per_user) {
    // The flow just stored must survive even when it does not have the lowest score (hosts whose
    // clocks disagree, or equal microseconds, which Redis orders by member): pop one more than
    // the excess and put one back, this flow when it was popped, else the youngest popped.
    const std::int64_t excess = count->integer - limits.max_per_user;
    auto popped = redis_.command({"ZPOPMIN", index, std::to_string(excess + 1)});
    if (!popped) return abandon(popped.error());
    // ZPOPMIN answers member, score, member, score, ..., lowest score first.
    const auto& e = popped->elements;
    std::size_t keep = e.size() >= 2 ? e.size() - 2 : e.size();
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
      if (e[i].str == id) keep = i;
    }
    std::int64_t dropped = 0;
    for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
      auto r = i == keep ? redis_.command({"ZADD", index, e[i + 1].str, e[i].str})
                         : redis_.command({"DEL", prefix_ + "flow:" + e[i].str});
      if (!r) return abandon(r.error());
      if (i != keep) ++dropped;
    }
    log_.info("pending_flows_capped",
              {{"user", std::string_view(flow.user)}, {"dropped", dropped}});
  }
  if (auto r = redis_.command({"EXPIRE", index, std::to_string(limits.ttl_seconds)}); !r) {
    return abandon(r.error());
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
    auto r = redis_.command({"DEL", prefix_ + "flow:" + id.str});
    if (!r) return failed(r.error());
    removed += r->integer;
  }
  if (auto r = redis_.command({"DEL", index}); !r) return failed(r.error());
  return removed;
}

Result<std::optional<PendingFlow>, StoreError> FlowStore::take(std::string_view state) {
  if (!enabled()) return Err{StoreError::kDisabled};
  const std::string id = crypto::sha256_hex(state);
  // model: callback.getdel
  auto got = redis_.command({"GETDEL", prefix_ + "flow:" + id});
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
  // Best effort: the index entry would expire with the index anyway.
  // model: callback.index_zrem
  (void)redis_.command({"ZREM", index_key(flow->user), id});
  return flow;
}

}  // namespace credbroker::store
