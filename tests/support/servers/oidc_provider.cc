#include "tests/support/servers/oidc_provider.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "shared/http/client.h"

namespace credbroker::testing {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr std::string_view kReadyLine = "oidc-provider ready on ";

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void put(JsonWriter& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put_array(JsonWriter& w, std::string_view key, const std::vector<std::string>& values) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.StartArray();
  for (const auto& v : values) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

/** The JSON file tests/oidc/server.mjs reads (its header documents the format). */
std::string server_config(const OidcProviderOptions& o, int port) {
  rapidjson::StringBuffer out;
  JsonWriter w(out);
  w.StartObject();
  w.Key("port");
  w.Int(port);
  w.Key("clients");
  w.StartArray();
  for (const auto& c : o.clients) {
    w.StartObject();
    put(w, "client_id", c.client_id);
    if (!c.client_secret.empty()) put(w, "client_secret", c.client_secret);
    put(w, "token_endpoint_auth_method", c.auth_method);
    put_array(w, "redirect_uris", c.redirect_uris);
    put_array(w, "grant_types", c.grant_types);
    w.EndObject();
  }
  w.EndArray();
  w.Key("resources");
  w.StartObject();
  for (const auto& r : o.resources) {
    w.Key(r.indicator.c_str());
    w.StartObject();
    put(w, "scope", r.scope);
    put(w, "accessTokenFormat", r.token_format);
    w.Key("accessTokenTTL");
    w.Int(r.access_token_ttl_seconds);
    w.EndObject();
  }
  w.EndObject();
  if (!o.default_resource.empty()) put(w, "default_resource", o.default_resource);
  put(w, "refresh_tokens", o.refresh_tokens_always ? "always" : "offline_access");
  w.Key("access_token_ttl");
  w.Int(o.access_token_ttl_seconds);
  w.EndObject();
  return out.GetString();
}

std::string member(const rapidjson::Document& d, const char* key) {
  if (!d.HasMember(key) || !d[key].IsString()) {
    throw std::runtime_error(std::string("oidc-provider discovery: no string \"") + key + "\"");
  }
  return d[key].GetString();
}

}  // namespace

OidcProvider::OidcProvider(OidcProviderOptions options)
    : options_(std::move(options)), dir_("credbroker-oidc") {
  // free_port() can race with another process taking the port; try a few.
  for (int attempt = 1;; ++attempt) {
    port_ = options_.port != 0 ? options_.port : free_port();
    try {
      launch();
      read_discovery();
      return;
    } catch (const std::exception&) {
      if (process_) process_->stop();
      process_.reset();
      if (attempt == 3 || options_.port != 0) throw;
    }
  }
}

OidcProvider::~OidcProvider() {
  if (process_) process_->stop();
}

std::string OidcProvider::issuer_for(int port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

void OidcProvider::launch() {
  const std::string config_path = dir_.file("config.json");
  write_file(config_path, server_config(options_, port_));
  process_.emplace(
      ProcessOptions{.argv = {"node", std::string(CREDBROKER_SOURCE_DIR) + "/tests/oidc/server.mjs",
                              "--config", config_path},
                     .env = {},
                     .stdout_path = dir_.file("stdout.log"),
                     .stderr_path = dir_.file("stderr.log")});

  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (read_file(dir_.file("stdout.log")).find(kReadyLine) == std::string::npos) {
    if (!process_->running()) {
      throw std::runtime_error("oidc-provider on port " + std::to_string(port_) +
                               " exited at start (tests/oidc/node_modules comes from "
                               "scripts/install-deps); log:\n" +
                               log_tail());
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("oidc-provider on port " + std::to_string(port_) +
                               " not ready in time; log:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void OidcProvider::read_discovery() {
  auto client = http::make_curl_client({});
  const std::string url = issuer_for(port_) + "/.well-known/openid-configuration";
  auto answer = client->send({.method = "GET", .url = url});
  if (!answer.ok() || answer->status != 200) {
    throw std::runtime_error("oidc-provider discovery " + url + " failed (" +
                             (answer.ok() ? "HTTP " + std::to_string(answer->status)
                                          : std::string(http::describe(answer.error()))) +
                             "); log:\n" + log_tail());
  }
  rapidjson::Document d;
  d.Parse(answer->body.c_str());
  if (d.HasParseError() || !d.IsObject()) {
    throw std::runtime_error("oidc-provider discovery: not a JSON object");
  }
  issuer_ = member(d, "issuer");
  authorization_endpoint_ = member(d, "authorization_endpoint");
  token_endpoint_ = member(d, "token_endpoint");
}

std::string OidcProvider::log() const {
  return read_file(dir_.file("stdout.log")) + read_file(dir_.file("stderr.log"));
}

std::string OidcProvider::log_tail() const {
  const std::string all = log();
  return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
}

}  // namespace credbroker::testing
