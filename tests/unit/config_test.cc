#define BOOST_TEST_MODULE config
#include "shared/config/config.h"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <map>
#include <string>

#include "shared/crypto/hash.h"
#include "shared/identity/algorithms.h"
#include "tests/support/tempdir.h"

namespace credbroker::config {
namespace {

constexpr const char* kMinimal = R"({
  "public_base_url": "https://broker.example.com",
  "identity": {
    "issuer": "https://idp.example.com",
    "audience": "credbroker",
    "jwks_file": "/etc/credbroker/jwks.json"
  }
})";

constexpr const char* kGithub = R"({
  "name": "github",
  "url": "https://mcp.github.example/mcp",
  "auth_broker": {
    "authorization_endpoint": "https://github.example/login/oauth/authorize",
    "token_endpoint": "https://github.example/login/oauth/access_token",
    "client_id": "gh-client",
    "client_secret": "gh-secret"
  }
})";

/** The minimal valid config, edited with JSON Pointers (RFC 6901); values are JSON text. */
class ConfigJson {
 public:
  ConfigJson() { doc_.Parse(kMinimal); }
  ConfigJson(const ConfigJson& other) { doc_.CopyFrom(other.doc_, doc_.GetAllocator()); }

  ConfigJson& set(const char* pointer, const std::string& json_value) {
    rapidjson::Document value;
    value.Parse(json_value.c_str());
    BOOST_REQUIRE_MESSAGE(!value.HasParseError(), "test JSON does not parse: " << json_value);
    rapidjson::Value copy(value, doc_.GetAllocator());
    rapidjson::Pointer(pointer).Set(doc_, copy);
    return *this;
  }
  ConfigJson& erase(const char* pointer) {
    rapidjson::Pointer(pointer).Erase(doc_);
    return *this;
  }
  /** Adds a server (JSON text) to "servers". */
  ConfigJson& server(const std::string& json) {
    if (rapidjson::Pointer("/servers").Get(doc_) == nullptr) set("/servers", "[]");
    return set("/servers/-", json);
  }

  std::string str() const {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    doc_.Accept(w);
    return buf.GetString();
  }

 private:
  rapidjson::Document doc_;
};

EnvLookup env_with(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

EnvLookup no_env() {
  return env_with({});
}

Config parse_ok(const std::string& json, const EnvLookup& env = no_env()) {
  auto result = parse(json, env);
  BOOST_REQUIRE_MESSAGE(result.ok(), "unexpected error: " << (result.ok() ? "" : result.error()));
  return std::move(result).value();
}

std::string parse_error(const std::string& json, const EnvLookup& env = no_env()) {
  auto result = parse(json, env);
  BOOST_REQUIRE_MESSAGE(!result.ok(), "expected an error for " << json);
  return result.error();
}

std::string parse_error(const ConfigJson& json, const EnvLookup& env = no_env()) {
  return parse_error(json.str(), env);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(minimal_and_defaults)

BOOST_AUTO_TEST_CASE(minimal_config_parses_with_documented_defaults) {
  const Config cfg = parse_ok(kMinimal);
  BOOST_TEST(cfg.public_base_url == "https://broker.example.com");
  BOOST_TEST(cfg.ui_redirect == "/ui/");
  BOOST_TEST(cfg.identity.header == "Authorization");
  BOOST_TEST(cfg.identity.issuer == "https://idp.example.com");
  BOOST_TEST(cfg.identity.audiences == std::vector<std::string>{"credbroker"});
  BOOST_TEST(cfg.identity.user_claim == "sub");
  BOOST_TEST(cfg.identity.algorithms == (std::vector<std::string>{"RS256", "ES256"}));
  BOOST_TEST(cfg.identity.leeway_seconds == 60);
  BOOST_TEST(cfg.identity.jwks_file == "/etc/credbroker/jwks.json");
  BOOST_TEST_REQUIRE(cfg.redis.endpoint.hosts.size() == 1u);
  BOOST_TEST(cfg.redis.endpoint.hosts[0].host == "127.0.0.1");
  BOOST_TEST(cfg.redis.endpoint.hosts[0].port == 6379);
  BOOST_TEST(cfg.redis.endpoint.db == 0);
  BOOST_TEST(cfg.redis.endpoint.password == "");
  BOOST_TEST(!cfg.redis.endpoint.tls.enabled);
  BOOST_TEST(cfg.redis.connect_timeout_ms == 500);
  BOOST_TEST(cfg.redis.command_timeout_ms == 500);
  BOOST_TEST(cfg.redis.key_prefix == "credbroker:");
  BOOST_TEST(cfg.http.connect_timeout_ms == 2000);
  BOOST_TEST(cfg.http.timeout_ms == 5000);
  BOOST_TEST(cfg.http.ca_file == "");
  BOOST_TEST(cfg.flow_ttl_seconds == 600);
  BOOST_TEST(cfg.max_pending_flows_per_user == 16);
  BOOST_TEST(cfg.servers.empty());
}

BOOST_AUTO_TEST_CASE(every_field_set_is_read) {
  const Config cfg =
      parse_ok(ConfigJson()
                   .set("/public_base_url", R"("http://localhost:8080/broker//")")
                   .set("/ui_redirect", R"("/app/connected?x=1")")
                   .set("/identity", R"({"header": "X-Forwarded-Jwt", "issuer": "https://idp",
                               "audience": ["a", "b"], "user_claim": "email",
                               "algorithms": ["EdDSA", "PS256"], "leeway_seconds": 0,
                               "jwks_url": "https://idp.example.com/jwks"})")
                   .set("/redis", R"({"url": "unix:///run/redis.sock", "connect_timeout_ms": 100,
                            "command_timeout_ms": 200, "key_prefix": "cb:"})")
                   .set("/http", R"({"connect_timeout_ms": 1000, "timeout_ms": 3000,
                           "ca_file": "/etc/ssl/ca.pem"})")
                   .set("/flow_ttl_seconds", "30")
                   .set("/max_pending_flows_per_user", "1000")
                   .str());
  BOOST_TEST(cfg.public_base_url == "http://localhost:8080/broker");
  BOOST_TEST(cfg.ui_redirect == "/app/connected?x=1");
  BOOST_TEST(cfg.identity.header == "X-Forwarded-Jwt");
  BOOST_TEST(cfg.identity.audiences == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(cfg.identity.user_claim == "email");
  BOOST_TEST(cfg.identity.algorithms == (std::vector<std::string>{"EdDSA", "PS256"}));
  BOOST_TEST(cfg.identity.leeway_seconds == 0);
  BOOST_TEST(cfg.identity.jwks_url == "https://idp.example.com/jwks");
  BOOST_TEST(cfg.redis.endpoint.socket_path == "/run/redis.sock");
  BOOST_TEST(cfg.redis.connect_timeout_ms == 100);
  BOOST_TEST(cfg.redis.command_timeout_ms == 200);
  BOOST_TEST(cfg.redis.key_prefix == "cb:");
  BOOST_TEST(cfg.http.connect_timeout_ms == 1000);
  BOOST_TEST(cfg.http.timeout_ms == 3000);
  BOOST_TEST(cfg.http.ca_file == "/etc/ssl/ca.pem");
  BOOST_TEST(cfg.flow_ttl_seconds == 30);
  BOOST_TEST(cfg.max_pending_flows_per_user == 1000);
}

BOOST_AUTO_TEST_CASE(full_broker_block_is_read) {
  const Config cfg = parse_ok(ConfigJson()
                                  .server(R"({"name": "Atlassian", "url": "https://mcp.atl/v1",
        "auth_broker": {
          "mode": "oauth_connect",
          "authorization_endpoint": "https://auth.atl/authorize",
          "token_endpoint": "https://auth.atl/token?tenant=x",
          "client_id": "cid",
          "client_secret": "shh",
          "token_endpoint_auth_method": "client_secret_basic",
          "scopes": ["read:jira", "offline_access"],
          "resource": "https://mcp.atl/v1",
          "issuer": "https://auth.atl",
          "authorization_params": {"prompt": "consent", "audience": "api.atl"}}})")
                                  .str());
  BOOST_REQUIRE(cfg.servers.size() == 1);
  const Server& s = cfg.servers[0];
  BOOST_TEST(s.name == "Atlassian");
  BOOST_TEST(s.url == "https://mcp.atl/v1");
  BOOST_REQUIRE(s.auth_broker.has_value());
  const AuthBroker& b = *s.auth_broker;
  BOOST_TEST((b.mode == BrokerMode::kOAuthConnect));
  BOOST_TEST(b.authorization_endpoint == "https://auth.atl/authorize");
  BOOST_TEST(b.token_endpoint == "https://auth.atl/token?tenant=x");
  BOOST_TEST(b.client_id == "cid");
  BOOST_TEST(b.client_secret == "shh");
  BOOST_TEST((b.token_endpoint_auth_method == ClientAuthMethod::kClientSecretBasic));
  BOOST_TEST(b.scopes == (std::vector<std::string>{"read:jira", "offline_access"}));
  BOOST_TEST(b.resource == "https://mcp.atl/v1");
  BOOST_TEST(b.issuer == "https://auth.atl");
  const std::vector<std::pair<std::string, std::string>> params = {{"prompt", "consent"},
                                                                   {"audience", "api.atl"}};
  BOOST_TEST((b.authorization_params == params));
}

BOOST_AUTO_TEST_CASE(broker_defaults_to_oauth_connect_and_client_secret_post) {
  const Config cfg = parse_ok(ConfigJson().server(kGithub).str());
  const AuthBroker& b = *cfg.servers.at(0).auth_broker;
  BOOST_TEST((b.mode == BrokerMode::kOAuthConnect));
  BOOST_TEST((b.token_endpoint_auth_method == ClientAuthMethod::kClientSecretPost));
  BOOST_TEST(b.scopes.empty());
  BOOST_TEST(b.authorization_params.empty());
}

BOOST_AUTO_TEST_CASE(no_client_secret_means_a_public_client_as_the_reference_gateway_documents) {
  // A reference gateway's auth_broker block without client_secret loads unchanged: PKCE only.
  const Config cfg =
      parse_ok(ConfigJson().server(kGithub).erase("/servers/0/auth_broker/client_secret").str());
  const AuthBroker& b = *cfg.servers.at(0).auth_broker;
  BOOST_TEST((b.token_endpoint_auth_method == ClientAuthMethod::kNone));
  BOOST_TEST(b.client_secret.empty());
  // Microsoft's on-behalf-of flow is for confidential clients only: a secret stays required.
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "b", "url": "https://b", "auth_broker": {
          "mode": "entra_obo", "token_endpoint": "https://login/token", "client_id": "c",
          "scopes": ["api://0000-1111/.default"]}})")) ==
             "servers[0].auth_broker.client_secret: required for mode \"entra_obo\"");
}

/** A reference gateway config file (mcpproxy server edition): its own keys around mcpServers. */
constexpr const char* kReferenceFile = R"({
  "listen": "0.0.0.0:8080",
  "data_dir": "/var/lib/mcpproxy",
  "api_key": "reference-api-key",
  "tls": {"enabled": false},
  "mcpServers": [
    {"name": "github", "url": "https://api.githubcopilot.com/mcp/", "protocol": "http",
     "enabled": true, "shared": true, "quarantined": false, "headers": {"X-Team": "a"},
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "https://github.example/login/oauth/authorize",
                     "token_endpoint": "https://github.example/login/oauth/access_token",
                     "client_id": "gh-client", "scopes": ["repo"],
                     "header": "Authorization", "header_format": "Bearer {token}"}},
    {"name": "jira", "url": "https://jira.example/mcp", "protocol": "sse",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": "https://sso.example/token",
                     "client_id": "jira-client", "client_secret": "jira-secret",
                     "resource": "https://jira.example"}},
    {"name": "docs", "url": "https://docs.example/mcp"},
    {"name": "files", "command": "npx", "args": ["-y", "server-filesystem", "/tmp"],
     "protocol": "stdio", "env": {"A": "b"}, "enabled": false}
  ]
})";

FileLookup files_with(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& path) -> Result<std::string, std::string> {
    const auto it = files.find(path);
    if (it == files.end()) return Err(std::string("No such file or directory"));
    return it->second;
  };
}

Result<Config, std::string> parse_with_file(ConfigJson json, const std::string& file) {
  return parse(json.set("/servers_file", R"("/etc/mcpproxy/config.json")").str(), no_env(),
               files_with({{"/etc/mcpproxy/config.json", file}}));
}

BOOST_AUTO_TEST_CASE(servers_file_reads_the_reference_gateways_mcp_servers) {
  auto cfg = parse_with_file(ConfigJson(), kReferenceFile);
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error()));
  const auto& servers = cfg.value().servers;
  // The stdio server without a broker is not credbroker's; every other key of the file is ignored.
  BOOST_REQUIRE(servers.size() == 3u);
  BOOST_TEST(servers[0].name == "github");
  const AuthBroker& gh = *servers[0].auth_broker;
  BOOST_TEST((gh.token_endpoint_auth_method == ClientAuthMethod::kNone));  // no secret: public
  BOOST_TEST(gh.header == "Authorization");
  BOOST_TEST(gh.header_format == "Bearer {token}");
  BOOST_TEST((servers[1].auth_broker->mode == BrokerMode::kTokenExchange));
  BOOST_TEST(servers[1].auth_broker->client_secret == "jira-secret");
  BOOST_TEST(!servers[2].auth_broker.has_value());
  BOOST_TEST(servers[0].key == server_key("github", "https://api.githubcopilot.com/mcp/"));
}

BOOST_AUTO_TEST_CASE(servers_file_in_the_object_form) {
  auto cfg = parse_with_file(ConfigJson(), R"({"mcpServers": {"github": {
      "url": "https://gh.example/mcp", "auth_broker": {"authorization_endpoint":
      "https://gh.example/authorize", "token_endpoint": "https://gh.example/token",
      "client_id": "c"}}}})");
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error()));
  BOOST_TEST(cfg.value().servers.at(0).name == "github");
}

BOOST_AUTO_TEST_CASE(servers_file_errors_are_clear) {
  const auto error = [](const ConfigJson& json, const std::string& file) {
    auto cfg = parse_with_file(json, file);
    BOOST_REQUIRE(!cfg.ok());
    return cfg.error();
  };
  BOOST_TEST(error(ConfigJson(), R"({"mcpServers": [{"name": "files", "command": "npx",
      "protocol": "stdio", "auth_broker": {"token_endpoint": "https://t", "client_id": "c"}}]})") ==
             "servers_file.mcpServers[0].auth_broker: brokering is only for HTTP-family servers "
             "(protocol http, sse or streamable-http, or a url and no command); this one is stdio");
  // Without a protocol, a command makes it stdio, as the reference decides.
  BOOST_TEST(error(ConfigJson(), R"({"mcpServers": [{"name": "x", "url": "https://x",
      "command": "run-x", "auth_broker": {"token_endpoint": "https://t", "client_id": "c"}}]})")
                 .find("this one is stdio") != std::string::npos);
  // Any other protocol is named as it is, never called stdio.
  BOOST_TEST(error(ConfigJson(), R"({"mcpServers": [{"name": "x", "url": "https://x",
      "protocol": "grpc", "auth_broker": {"token_endpoint": "https://t", "client_id": "c"}}]})") ==
             "servers_file.mcpServers[0].auth_broker: brokering is only for HTTP-family servers "
             "(protocol http, sse or streamable-http, or a url and no command); this one is of "
             "protocol \"grpc\"");
  BOOST_TEST(error(ConfigJson(), R"({"listen": ":8080"})") ==
             "servers_file: has no \"mcpServers\"");
  BOOST_TEST(
      error(ConfigJson(), "{\"mcpServers\": [").rfind("servers_file: invalid JSON at offset", 0) ==
      0);
  BOOST_TEST(error(ConfigJson().server(kGithub), kReferenceFile) ==
             "servers: cannot be combined with \"servers_file\"");
  // A broker's own fields are checked as in credbroker's config, with the file's location.
  BOOST_TEST(error(ConfigJson(), R"({"mcpServers": [{"name": "g", "url": "https://g",
      "auth_broker": {"mode": "oauth_connect", "token_endpoint": "https://t", "client_id": "c",
      "colour": "red"}}]})") == "servers_file.mcpServers[0].auth_broker.colour: unknown field");
  auto missing = parse(ConfigJson().set("/servers_file", R"("/nowhere/config.json")").str(),
                       no_env(), files_with({}));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error() == "servers_file: cannot read: No such file or directory");
  auto relative =
      parse(ConfigJson().set("/servers_file", R"("config.json")").str(), no_env(), files_with({}));
  BOOST_REQUIRE(!relative.ok());
  BOOST_TEST(relative.error() == "servers_file: must be an absolute path");
}

BOOST_AUTO_TEST_CASE(servers_file_is_read_from_disk_by_load_file) {
  testing::TempDir dir("credbroker-config-reference");
  const std::string reference = dir.file("mcp_config.json");
  {
    std::FILE* f = std::fopen(reference.c_str(), "w");
    BOOST_REQUIRE(f != nullptr);
    std::fputs(kReferenceFile, f);
    std::fclose(f);
  }
  const std::string own = dir.file("credbroker.json");
  {
    std::FILE* f = std::fopen(own.c_str(), "w");
    BOOST_REQUIRE(f != nullptr);
    std::fputs(ConfigJson().set("/servers_file", "\"" + reference + "\"").str().c_str(), f);
    std::fclose(f);
  }
  auto cfg = load_file(own, no_env());
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error()));
  BOOST_TEST(cfg.value().servers.size() == 3u);
}

BOOST_AUTO_TEST_CASE(token_exchange_and_obo_need_no_authorization_endpoint) {
  const Config cfg = parse_ok(ConfigJson()
                                  .server(R"({"name": "a", "url": "https://a", "auth_broker": {
          "mode": "token_exchange", "token_endpoint": "https://sts/token", "client_id": "c",
          "token_endpoint_auth_method": "none"}})")
                                  .server(R"({"name": "b", "url": "https://b", "auth_broker": {
          "mode": "entra_obo", "token_endpoint": "https://login/token", "client_id": "c",
          "client_secret": "s", "resource": "api://0000-1111",
          "scopes": ["api://0000-1111/.default"]}})")
                                  .str());
  BOOST_TEST((cfg.servers.at(0).auth_broker->mode == BrokerMode::kTokenExchange));
  BOOST_TEST((cfg.servers.at(1).auth_broker->mode == BrokerMode::kEntraObo));
  BOOST_TEST(cfg.servers.at(1).auth_broker->resource == "api://0000-1111");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_document)

BOOST_AUTO_TEST_CASE(syntax_error_names_the_offset_and_rapidjson_message) {
  BOOST_TEST(parse_error(R"({"public_base_url": })") ==
             "config: invalid JSON at offset 20: Invalid value.");
  BOOST_TEST(parse_error("") == "config: invalid JSON at offset 0: The document is empty.");
  BOOST_TEST(parse_error("{} {}") ==
             "config: invalid JSON at offset 3: The document root must not be followed by other "
             "values.");
}

BOOST_AUTO_TEST_CASE(nul_byte_is_a_syntax_error) {
  BOOST_TEST(parse_error(std::string(kMinimal) + std::string("\0{", 2)) ==
             "config: invalid JSON at offset " + std::to_string(std::string(kMinimal).size()) +
                 ": NUL byte");
}

BOOST_AUTO_TEST_CASE(root_must_be_an_object) {
  BOOST_TEST(parse_error("[]") == "config: must be a JSON object");
  BOOST_TEST(parse_error("\"x\"") == "config: must be a JSON object");
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_an_error_not_a_crash) {
  const std::string deep = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  BOOST_TEST(parse_error(deep) == "x: unknown field");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_a_syntax_error) {
  BOOST_TEST(parse_error("{\"x\": \"\xff\"}").starts_with("config: invalid JSON at offset "));
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_rejected_where_they_occur) {
  BOOST_TEST(parse_error(R"({"ui_redirect": "/a", "ui_redirect": "/b"})") ==
             "ui_redirect: duplicate field");
  BOOST_TEST(parse_error(R"({"public_base_url": "https://b", "identity": {"issuer": "a",
             "issuer": "b"}})") == "identity.issuer: duplicate field");
  BOOST_TEST(
      parse_error(ConfigJson().str().replace(
          1, 0, R"("mcpServers": {"a": {"url": "https://a"}, "a": {"url": "https://b"}},)")) ==
      "mcpServers.a: duplicate field");
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_named) {
  BOOST_TEST(parse_error(ConfigJson().set("/identity/isuer", R"("x")")) ==
             "identity.isuer: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/public_base_uri", R"("x")")) ==
             "public_base_uri: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/redis", R"({"host": "x"})")) ==
             "redis.host: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/http", R"({"timeout": 1})")) ==
             "http.timeout: unknown field");
  BOOST_TEST(
      parse_error(ConfigJson().server(R"({"name": "a", "url": "https://a", "command": "x"})")) ==
      "servers[0].command: unknown field");
  BOOST_TEST(parse_error(ConfigJson().server(
                 R"({"name": "a", "url": "https://a", "auth_broker": {"client_secert": "x"}})")) ==
             "servers[0].auth_broker.client_secert: unknown field");
}

BOOST_AUTO_TEST_CASE(odd_keys_are_quoted_on_one_line) {
  BOOST_TEST(parse_error(ConfigJson().set("/identity/a b\n", "1")) ==
             "identity[\"a b\\u000a\"]: unknown field");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(top_level_fields)

BOOST_AUTO_TEST_CASE(public_base_url_is_required_and_absolute_http) {
  BOOST_TEST(parse_error(ConfigJson().erase("/public_base_url")) == "public_base_url: required");
  for (const char* bad : {R"("ftp://x")", R"("/relative")", R"("https://")", R"("https://a b")",
                          R"("https://user:pw@host")", R"("https://host:0")",
                          R"("https://host:99999")", R"("https:\\\\host")", "42"}) {
    BOOST_TEST_CONTEXT(bad) {
      const std::string error = parse_error(ConfigJson().set("/public_base_url", bad));
      BOOST_TEST((error == "public_base_url: must be an absolute http(s) URL" ||
                  error == "public_base_url: must be a non-empty string"));
    }
  }
  BOOST_TEST(parse_error(ConfigJson().set("/public_base_url", R"("ftp://x")")) ==
             "public_base_url: must be an absolute http(s) URL");
  BOOST_TEST(parse_error(ConfigJson().set("/public_base_url", R"("https://x/?a=1")")) ==
             "public_base_url: must not contain a query or fragment");
}

BOOST_AUTO_TEST_CASE(public_base_url_must_be_https_except_on_loopback) {
  for (const char* bad : {R"("http://broker.example.com")", R"("http://10.0.0.5:8080/b")",
                          R"("http://127.0.0.2")", R"("http://localhost.evil.test")"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(parse_error(ConfigJson().set("/public_base_url", bad)) ==
                 "public_base_url: must be an https URL (http only for 127.0.0.1, localhost or "
                 "[::1])");
    }
  }
  for (const char* good : {R"("http://127.0.0.1:8080")", R"("http://localhost")",
                           R"("http://[::1]:9/b")", R"("https://broker.example.com")"}) {
    BOOST_TEST_CONTEXT(good) {
      BOOST_TEST(parse_ok(ConfigJson().set("/public_base_url", good).str()).public_base_url != "");
    }
  }
}

BOOST_AUTO_TEST_CASE(identity_types_lifetime_and_high_s_default_and_can_be_set) {
  const auto defaults = parse_ok(ConfigJson().str()).identity;
  BOOST_TEST((defaults.allowed_types == std::vector<std::string>{"JWT", "at+jwt"}));
  BOOST_TEST(defaults.max_token_lifetime_seconds == 86400);
  BOOST_TEST(!defaults.require_low_s_signatures);
  const auto set = parse_ok(ConfigJson()
                                .set("/identity/allowed_types", R"(["application/at+jwt"])")
                                .set("/identity/max_token_lifetime_seconds", "3600")
                                .set("/identity/require_low_s_signatures", "true")
                                .str())
                       .identity;
  BOOST_TEST((set.allowed_types == std::vector<std::string>{"application/at+jwt"}));
  BOOST_TEST(set.max_token_lifetime_seconds == 3600);
  BOOST_TEST(set.require_low_s_signatures);
  BOOST_TEST(parse_error(ConfigJson().set("/identity/allowed_types", "[]")) ==
             "identity.allowed_types: must be a non-empty array of strings");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/allowed_types", R"(["a b"])")) ==
             "identity.allowed_types[0]: must be a media type such as \"JWT\" or \"at+jwt\"");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/max_token_lifetime_seconds", "0")) ==
             "identity.max_token_lifetime_seconds: must be an integer between 60 and 31536000");
}

BOOST_AUTO_TEST_CASE(public_base_url_accepts_ports_and_ipv6) {
  BOOST_TEST(parse_ok(ConfigJson().set("/public_base_url", R"("HTTPS://[::1]:8443/")").str())
                 .public_base_url == "HTTPS://[::1]:8443");
}

BOOST_AUTO_TEST_CASE(ui_redirect_must_stay_on_this_origin) {
  for (const char* bad : {R"("//evil.com")", R"("http://evil.com/")", R"("/\\evil.com")",
                          R"("/ok\r\nSet-Cookie: x")", R"("/ok\n")", R"("ui/")", R"("https:/x")"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(parse_error(ConfigJson().set("/ui_redirect", bad)) ==
                 "ui_redirect: must be a relative path starting with \"/\"");
    }
  }
}

BOOST_AUTO_TEST_CASE(integer_ranges) {
  BOOST_TEST(parse_error(ConfigJson().set("/flow_ttl_seconds", "29")) ==
             "flow_ttl_seconds: must be an integer between 30 and 86400");
  BOOST_TEST(parse_error(ConfigJson().set("/flow_ttl_seconds", "86401")) ==
             "flow_ttl_seconds: must be an integer between 30 and 86400");
  BOOST_TEST(parse_error(ConfigJson().set("/max_pending_flows_per_user", "0")) ==
             "max_pending_flows_per_user: must be an integer between 1 and 1000");
  BOOST_TEST(parse_error(ConfigJson().set("/max_pending_flows_per_user", "\"5\"")) ==
             "max_pending_flows_per_user: must be an integer between 1 and 1000");
  BOOST_TEST(parse_error(ConfigJson().set("/redis", R"({"command_timeout_ms": 0})")) ==
             "redis.command_timeout_ms: must be an integer between 1 and 60000");
  BOOST_TEST(parse_error(ConfigJson().set("/http", R"({"timeout_ms": 1.5})")) ==
             "http.timeout_ms: must be an integer between 1 and 300000");
}

BOOST_AUTO_TEST_CASE(connect_timeout_cannot_exceed_total_timeout) {
  BOOST_TEST(parse_error(ConfigJson().set("/http", R"({"connect_timeout_ms": 6000})")) ==
             "http.connect_timeout_ms: must not exceed http.timeout_ms");
}

BOOST_AUTO_TEST_CASE(sections_must_be_objects) {
  BOOST_TEST(parse_error(ConfigJson().set("/redis", "[]")) == "redis: must be an object");
  BOOST_TEST(parse_error(ConfigJson().set("/http", "1")) == "http: must be an object");
  BOOST_TEST(parse_error(ConfigJson().set("/identity", "null")) == "identity: must be an object");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(identity_section)

BOOST_AUTO_TEST_CASE(identity_is_required) {
  BOOST_TEST(parse_error(ConfigJson().erase("/identity")) == "identity: required");
}

BOOST_AUTO_TEST_CASE(issuer_and_audience_are_required) {
  BOOST_TEST(parse_error(ConfigJson().erase("/identity/issuer")) == "identity.issuer: required");
  BOOST_TEST(parse_error(ConfigJson().erase("/identity/audience")) ==
             "identity.audience: required");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/audience", "[]")) ==
             "identity.audience: must be a string or a non-empty array of strings");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/audience", R"(["a", ""])")) ==
             "identity.audience[1]: must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(leeway_is_bounded) {
  BOOST_TEST(parse_error(ConfigJson().set("/identity/leeway_seconds", "601")) ==
             "identity.leeway_seconds: must be an integer between 0 and 600");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/leeway_seconds", "-1")) ==
             "identity.leeway_seconds: must be an integer between 0 and 600");
  BOOST_TEST(
      parse_ok(ConfigJson().set("/identity/leeway_seconds", "600").str()).identity.leeway_seconds ==
      600);
}

BOOST_AUTO_TEST_CASE(exactly_one_key_source) {
  const std::string expected =
      "identity: exactly one of jwks_file, jwks_url, public_key_pem_file is required";
  BOOST_TEST(parse_error(ConfigJson().erase("/identity/jwks_file")) == expected);
  BOOST_TEST(parse_error(ConfigJson().set("/identity/public_key_pem_file", R"("/k.pem")")) ==
             expected);
  BOOST_TEST(parse_error(ConfigJson().set("/identity/jwks_url", R"("https://idp/jwks")")) ==
             expected);
}

BOOST_AUTO_TEST_CASE(jwks_url_must_be_https_except_on_loopback) {
  ConfigJson base;
  base.erase("/identity/jwks_file");
  BOOST_TEST(parse_error(ConfigJson(base).set("/identity/jwks_url", R"("http://idp/jwks")")) ==
             "identity.jwks_url: must be an absolute https URL (http only for 127.0.0.1, "
             "localhost or [::1])");
  BOOST_TEST(parse_ok(ConfigJson(base).set("/identity/jwks_url", R"("http://127.0.0.1:9/j")").str())
                 .identity.jwks_url == "http://127.0.0.1:9/j");
}

BOOST_AUTO_TEST_CASE(algorithms_come_from_the_allowlist) {
  BOOST_TEST(parse_error(ConfigJson().set("/identity/algorithms", R"(["RS256", "HS256"])")) ==
             "identity.algorithms[1]: \"HS256\" needs identity.hmac_secret_env (the reference "
             "gateway's shared secret), and then is the only algorithm");
  for (const char* hs : {"HS384", "HS512"}) {
    BOOST_TEST(parse_error(ConfigJson().set("/identity/algorithms",
                                            std::string(R"(["RS256", ")") + hs + "\"]")) ==
               "identity.algorithms[1]: unsupported algorithm \"" + std::string(hs) +
                   "\" (supported: RS256, RS384, RS512, PS256, ES256, ES384, EdDSA; HS256 only "
                   "with identity.hmac_secret_env)");
  }
  BOOST_TEST(parse_error(ConfigJson().set("/identity/algorithms", R"(["none"])")) ==
             "identity.algorithms[0]: unsupported algorithm \"none\" (supported: RS256, RS384, "
             "RS512, PS256, ES256, ES384, EdDSA; HS256 only with identity.hmac_secret_env)");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/algorithms", "[]")) ==
             "identity.algorithms: must be a non-empty array of strings");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/algorithms", R"(["ES256", "ES256"])")) ==
             "identity.algorithms[1]: duplicate algorithm \"ES256\"");
}

BOOST_AUTO_TEST_CASE(every_algorithm_identity_verifies_is_accepted) {
  for (const identity::Alg alg : identity::kAlgorithms) {
    const std::string name(identity::alg_name(alg));
    BOOST_TEST_CONTEXT(name) {
      const Config cfg =
          parse_ok(ConfigJson().set("/identity/algorithms", "[\"" + name + "\"]").str());
      BOOST_TEST(cfg.identity.algorithms == std::vector<std::string>{name});
    }
  }
}

BOOST_AUTO_TEST_CASE(trust_api_gateway_authorizer_is_an_opt_in_boolean) {
  BOOST_TEST(parse_ok(kMinimal).identity.trust_api_gateway_authorizer == false);
  BOOST_TEST(parse_ok(ConfigJson().set("/identity/trust_api_gateway_authorizer", "true").str())
                 .identity.trust_api_gateway_authorizer == true);
  BOOST_TEST(parse_ok(ConfigJson().set("/identity/trust_api_gateway_authorizer", "false").str())
                 .identity.trust_api_gateway_authorizer == false);
  BOOST_TEST(parse_error(ConfigJson().set("/identity/trust_api_gateway_authorizer", R"("yes")")) ==
             "identity.trust_api_gateway_authorizer: must be true or false");
  BOOST_TEST(parse_error(ConfigJson().set("/identity/trust_api_gateway_authorizer", "1")) ==
             "identity.trust_api_gateway_authorizer: must be true or false");
}

BOOST_AUTO_TEST_CASE(header_must_be_a_header_name) {
  BOOST_TEST(parse_error(ConfigJson().set("/identity/header", R"("X Jwt")")) ==
             "identity.header: must be an HTTP header name");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(redis_section)

BOOST_AUTO_TEST_CASE(url_forms) {
  for (const char* good :
       {"redis://localhost", "redis://10.0.0.1:6380/3", "redis://[::1]:6379/0",
        "unix:///tmp/r.sock", "unix:///tmp/r.sock?db=2", "redis://user:p%40ss@host:1/",
        "REDIS://localhost", "rediss://h", "redis-sentinel://s1,s2/m", "rediss-cluster://n1,n2"}) {
    BOOST_TEST_CONTEXT(good) {
      parse_ok(ConfigJson().set("/redis/url", "\"" + std::string(good) + "\"").str());
    }
  }
  for (const char* bad :
       {"http://host:6379", "redis://", "redis://host:port/0", "redis://host:6379/x", "unix://",
        "unix:///", "redis://host/0?x=1", "redis://user@host", "redis://:p%zz@host",
        "redis-sentinel://s1", "redis-cluster://n1/2"}) {
    BOOST_TEST_CONTEXT(bad) {
      BOOST_TEST(parse_error(ConfigJson().set("/redis/url", "\"" + std::string(bad) + "\""))
                     .starts_with("redis.url: must be a Redis URL: "));
    }
  }
}

// Before one parser, "REDIS://h" passed start-up and every request then failed: the scheme case
// rule is config's, and the store only ever sees the parsed endpoint.
BOOST_AUTO_TEST_CASE(upper_case_scheme_gives_the_same_endpoint) {
  const Config upper = parse_ok(ConfigJson().set("/redis/url", R"("REDIS://H:7/2")").str());
  const Config lower = parse_ok(ConfigJson().set("/redis/url", R"("redis://H:7/2")").str());
  BOOST_TEST(upper.redis.endpoint.hosts[0].host == lower.redis.endpoint.hosts[0].host);
  BOOST_TEST(upper.redis.endpoint.hosts[0].port == 7);
  BOOST_TEST(upper.redis.endpoint.db == 2);
}

BOOST_AUTO_TEST_CASE(modes_and_tls_come_from_the_scheme_and_the_tls_block) {
  const Config sentinel =
      parse_ok(ConfigJson().set("/redis/url", R"("redis-sentinel://a:1,b:2/main/1")").str());
  BOOST_TEST((sentinel.redis.endpoint.mode == RedisEndpoint::Mode::kSentinel));
  BOOST_TEST(sentinel.redis.endpoint.master_name == "main");
  BOOST_TEST(sentinel.redis.endpoint.hosts.size() == 2u);

  const Config tls = parse_ok(ConfigJson()
                                  .set("/redis", R"({"url": "rediss-cluster://n1:7000",
                                       "tls": {"ca_file": "/ca.pem", "cert_file": "/c.pem",
                                               "key_file": "/k.pem", "server_name": "redis.lan"}})")
                                  .str());
  BOOST_TEST((tls.redis.endpoint.mode == RedisEndpoint::Mode::kCluster));
  BOOST_TEST(tls.redis.endpoint.tls.enabled);
  BOOST_TEST(tls.redis.endpoint.tls.ca_file == "/ca.pem");
  BOOST_TEST(tls.redis.endpoint.tls.cert_file == "/c.pem");
  BOOST_TEST(tls.redis.endpoint.tls.key_file == "/k.pem");
  BOOST_TEST(tls.redis.endpoint.tls.server_name == "redis.lan");

  BOOST_TEST(parse_error(ConfigJson().set(
                 "/redis", R"({"url": "redis://h", "tls": {"ca_file": "/ca.pem"}})")) ==
             "redis.tls: needs a rediss scheme in redis.url");
  BOOST_TEST(parse_error(ConfigJson().set(
                 "/redis", R"({"url": "rediss://h", "tls": {"cert_file": "/c.pem"}})")) ==
             "redis.tls.cert_file: cert_file and key_file go together");
  BOOST_TEST(parse_error(ConfigJson().set("/redis",
                                          R"({"url": "rediss://h", "tls": {"ca": "/ca.pem"}})")) ==
             "redis.tls.ca: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/redis", R"({"url": "rediss://h", "tls": 1})")) ==
             "redis.tls: must be an object");
}

BOOST_AUTO_TEST_CASE(password_comes_from_the_url_and_env_overrides_it) {
  const std::string json = ConfigJson().set("/redis/url", R"("redis://:p%40ss@h:6379/0")").str();
  const Config from_url = parse_ok(json);
  BOOST_TEST(from_url.redis.endpoint.password == "p@ss");
  const Config with_user =
      parse_ok(ConfigJson().set("/redis/url", R"("redis://user:pw@h/0")").str());
  BOOST_TEST(with_user.redis.endpoint.user == "user");
  BOOST_TEST(with_user.redis.endpoint.password == "pw");
  BOOST_TEST(parse_ok(json, env_with({{"CREDBROKER_REDIS_PASSWORD", "from-env"}}))
                 .redis.endpoint.password == "from-env");
  BOOST_TEST(parse_ok(kMinimal, env_with({{"CREDBROKER_REDIS_PASSWORD", "only-env"}}))
                 .redis.endpoint.password == "only-env");
}

BOOST_AUTO_TEST_CASE(acl_user_from_the_url_with_the_password_from_the_environment) {
  const Config c = parse_ok(ConfigJson().set("/redis/url", R"("rediss://credbroker:@h/0")").str(),
                            env_with({{"CREDBROKER_REDIS_PASSWORD", "acl-pw"}}));
  BOOST_TEST(c.redis.endpoint.user == "credbroker");
  BOOST_TEST(c.redis.endpoint.password == "acl-pw");
  BOOST_TEST(c.redis.endpoint.tls.enabled);
}

BOOST_AUTO_TEST_CASE(url_from_the_environment_wins_over_the_file) {
  const std::string json = ConfigJson().set("/redis/url", R"("redis://file-host:6379/0")").str();
  BOOST_TEST(parse_ok(json).redis.endpoint.hosts[0].host == "file-host");
  const Config from_env =
      parse_ok(json, env_with({{"CREDBROKER_REDIS_URL", "redis://:pw@cache.internal:6379/1"}}));
  BOOST_TEST(from_env.redis.endpoint.hosts[0].host == "cache.internal");
  BOOST_TEST(from_env.redis.endpoint.db == 1);
  BOOST_TEST(from_env.redis.endpoint.password == "pw");
  BOOST_TEST(
      parse_ok(json, env_with({{"CREDBROKER_REDIS_URL", ""}})).redis.endpoint.hosts[0].host ==
      "file-host");
  BOOST_TEST(parse_error(json, env_with({{"CREDBROKER_REDIS_URL", "http://nope"}}))
                 .starts_with("CREDBROKER_REDIS_URL: must be a Redis URL: unknown scheme"));
}

BOOST_AUTO_TEST_CASE(key_prefix_cannot_move_the_hash_tag) {
  BOOST_TEST(parse_error(ConfigJson().set("/redis/key_prefix", R"("{x}:")")) ==
             "redis.key_prefix: must be at most 64 printable characters without spaces, quotes or "
             "braces");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(servers_section)

const std::string kBadServerName =
    "must be 1 to 128 characters without control characters, not \".\" or \"..\", and not end in "
    "\"/connect\" or \"/callback\"";

BOOST_AUTO_TEST_CASE(servers_need_a_name_and_an_absolute_url) {
  BOOST_TEST(parse_error(ConfigJson().server(R"({"url": "https://a"})")) ==
             "servers[0].name: required");
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "a"})")) == "servers[0].url: required");
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "a", "url": "mcp.example"})")) ==
             "servers[0].url: must be an absolute http(s) URL");
  // "/" is allowed (the reference gateway allows it; clients send it as %2F); "." and ".." are
  // dot segments every front resolves away, so no request could name them.
  parse_ok(ConfigJson().server(R"({"name": "acme/jira", "url": "https://a"})").str());
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "..", "url": "https://a"})")) ==
             "servers[0].name: " + kBadServerName);
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": ".", "url": "https://a"})")) ==
             "servers[0].name: " + kBadServerName);
  parse_ok(ConfigJson().server(R"({"name": "...", "url": "https://a"})").str());
  // lighttpd and nginx route on the decoded path: "x/connect" would be x's connect route.
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "x/connect", "url": "https://a"})")) ==
             "servers[0].name: " + kBadServerName);
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "x/callback", "url": "https://a"})")) ==
             "servers[0].name: " + kBadServerName);
  parse_ok(ConfigJson().server(R"({"name": "connect", "url": "https://a"})").str());
  parse_ok(ConfigJson().server(R"({"name": "x/Connect", "url": "https://a"})").str());
  BOOST_TEST(parse_error(ConfigJson().server(R"({"name": "a\tb", "url": "https://a"})")) ==
             "servers[0].name: " + kBadServerName);
  BOOST_TEST(parse_error(ConfigJson().server("{\"name\": \"" + std::string(129, 'x') +
                                             "\", \"url\": \"https://a\"}")) ==
             "servers[0].name: " + kBadServerName);
  // 128 characters of two bytes each is still 128 characters.
  std::string wide;
  for (int i = 0; i < 128; ++i) wide += "\xc3\xa9";
  parse_ok(ConfigJson().server("{\"name\": \"" + wide + "\", \"url\": \"https://a\"}").str());
  BOOST_TEST(parse_error(ConfigJson().set("/servers", "[1]")) == "servers[0]: must be an object");
  BOOST_TEST(parse_error(ConfigJson().set("/servers", "\"x\"")) ==
             "servers: must be an array or an object");
}

BOOST_AUTO_TEST_CASE(names_are_unique_ignoring_case) {
  BOOST_TEST(parse_error(ConfigJson()
                             .server(R"({"name": "jira", "url": "https://j"})")
                             .server(R"({"name": "GitHub", "url": "https://a"})")
                             .server(R"({"name": "github", "url": "https://b"})")) ==
             "servers[2].name: duplicate server name \"github\"");
  BOOST_TEST(parse_error(ConfigJson()
                             .server(R"({"name": "GitHub", "url": "https://a"})")
                             .server(R"({"name": "github", "url": "https://b"})")) ==
             "servers[1].name: duplicate server name \"github\"");
}

BOOST_AUTO_TEST_CASE(mode_must_be_known) {
  BOOST_TEST(parse_error(ConfigJson().server(
                 R"({"name": "a", "url": "https://a", "auth_broker": {"mode": "device_code"}})")) ==
             "servers[0].auth_broker.mode: must be one of \"oauth_connect\", \"token_exchange\", "
             "\"entra_obo\"");
}

BOOST_AUTO_TEST_CASE(endpoints_required_by_mode) {
  ConfigJson json;
  json.server(kGithub).server(R"({"name": "b", "url": "https://b"})");
  BOOST_TEST(parse_error(ConfigJson(json)
                             .server(kGithub)
                             .set("/servers/2/name", R"("c")")
                             .erase("/servers/2/auth_broker/token_endpoint")) ==
             "servers[2].auth_broker.token_endpoint: required for mode \"oauth_connect\"");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).erase(
                 "/servers/0/auth_broker/authorization_endpoint")) ==
             "servers[0].auth_broker.authorization_endpoint: required for mode \"oauth_connect\"");
  BOOST_TEST(parse_error(ConfigJson()
                             .server(kGithub)
                             .set("/servers/0/auth_broker/mode", R"("entra_obo")")
                             .erase("/servers/0/auth_broker/token_endpoint")) ==
             "servers[0].auth_broker.token_endpoint: required for mode \"entra_obo\"");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).erase("/servers/0/auth_broker/client_id")) ==
             "servers[0].auth_broker.client_id: required");
}

BOOST_AUTO_TEST_CASE(endpoints_must_be_https_except_on_loopback) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/token_endpoint",
                                                          R"("http://github.example/token")")) ==
             "servers[0].auth_broker.token_endpoint: must be an absolute https URL (http only for "
             "127.0.0.1, localhost or [::1])");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/authorization_endpoint", R"("https://a/#frag")")) ==
             "servers[0].auth_broker.authorization_endpoint: must not contain a fragment");
  for (const char* loopback :
       {R"("http://127.0.0.1:8080/token")", R"("http://LOCALHOST/token")", R"("http://[::1]/t")"}) {
    BOOST_TEST_CONTEXT(loopback) {
      parse_ok(ConfigJson()
                   .server(kGithub)
                   .set("/servers/0/auth_broker/token_endpoint", loopback)
                   .str());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_revocation_endpoint_is_optional_and_held_to_the_endpoint_rules) {
  BOOST_TEST(parse_ok(ConfigJson().server(kGithub).str())
                 .servers.at(0)
                 .auth_broker->revocation_endpoint.empty());
  BOOST_TEST(parse_ok(ConfigJson()
                          .server(kGithub)
                          .set("/servers/0/auth_broker/revocation_endpoint",
                               R"("https://github.example/oauth/revoke")")
                          .str())
                 .servers.at(0)
                 .auth_broker->revocation_endpoint == "https://github.example/oauth/revoke");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/revocation_endpoint", R"("http://github.example/r")")) ==
             "servers[0].auth_broker.revocation_endpoint: must be an absolute https URL (http only "
             "for 127.0.0.1, localhost or [::1])");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/revocation_endpoint", R"("https://a/r#frag")")) ==
             "servers[0].auth_broker.revocation_endpoint: must not contain a fragment");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/revocation_endpoint", R"("")")) ==
             "servers[0].auth_broker.revocation_endpoint: must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(audit_goes_to_the_log_only_unless_a_stream_is_named) {
  const Config plain = parse_ok(kMinimal);
  BOOST_TEST(plain.audit.redis_stream.empty());
  BOOST_TEST(plain.audit.max_len == 100000);
  const Config streamed =
      parse_ok(ConfigJson().set("/audit", R"({"redis_stream": "credbroker:audit"})").str());
  BOOST_TEST(streamed.audit.redis_stream == "credbroker:audit");
  BOOST_TEST(streamed.audit.max_len == 100000);
  const Config capped =
      parse_ok(ConfigJson().set("/audit", R"({"redis_stream": "a", "max_len": 500})").str());
  BOOST_TEST(capped.audit.max_len == 500);
}

BOOST_AUTO_TEST_CASE(audit_errors_name_the_field) {
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"("credbroker:audit")")) ==
             "audit: must be an object");
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"({"redis_stream": ""})")) ==
             "audit.redis_stream: must be a non-empty string");
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"({"redis_stream": 7})")) ==
             "audit.redis_stream: must be a non-empty string");
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"({"redis_stream": "a", "max_len": 0})")) ==
             "audit.max_len: must be an integer between 1 and 1000000000");
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"({"max_len": 10})")) ==
             "audit.max_len: requires audit.redis_stream");
  BOOST_TEST(parse_error(ConfigJson().set("/audit", R"({"redis_stream": "a", "stream": "b"})")) ==
             "audit.stream: unknown field");
}

BOOST_AUTO_TEST_CASE(limits_default_to_20_connects_and_20_code_exchanges_per_user_per_minute) {
  const Config plain = parse_ok(kMinimal);
  BOOST_TEST(plain.limits.connects_per_minute == 20);
  BOOST_TEST(plain.limits.code_exchanges_per_minute == 20);
  const Config set = parse_ok(
      ConfigJson()
          .set("/limits", R"({"connects_per_minute": 1, "code_exchanges_per_minute": 10000})")
          .str());
  BOOST_TEST(set.limits.connects_per_minute == 1);
  BOOST_TEST(set.limits.code_exchanges_per_minute == 10000);
  const Config one = parse_ok(ConfigJson().set("/limits", R"({"connects_per_minute": 5})").str());
  BOOST_TEST(one.limits.connects_per_minute == 5);
  BOOST_TEST(one.limits.code_exchanges_per_minute == 20);
}

BOOST_AUTO_TEST_CASE(limits_errors_name_the_field) {
  BOOST_TEST(parse_error(ConfigJson().set("/limits", "20")) == "limits: must be an object");
  BOOST_TEST(parse_error(ConfigJson().set("/limits", R"({"connects_per_minute": 0})")) ==
             "limits.connects_per_minute: must be an integer between 1 and 10000");
  BOOST_TEST(parse_error(ConfigJson().set("/limits", R"({"code_exchanges_per_minute": 10001})")) ==
             "limits.code_exchanges_per_minute: must be an integer between 1 and 10000");
  BOOST_TEST(parse_error(ConfigJson().set("/limits", R"({"exchanges_per_minute": 5})")) ==
             "limits.exchanges_per_minute: unknown field");
}

BOOST_AUTO_TEST_CASE(client_secret_rules) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/client_secret_env", R"("GH_SECRET")")) ==
             "servers[0].auth_broker.client_secret_env: cannot be combined with client_secret");
  BOOST_TEST(parse_error(ConfigJson()
                             .server(kGithub)
                             .erase("/servers/0/auth_broker/client_secret")
                             .set("/servers/0/auth_broker/token_endpoint_auth_method",
                                  R"("client_secret_post")")) ==
             "servers[0].auth_broker.client_secret: required for token_endpoint_auth_method "
             "\"client_secret_post\"");
  BOOST_TEST(parse_error(ConfigJson()
                             .server(kGithub)
                             .erase("/servers/0/auth_broker/client_secret")
                             .set("/servers/0/auth_broker/token_endpoint_auth_method",
                                  R"("client_secret_basic")")) ==
             "servers[0].auth_broker.client_secret: required for token_endpoint_auth_method "
             "\"client_secret_basic\"");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/token_endpoint_auth_method", R"("none")")) ==
             "servers[0].auth_broker.client_secret: must not be set for "
             "token_endpoint_auth_method \"none\"");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/token_endpoint_auth_method", R"("private_key_jwt")")) ==
             "servers[0].auth_broker.token_endpoint_auth_method: must be one of "
             "\"client_secret_post\", \"client_secret_basic\", \"none\"");
}

BOOST_AUTO_TEST_CASE(client_secret_env_is_looked_up_in_the_injected_environment) {
  const std::string json = ConfigJson()
                               .server(kGithub)
                               .erase("/servers/0/auth_broker/client_secret")
                               .set("/servers/0/auth_broker/client_secret_env", R"("GH_SECRET")")
                               .str();
  BOOST_TEST(parse_error(json) ==
             "servers[0].auth_broker.client_secret_env: environment variable \"GH_SECRET\" is not "
             "set");
  BOOST_TEST(
      parse_error(json, env_with({{"GH_SECRET", ""}})) ==
      "servers[0].auth_broker.client_secret_env: environment variable \"GH_SECRET\" is empty");
  BOOST_TEST(parse_ok(json, env_with({{"GH_SECRET", "from-env"}}))
                 .servers.at(0)
                 .auth_broker->client_secret == "from-env");
  BOOST_TEST(parse_error(ConfigJson()
                             .server(kGithub)
                             .erase("/servers/0/auth_broker/client_secret")
                             .set("/servers/0/auth_broker/client_secret_env", R"("GH-SECRET")")) ==
             "servers[0].auth_broker.client_secret_env: must be an environment variable name");
}

BOOST_AUTO_TEST_CASE(scopes_are_tokens) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/scopes",
                                                          R"(["repo", "read user"])")) ==
             "servers[0].auth_broker.scopes[1]: must be a scope token: printable ASCII without "
             "spaces");
  BOOST_TEST(
      parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/scopes", R"("repo")")) ==
      "servers[0].auth_broker.scopes: must be an array of strings");
}

BOOST_AUTO_TEST_CASE(authorization_params_cannot_override_the_protocol) {
  for (const char* reserved :
       {"response_type", "client_id", "redirect_uri", "state", "code_challenge",
        "code_challenge_method", "scope", "resource", "State"}) {
    BOOST_TEST_CONTEXT(reserved) {
      ConfigJson json;
      json.server(kGithub).set("/servers/0/auth_broker/authorization_params",
                               "{\"" + std::string(reserved) + "\": \"x\"}");
      BOOST_TEST(parse_error(json) == "servers[0].auth_broker.authorization_params." +
                                          std::string(reserved) + ": reserved parameter");
    }
  }
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/authorization_params", R"({"prompt": 1})")) ==
             "servers[0].auth_broker.authorization_params.prompt: must be a string");
}

BOOST_AUTO_TEST_CASE(resource_is_an_absolute_uri) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/resource",
                                                          R"("https://a/#x")")) ==
             "servers[0].auth_broker.resource: must be an absolute URI without a fragment");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/resource",
                                                          R"("/relative")")) ==
             "servers[0].auth_broker.resource: must be an absolute URI without a fragment");
}

BOOST_AUTO_TEST_CASE(mcp_servers_is_an_alias) {
  const std::string json = ConfigJson().set("/mcpServers", std::string("[") + kGithub + "]").str();
  const Config cfg = parse_ok(json);
  BOOST_REQUIRE(cfg.servers.size() == 1);
  BOOST_TEST(cfg.servers[0].name == "github");
  BOOST_TEST(parse_error(ConfigJson().set("/mcpServers", "[]").set("/servers", "[]")) ==
             "mcpServers: cannot be combined with \"servers\"");
}

BOOST_AUTO_TEST_CASE(object_form_is_keyed_by_name_in_file_order) {
  const Config cfg = parse_ok(ConfigJson()
                                  .set("/mcpServers", R"({
    "zeta": {"url": "https://z"},
    "alpha": {"name": "alpha", "url": "https://a", "auth_broker": {
      "token_endpoint": "https://as/token", "authorization_endpoint": "https://as/auth",
      "client_id": "c", "token_endpoint_auth_method": "none"}}})")
                                  .str());
  BOOST_REQUIRE(cfg.servers.size() == 2);
  BOOST_TEST(cfg.servers[0].name == "zeta");
  BOOST_TEST(cfg.servers[1].name == "alpha");
  BOOST_TEST(!cfg.servers[0].auth_broker.has_value());
  BOOST_TEST(cfg.servers[1].key == server_key("alpha", "https://a"));
}

BOOST_AUTO_TEST_CASE(object_form_locations_use_the_name) {
  BOOST_TEST(parse_error(ConfigJson().set("/mcpServers", R"({"github": {
      "url": "https://a", "auth_broker": {"client_id": "c", "client_secret": "s",
      "authorization_endpoint": "https://as/a"}}})")) ==
             "mcpServers.github.auth_broker.token_endpoint: required for mode \"oauth_connect\"");
  BOOST_TEST(parse_error(ConfigJson().set("/mcpServers", R"({"GitHub": {"url": "https://a"},
      "github": {"url": "https://b"}})")) ==
             "mcpServers.github.name: duplicate server name \"github\"");
  BOOST_TEST(
      parse_error(ConfigJson().set("/mcpServers", R"({"a": {"name": "b", "url": "https://a"}})")) ==
      "mcpServers.a.name: must equal the key \"a\"");
  BOOST_TEST(parse_error(ConfigJson().set("/mcpServers", R"({"my server": {"url": 1}})")) ==
             "mcpServers[\"my server\"].url: must be a non-empty string");
  parse_ok(ConfigJson().set("/mcpServers", R"({"a/b": {"url": "https://a"}})").str());
  BOOST_TEST(
      parse_error(ConfigJson().set("/mcpServers", R"({"a\u0001b": {"url": "https://a"}})")) ==
      "mcpServers[\"a\\u0001b\"].name: " + kBadServerName);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lookups_and_keys)

BOOST_AUTO_TEST_CASE(server_key_is_name_and_sixteen_hex_of_the_name_and_url) {
  const std::string key = server_key("github", "https://mcp.github.example/mcp");
  BOOST_TEST(key ==
             "github_" + crypto::sha256_hex("github|https://mcp.github.example/mcp").substr(0, 16));
  BOOST_TEST(key.size() == std::string("github_").size() + 16);
  // Stable across calls and processes; a new URL orphans old credentials.
  BOOST_TEST(key == server_key("github", "https://mcp.github.example/mcp"));
  BOOST_TEST(key != server_key("github", "https://mcp.github.example/mcp2"));
  BOOST_TEST(server_key("a", "b") == "a_" + crypto::sha256_hex("a|b").substr(0, 16));
  // A fixed vector, so that a change of the derivation cannot go unnoticed.
  BOOST_TEST(server_key("a", "b") == "a_0eab8a0a3380abf4");
}

BOOST_AUTO_TEST_CASE(parse_computes_the_key) {
  const Config cfg = parse_ok(ConfigJson().server(kGithub).str());
  BOOST_TEST(cfg.servers.at(0).key == server_key("github", "https://mcp.github.example/mcp"));
}

BOOST_AUTO_TEST_CASE(brokered_is_sorted_by_lower_cased_name_and_skips_plain_servers) {
  ConfigJson json;
  for (const char* name : {"zeta", "Beta", "alpha", "plain"}) {
    json.server(std::string(kGithub).replace(std::string(kGithub).find("github"), 6, name));
  }
  json.erase("/servers/3/auth_broker");
  const Config cfg = parse_ok(json.str());
  std::vector<std::string> names;
  for (const Server* s : cfg.brokered()) names.push_back(s->name);
  BOOST_TEST(names == (std::vector<std::string>{"alpha", "Beta", "zeta"}));
  BOOST_REQUIRE(cfg.find_brokered("BETA") != nullptr);
  BOOST_TEST(cfg.find_brokered("BETA")->name == "Beta");
  BOOST_TEST(cfg.find_brokered("plain") == nullptr);
  BOOST_TEST(cfg.find_brokered("nope") == nullptr);
}

BOOST_AUTO_TEST_CASE(mode_names) {
  BOOST_TEST(mode_name(BrokerMode::kOAuthConnect) == "oauth_connect");
  BOOST_TEST(mode_name(BrokerMode::kTokenExchange) == "token_exchange");
  BOOST_TEST(mode_name(BrokerMode::kEntraObo) == "entra_obo");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secrets)

constexpr const char* kSentinel = "SENTINEL-s3cr3t-value";

BOOST_AUTO_TEST_CASE(client_secret_never_appears_in_errors) {
  const std::string secret = std::string("\"") + kSentinel + "\"";
  const std::vector<std::string> errors = {
      // The secret is valid; something else fails.
      parse_error(ConfigJson()
                      .server(kGithub)
                      .set("/servers/0/auth_broker/client_secret", secret)
                      .set("/servers/0/auth_broker/scopes", R"(["a b"])")),
      parse_error(ConfigJson()
                      .server(kGithub)
                      .set("/servers/0/auth_broker/client_secret", secret)
                      .set("/servers/0/auth_broker/token_endpoint_auth_method", R"("none")")),
      parse_error(ConfigJson()
                      .server(kGithub)
                      .set("/servers/0/auth_broker/client_secret", secret)
                      .set("/servers/0/auth_broker/client_secret_env", R"("X")")),
      parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/client_secret",
                                                   "[" + secret + "]")),
      // The same secret twice, as a duplicate key.
      parse_error(ConfigJson().server(kGithub).str().replace(
          ConfigJson().server(kGithub).str().find("\"client_secret\""), 0,
          "\"client_secret\":" + secret + ",")),
      // A syntax error right after it.
      parse_error(std::string(R"({"servers": [{"auth_broker": {"client_secret": )") + secret +
                  " ,,}}]}"),
      // From the environment, with the config failing later.
      parse_error(ConfigJson()
                      .server(kGithub)
                      .erase("/servers/0/auth_broker/client_secret")
                      .set("/servers/0/auth_broker/client_secret_env", R"("GH_SECRET")")
                      .set("/servers/0/auth_broker/resource", R"("#")"),
                  env_with({{"GH_SECRET", kSentinel}})),
  };
  for (const std::string& error : errors) {
    BOOST_TEST_CONTEXT(error) {
      BOOST_TEST(error.find("SENTINEL") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(redis_password_never_appears_in_errors) {
  const std::vector<std::string> errors = {
      parse_error(ConfigJson().set(
          "/redis/url", std::string(R"("redis://:)") + kSentinel + R"(@host:notaport/0")")),
      parse_error(
          ConfigJson().set("/redis/url", std::string(R"("redis://u:)") + kSentinel + R"(@h/0 ")")),
      parse_error(ConfigJson()
                      .set("/redis/url", std::string(R"("redis://:)") + kSentinel + R"(@h/0")")
                      .set("/flow_ttl_seconds", "1")),
      parse_error(ConfigJson().set("/flow_ttl_seconds", "1"),
                  env_with({{"CREDBROKER_REDIS_PASSWORD", kSentinel}})),
  };
  for (const std::string& error : errors) {
    BOOST_TEST_CONTEXT(error) {
      BOOST_TEST(error.find("SENTINEL") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(load_file_reads_and_parses) {
  testing::TempDir dir;
  const std::string path = dir.file("config.json");
  testing::write_file(path, kMinimal);
  const auto cfg = load_file(path, no_env());
  BOOST_REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error()));
  BOOST_TEST(cfg->public_base_url == "https://broker.example.com");
}

BOOST_AUTO_TEST_CASE(load_file_errors_start_with_the_path) {
  testing::TempDir dir;
  const std::string missing = dir.file("missing.json");
  const auto not_there = load_file(missing, no_env());
  BOOST_REQUIRE(!not_there.ok());
  BOOST_TEST(not_there.error() == missing + ": cannot read: No such file or directory");

  const auto directory = load_file(dir.path(), no_env());
  BOOST_REQUIRE(!directory.ok());
  BOOST_TEST(directory.error() == dir.path() + ": cannot read: Is a directory");

  const std::string bad = dir.file("bad.json");
  testing::write_file(bad, R"({"ui_redirect": "//evil"})");
  const auto invalid = load_file(bad, no_env());
  BOOST_REQUIRE(!invalid.ok());
  BOOST_TEST(invalid.error() == bad + ": public_base_url: required");
}

BOOST_AUTO_TEST_CASE(process_env_reads_the_real_environment) {
  // Read-only: PATH is set in every test environment; the name below is not.
  BOOST_TEST(process_env()("PATH").has_value());
  BOOST_TEST(!process_env()("CREDBROKER_TEST_SURELY_UNSET_VARIABLE").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(authorize_section)

BOOST_AUTO_TEST_CASE(without_an_authorize_block_there_is_no_front_authorizer) {
  BOOST_TEST(!parse_ok(kMinimal).authorize.has_value());
}

BOOST_AUTO_TEST_CASE(an_empty_authorize_block_proxies_under_upstream) {
  const Config cfg = parse_ok(ConfigJson().set("/authorize", "{}").str());
  BOOST_TEST_REQUIRE(cfg.authorize.has_value());
  BOOST_TEST(cfg.authorize->path_prefix == "/upstream/");
}

BOOST_AUTO_TEST_CASE(a_path_prefix_of_several_unreserved_segments_is_kept) {
  const Config cfg =
      parse_ok(ConfigJson().set("/authorize", R"({"path_prefix": "/p/up-stream_v1.x~/"})").str());
  BOOST_TEST(cfg.authorize->path_prefix == "/p/up-stream_v1.x~/");
}

BOOST_AUTO_TEST_CASE(a_path_prefix_must_be_slash_delimited_segments_without_dots) {
  const std::string rule =
      "authorize.path_prefix: must start and end with \"/\" and hold only unreserved path "
      "characters, no empty or dot segments";
  for (const char* bad : {R"("upstream/")", R"("/upstream")", R"("/")", R"("//")", R"("/a//b/")",
                          R"("/a/../")", R"("/./")", R"("/a b/")", R"("/a%2e/")", R"("/a?b/")"}) {
    BOOST_TEST(parse_error(
                   ConfigJson().set("/authorize", "{}").set("/authorize/path_prefix", bad)) == rule,
               bad);
  }
  BOOST_TEST(parse_error(ConfigJson().set("/authorize", R"({"path_prefix": "/api/up/"})")) ==
             "authorize.path_prefix: must not be under \"/api/\"");
  BOOST_TEST(parse_error(ConfigJson().set("/authorize", R"({"path_prefix": ""})")) ==
             "authorize.path_prefix: must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(the_authorize_block_refuses_what_it_does_not_know) {
  BOOST_TEST(parse_error(ConfigJson().set("/authorize", R"({"upstream": "x"})")) ==
             "authorize.upstream: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/authorize", "[]")) == "authorize: must be an object");
}

BOOST_AUTO_TEST_CASE(with_authorize_a_brokered_url_must_not_carry_a_query_or_fragment) {
  const ConfigJson with_query = ConfigJson()
                                    .server(kGithub)
                                    .set("/authorize", "{}")
                                    .set("/servers/0/url", R"("https://api.example/v1?x=1")");
  BOOST_TEST(parse_error(with_query) ==
             "servers[0].url: must not contain a query or fragment when \"authorize\" is "
             "configured");
  BOOST_TEST(parse_ok(ConfigJson()
                          .server(kGithub)
                          .set("/servers/0/url", R"("https://api.example/v1?x=1")")
                          .str())
                 .servers.at(0)
                 .url == "https://api.example/v1?x=1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resolve_section)

constexpr const char* kResolve = R"({"issuer": "https://gateway-idp.example.com",
  "audience": "credbroker-resolve", "jwks_file": "/etc/credbroker/gateway-jwks.json",
  "allowed_subjects": ["gateway-prod", "gateway-canary"]})";

BOOST_AUTO_TEST_CASE(without_a_resolve_block_there_are_no_callers) {
  BOOST_TEST(!parse_ok(kMinimal).resolve.has_value());
}

BOOST_AUTO_TEST_CASE(a_resolve_block_is_read_with_the_identity_defaults) {
  const Config cfg = parse_ok(ConfigJson().set("/resolve", kResolve).str());
  BOOST_TEST_REQUIRE(cfg.resolve.has_value());
  const Identity& v = cfg.resolve->verifier;
  BOOST_TEST(v.header == "Authorization");
  BOOST_TEST(v.user_claim == "sub");
  BOOST_TEST(v.issuer == "https://gateway-idp.example.com");
  BOOST_TEST(v.audiences == std::vector<std::string>{"credbroker-resolve"});
  BOOST_TEST(v.algorithms == (std::vector<std::string>{"RS256", "ES256"}));
  BOOST_TEST(v.leeway_seconds == 60);
  BOOST_TEST(v.jwks_file == "/etc/credbroker/gateway-jwks.json");
  BOOST_TEST(cfg.resolve->allowed_subjects ==
             (std::vector<std::string>{"gateway-prod", "gateway-canary"}));
  // The end-user identity block is untouched by it.
  BOOST_TEST(cfg.identity.issuer == "https://idp.example.com");
}

BOOST_AUTO_TEST_CASE(allowed_subjects_are_required_and_non_empty) {
  BOOST_TEST(
      parse_error(ConfigJson().set("/resolve", kResolve).erase("/resolve/allowed_subjects")) ==
      "resolve.allowed_subjects: required");
  BOOST_TEST(
      parse_error(ConfigJson().set("/resolve", kResolve).set("/resolve/allowed_subjects", "[]")) ==
      "resolve.allowed_subjects: must be a non-empty array of strings");
  BOOST_TEST(parse_error(ConfigJson()
                             .set("/resolve", kResolve)
                             .set("/resolve/allowed_subjects", R"(["a", ""])")) ==
             "resolve.allowed_subjects[1]: must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(the_resolve_block_needs_exactly_one_key_source) {
  BOOST_TEST(parse_error(ConfigJson().set("/resolve", kResolve).erase("/resolve/jwks_file")) ==
             "resolve: exactly one of jwks_file, jwks_url, public_key_pem_file is required");
  BOOST_TEST(parse_error(ConfigJson()
                             .set("/resolve", kResolve)
                             .set("/resolve/public_key_pem_file", R"("/k.pem")")) ==
             "resolve: exactly one of jwks_file, jwks_url, public_key_pem_file is required");
  BOOST_TEST(parse_error(ConfigJson()
                             .set("/resolve", kResolve)
                             .erase("/resolve/jwks_file")
                             .set("/resolve/jwks_url", R"("http://keys.example.com/jwks")")) ==
             "resolve.jwks_url: must be an absolute https URL (http only for 127.0.0.1, "
             "localhost or [::1])");
}

BOOST_AUTO_TEST_CASE(the_resolve_block_refuses_what_it_does_not_know) {
  BOOST_TEST(parse_error(
                 ConfigJson().set("/resolve", kResolve).set("/resolve/header", R"("X-Gateway")")) ==
             "resolve.header: unknown field");
  BOOST_TEST(parse_error(
                 ConfigJson().set("/resolve", kResolve).set("/resolve/user_claim", R"("email")")) ==
             "resolve.user_claim: unknown field");
  BOOST_TEST(parse_error(ConfigJson().set("/resolve", kResolve).erase("/resolve/issuer")) ==
             "resolve.issuer: required");
  BOOST_TEST(parse_error(ConfigJson().set("/resolve", "[]")) == "resolve: must be an object");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(credential_presentation_and_renewal)

BOOST_AUTO_TEST_CASE(header_format_window_and_audience_default_as_the_reference_does) {
  const Config cfg = parse_ok(ConfigJson().server(kGithub).str());
  const auto& b = *cfg.servers.at(0).auth_broker;
  BOOST_TEST(b.header == "Authorization");
  BOOST_TEST(b.header_format == "Bearer {token}");
  BOOST_TEST(b.refresh_window_seconds == 60);
  BOOST_TEST(b.audience == "");
}

BOOST_AUTO_TEST_CASE(header_format_window_and_audience_are_read) {
  const Config cfg = parse_ok(ConfigJson()
                                  .server(kGithub)
                                  .set("/servers/0/auth_broker/header", R"("X-Upstream-Token")")
                                  .set("/servers/0/auth_broker/header_format", R"("token {token}")")
                                  .set("/servers/0/auth_broker/refresh_window_seconds", "300")
                                  .set("/servers/0/auth_broker/audience", R"("urn:jira")")
                                  .str());
  const auto& b = *cfg.servers.at(0).auth_broker;
  BOOST_TEST(b.header == "X-Upstream-Token");
  BOOST_TEST(b.header_format == "token {token}");
  BOOST_TEST(b.refresh_window_seconds == 300);
  BOOST_TEST(b.audience == "urn:jira");
}

BOOST_AUTO_TEST_CASE(a_header_format_must_place_the_token_on_one_line) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/header_format",
                                                          R"("Bearer")")) ==
             "servers[0].auth_broker.header_format: must contain \"{token}\"");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/header_format",
                                                          R"("{token}\r\nX-Evil: 1")")) ==
             "servers[0].auth_broker.header_format: must not contain control characters");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/header",
                                                          R"("X Token")")) ==
             "servers[0].auth_broker.header: must be an HTTP header name");
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set(
                 "/servers/0/auth_broker/refresh_window_seconds", "-1")) ==
             "servers[0].auth_broker.refresh_window_seconds: must be an integer between 0 and "
             "86400");
}

BOOST_AUTO_TEST_CASE(on_behalf_of_needs_scopes) {
  BOOST_TEST(parse_error(ConfigJson().server(kGithub).set("/servers/0/auth_broker/mode",
                                                          R"("entra_obo")")) ==
             "servers[0].auth_broker.scopes: required for mode \"entra_obo\"");
}

BOOST_AUTO_TEST_SUITE_END()

// identity.hmac_secret_env: the reference gateway's own HS256 tokens (issue #12 item 5).
BOOST_AUTO_TEST_SUITE(hmac_secret_env)

// 32 bytes 0x00..0x1f as `base64 -w0 .token_key` prints them, and as base64url.
constexpr const char* kKeyBase64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kKeyBase64Url = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
// A key whose bytes would show in an error if one ever quoted it.
constexpr const char* kSentinelKey = "SE1BQy1TRU5USU5FTC1rZXktYnl0ZXMtMzIhIS4uLi4u";  // 33 bytes

std::string key_bytes() {
  std::string out;
  for (int i = 0; i < 32; ++i) out.push_back(static_cast<char>(i));
  return out;
}

/** The reference deployment: no issuer, no audience, no key file; the key from TOKEN_KEY. */
ConfigJson hmac_json() {
  return ConfigJson()
      .erase("/identity/issuer")
      .erase("/identity/audience")
      .erase("/identity/jwks_file")
      .set("/identity/hmac_secret_env", R"("TOKEN_KEY")");
}

EnvLookup key_env(const std::string& value = kKeyBase64) {
  return env_with({{"TOKEN_KEY", value}});
}

BOOST_AUTO_TEST_CASE(the_reference_setup_parses_with_hs256_as_the_only_algorithm) {
  const Config cfg = parse_ok(hmac_json().str(), key_env());
  BOOST_TEST(cfg.identity.hmac_secret_env == "TOKEN_KEY");
  BOOST_TEST(cfg.identity.hmac_secret == key_bytes());
  BOOST_TEST(cfg.identity.algorithms == std::vector<std::string>{"HS256"});
  BOOST_TEST(cfg.identity.issuer.empty());
  BOOST_TEST(cfg.identity.audiences.empty());
  BOOST_TEST(cfg.identity.max_token_lifetime_seconds == 24 * 3600);  // the reference's TTL
  // base64url works too, and the shell's trailing newline does no harm.
  BOOST_TEST(parse_ok(hmac_json().str(), key_env(kKeyBase64Url)).identity.hmac_secret ==
             key_bytes());
  BOOST_TEST(
      parse_ok(hmac_json().str(), key_env(std::string(kKeyBase64) + "\n")).identity.hmac_secret ==
      key_bytes());
  // An explicit ["HS256"] is the same; issuer and audience, when given, are kept (and checked).
  const Config strict = parse_ok(hmac_json()
                                     .set("/identity/algorithms", R"(["HS256"])")
                                     .set("/identity/issuer", R"("https://gw.example.com")")
                                     .set("/identity/audience", R"("credbroker")")
                                     .str(),
                                 key_env());
  BOOST_TEST(strict.identity.algorithms == std::vector<std::string>{"HS256"});
  BOOST_TEST(strict.identity.issuer == "https://gw.example.com");
  BOOST_TEST(strict.identity.audiences == std::vector<std::string>{"credbroker"});
}

BOOST_AUTO_TEST_CASE(the_variable_must_be_set_and_hold_a_key_of_32_bytes_or_more) {
  const std::string json = hmac_json().str();
  BOOST_TEST(parse_error(json) ==
             "identity.hmac_secret_env: environment variable \"TOKEN_KEY\" is not set");
  BOOST_TEST(parse_error(json, key_env("")) ==
             "identity.hmac_secret_env: environment variable \"TOKEN_KEY\" is empty");
  BOOST_TEST(parse_error(json, key_env("not base64!")) ==
             "identity.hmac_secret_env: environment variable \"TOKEN_KEY\" is not base64 or "
             "base64url");
  // 31 bytes: one short of RFC 7518 §3.2's minimum for HS256.
  BOOST_TEST(parse_error(json, key_env("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==")) ==
             "identity.hmac_secret_env: environment variable \"TOKEN_KEY\" holds a 31-byte key; "
             "HS256 needs at least 32 (RFC 7518 §3.2)");
  BOOST_TEST(
      parse_error(hmac_json().set("/identity/hmac_secret_env", R"("TOKEN-KEY")"), key_env()) ==
      "identity.hmac_secret_env: must be an environment variable "
      "name");
  BOOST_TEST(parse_error(hmac_json().set("/identity/hmac_secret_env", R"("")"), key_env()) ==
             "identity.hmac_secret_env: must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(it_is_the_only_key_source) {
  const std::string expected =
      "identity.hmac_secret_env: cannot be combined with jwks_file, jwks_url, "
      "public_key_pem_file or alb";
  BOOST_TEST(parse_error(hmac_json().set("/identity/jwks_file", R"("/j.json")"), key_env()) ==
             expected);
  BOOST_TEST(parse_error(hmac_json().set("/identity/jwks_url", R"("https://idp/jwks")"),
                         key_env()) == expected);
  BOOST_TEST(parse_error(hmac_json().set("/identity/public_key_pem_file", R"("/k.pem")"),
                         key_env()) == expected);
  BOOST_TEST(parse_error(hmac_json().set("/identity/alb",
                                         R"({"signer_arns": ["arn:aws:x"], "key_dir": "/k"})"),
                         key_env()) == expected);
  BOOST_TEST(
      parse_error(hmac_json().set("/identity/trust_api_gateway_authorizer", "true"), key_env()) ==
      "identity.hmac_secret_env: cannot be combined with trust_api_gateway_authorizer");
}

BOOST_AUTO_TEST_CASE(hs256_is_never_mixed_with_a_public_key_algorithm) {
  const std::string only =
      "identity.algorithms: must be [\"HS256\"] (or absent) with "
      "hmac_secret_env";
  BOOST_TEST(parse_error(hmac_json().set("/identity/algorithms", R"(["HS256", "RS256"])"),
                         key_env()) == only);
  BOOST_TEST(parse_error(hmac_json().set("/identity/algorithms", R"(["ES256"])"), key_env()) ==
             only);
  BOOST_TEST(parse_error(hmac_json().set("/identity/algorithms", R"(["HS256", "HS256"])"),
                         key_env()) == "identity.algorithms[1]: duplicate algorithm \"HS256\"");
  BOOST_TEST(parse_error(hmac_json().set("/identity/algorithms", R"(["HS512"])"), key_env())
                 .starts_with("identity.algorithms[0]: unsupported algorithm \"HS512\""));
}

BOOST_AUTO_TEST_CASE(resolve_callers_never_take_a_shared_secret) {
  constexpr const char* kResolve = R"({"issuer": "https://gateway-idp.example.com",
    "audience": "credbroker-resolve", "jwks_file": "/etc/credbroker/gateway-jwks.json",
    "allowed_subjects": ["gateway-prod"]})";
  BOOST_TEST(
      parse_error(
          ConfigJson().set("/resolve", kResolve).set("/resolve/hmac_secret_env", R"("TOKEN_KEY")"),
          key_env()) ==
      "resolve.hmac_secret_env: not accepted for resolve callers: a shared secret is not a "
      "service identity (use jwks_file, jwks_url or public_key_pem_file)");
  BOOST_TEST(parse_error(ConfigJson()
                             .set("/resolve", kResolve)
                             .set("/resolve/algorithms", R"(["ES256", "HS256"])"),
                         key_env()) ==
             "resolve.algorithms[1]: \"HS256\" is not accepted for resolve callers: a shared "
             "secret is not a service identity (public keys only)");
  // With the identity in HMAC mode, the resolve block still needs its public keys.
  const Config cfg = parse_ok(hmac_json().set("/resolve", kResolve).str(), key_env());
  BOOST_TEST(cfg.resolve->verifier.hmac_secret_env.empty());
  BOOST_TEST(cfg.resolve->verifier.algorithms == (std::vector<std::string>{"RS256", "ES256"}));
}

BOOST_AUTO_TEST_CASE(no_error_ever_shows_the_key) {
  const std::string sentinel_bytes = "HMAC-SENTINEL-key-bytes-32!!.....";
  const std::vector<ConfigJson> configs = {
      hmac_json().set("/identity/jwks_file", R"("/j.json")"),
      hmac_json().set("/identity/algorithms", R"(["RS256"])"),
      hmac_json().set("/identity/trust_api_gateway_authorizer", "true"),
      hmac_json().set("/identity/leeway_seconds", "-1"),
      hmac_json().set("/public_base_url", R"("ftp://x")"),
  };
  const std::vector<std::string> values = {kSentinelKey, std::string(kSentinelKey) + "!",
                                           "SE1BQy1TRU5USU5FTA=="};
  for (const auto& json : configs) {
    for (const auto& value : values) {
      const std::string error = parse_error(json, key_env(value));
      BOOST_TEST(error.find(value) == std::string::npos, error);
      BOOST_TEST(error.find("HMAC-SENTINEL") == std::string::npos, error);
    }
  }
  BOOST_TEST(parse_ok(hmac_json().str(), key_env(kSentinelKey)).identity.hmac_secret ==
             sentinel_bytes);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace credbroker::config
