#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/broker/lifecycle.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"

namespace credbroker::routes {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_if(Writer& w, std::string_view key, std::string_view value) {
  if (!value.empty()) put(w, key, value);
}

/** One entry of the list: what the caller may know about one upstream, never a token. */
void write_entry(Writer& w, const config::Server& server, std::string_view status,
                 const store::Credential* credential) {
  const config::AuthBroker& broker = *server.auth_broker;
  w.StartObject();
  put(w, "server", server.name);
  put(w, "mode", config::mode_name(broker.mode));
  put(w, "status", status);
  if (credential != nullptr) {
    put_if(w, "token_type", credential->token_type);
    if (!credential->scopes.empty()) {
      w.Key("scopes");
      w.StartArray();
      for (const auto& s : credential->scopes)
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      w.EndArray();
    }
    put_if(w, "audience", credential->audience);
    put_if(w, "obtained_via", credential->obtained_via);
    if (credential->expires_at > 0) put(w, "expires_at", format_rfc3339(credential->expires_at));
    if (credential->updated_at > 0) put(w, "updated_at", format_rfc3339(credential->updated_at));
  }
  if (broker.mode == config::BrokerMode::kOAuthConnect &&
      (status == "not_connected" || status == "expired")) {
    put(w, "connect_path", broker::connect_path(server));
  }
  w.EndObject();
}

}  // namespace

http::Response list(const http::Request& request, Context& context, RequestNote& note) {
  if (request.path != kCredentialsPath && request.path != std::string(kCredentialsPath) + "/") {
    return not_found();
  }
  if (request.method != "GET") return method_not_allowed("GET");
  auto user = authenticate(request, context, note);
  if (!user) return user.error();

  // One round trip for the whole list; any store failure marks every entry unavailable.
  std::map<std::string, store::Credential> stored;
  bool available = false;
  if (!context.credentials.enabled()) {
    note.reason = "store_disabled";
  } else if (auto loaded = context.credentials.load_all(*user); !loaded) {
    note.reason = "store_unavailable";
  } else {
    stored = std::move(loaded.value());
    available = true;
  }

  const std::int64_t now = context.clock.now_seconds();
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("credentials");
  w.StartArray();
  for (const config::Server* server : context.config.brokered()) {
    const store::Credential* credential = nullptr;
    std::string_view status = "unavailable";
    if (available) {
      const auto it = stored.find(server->key);
      if (it == stored.end()) {
        status = "not_connected";
      } else {
        credential = &it->second;
        status = broker::list_status(*credential, *server->auth_broker, now);
      }
    }
    write_entry(w, *server, status, credential);
  }
  w.EndArray();
  w.EndObject();
  return http::json_response(200, buf.GetString());
}

}  // namespace credbroker::routes
