// Drop-in for teams running the reference gateway (mcpproxy, server edition), end to end behind
// each front: credbroker reads the gateway's own config file (servers_file), and answers the
// requests its `mcpproxy credential` commands send (list, status, rm with names that need
// escaping) in the shapes those commands decode. A reference auth_broker block without a client
// secret is a public client: PKCE only, no client authentication at the token endpoint.
#define BOOST_TEST_MODULE integration_reference_compat
#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "shared/config/config.h"
#include "shared/http/url.h"
#include "shared/util/clock.h"
#include "tests/support/fakes/http_server.h"
#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"
#include "tests/support/tempdir.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

constexpr std::string_view kList = "/api/v1/user/credentials";
constexpr std::string_view kAccessSentinel = "REF-ACCESS-SENTINEL-3b9e1d";
constexpr std::string_view kRefreshSentinel = "REF-REFRESH-SENTINEL-c0a4f7";
constexpr std::string_view kJiraSecret = "REF-JIRA-SECRET-SENTINEL-77d1";

/** A reference gateway config: its own keys around mcpServers, servers of every protocol. */
std::string reference_config(const std::string& token_url) {
  return R"({
  "listen": "127.0.0.1:8080",
  "data_dir": "/var/lib/mcpproxy",
  "enable_tray": false,
  "api_key": "reference-api-key-not-ours",
  "mcpServers": [
    {"name": "github", "url": "https://api.github.example.test/mcp/", "protocol": "http",
     "enabled": true, "shared": true, "headers": {"X-Team": "a"},
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "https://github.example.test/login/oauth/authorize",
                     "token_endpoint": ")" +
         token_url + R"(", "client_id": "gh-public-client", "scopes": ["repo"],
                     "header": "Authorization", "header_format": "Bearer {token}"}},
    {"name": "Docs Wiki", "url": "https://wiki.example.test/sse", "protocol": "sse",
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "https://wiki.example.test/authorize",
                     "token_endpoint": ")" +
         token_url + R"(", "client_id": "wiki-client", "client_secret": "wiki-secret-SENTINEL"}},
    {"name": "acme/GitHub Enterprise", "url": "https://ghe.acme.example.test/mcp", "protocol": "http",
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "https://ghe.acme.example.test/login/oauth/authorize",
                     "token_endpoint": ")" +
         token_url + R"(", "client_id": "ghe-public-client"}},
    {"name": "acme", "url": "https://acme.example.test/mcp",
     "auth_broker": {"mode": "oauth_connect",
                     "authorization_endpoint": "https://acme.example.test/authorize",
                     "token_endpoint": ")" +
         token_url + R"(", "client_id": "acme-client"}},
    {"name": "Team Jira", "url": "https://jira.example.test/mcp",
     "auth_broker": {"mode": "token_exchange", "token_endpoint": ")" +
         token_url + R"(", "client_id": "jira-client", "client_secret": ")" +
         std::string(kJiraSecret) + R"("}},
    {"name": "files", "command": "npx", "args": ["-y", "server-filesystem", "/srv"],
     "protocol": "stdio", "enabled": true}
  ]
})";
}

std::string write_reference(const TempDir& dir, const std::string& token_url) {
  const std::string path = dir.file("mcp_config.json");
  std::ofstream(path) << reference_config(token_url);
  // The handlers read it as whoever the front runs them as ("nobody" under mod_fcgid).
  namespace fs = std::filesystem;
  fs::permissions(dir.path(), fs::perms::others_read | fs::perms::others_exec,
                  fs::perm_options::add);
  fs::permissions(path, fs::perms::others_read, fs::perm_options::add);
  return path;
}

struct Suite : SuiteInstance<Suite> {
  Suite()
      : token_endpoint([](const RecordedRequest&) {
          return ScriptedResponse{.status = 200,
                                  .headers = {{"Content-Type", "application/json"}},
                                  .body = R"({"access_token":")" + std::string(kAccessSentinel) +
                                          R"(","token_type":"Bearer","expires_in":3600,)"
                                          R"("refresh_token":")" +
                                          std::string(kRefreshSentinel) + R"("})"};
        }),
        stack(start_front(issuer,
                          {.redis_url = redis.url(),
                           .servers_file = write_reference(dir, token_endpoint.url("/token"))})) {}
  TempDir dir{"credbroker-reference"};
  RedisServer redis;
  TestIssuer issuer;
  HttpServer token_endpoint;
  std::unique_ptr<Front> stack;
};
CREDBROKER_TEST_SUITE(Suite)

struct Clean {
  Clean() {
    S().redis.reset();
    S().token_endpoint.clear_requests();
  }
};

/**
 * The reference CLI's view of one list entry (what `mcpproxy credential list/status` decodes):
 * these fields and no other, so that nothing it does not know, and no token, is ever sent.
 */
const std::set<std::string> kReferenceFields = {
    "server",       "mode",         "status",     "token_type", "scopes",
    "obtained_via", "connect_path", "expires_at", "updated_at", "audience"};
const std::set<std::string> kReferenceStatuses = {"connected", "expired", "not_connected",
                                                  "unavailable"};

rapidjson::Document json(const Answer& a) {
  rapidjson::Document d;
  d.Parse(a.body.c_str());
  BOOST_TEST_REQUIRE(!d.HasParseError(), "not JSON: " << a.body);
  return d;
}

/** `mcpproxy credential list -o json`: GET with the user's JWT as a Bearer token. */
rapidjson::Document cli_list(std::string_view user) {
  const auto a = S().stack->get(kList, S().issuer.token(user));
  BOOST_TEST_REQUIRE(a.status == 200, a.body);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  auto d = json(a);
  BOOST_TEST_REQUIRE(d.IsObject());
  BOOST_TEST_REQUIRE(d.HasMember("credentials"));
  BOOST_TEST_REQUIRE(d["credentials"].IsArray());
  for (const auto& e : d["credentials"].GetArray()) {
    for (const auto& m : e.GetObject()) {
      BOOST_TEST(kReferenceFields.count(m.name.GetString()) == 1u,
                 "field the reference CLI does not decode: " << m.name.GetString());
    }
    BOOST_TEST(kReferenceStatuses.count(e["status"].GetString()) == 1u);
  }
  BOOST_TEST(a.body.find(kAccessSentinel) == std::string::npos);
  BOOST_TEST(a.body.find(kRefreshSentinel) == std::string::npos);
  return d;
}

/** `mcpproxy credential status <server>`: the list entry of that server. */
const rapidjson::Value* cli_status(const rapidjson::Document& list, std::string_view server) {
  for (const auto& e : list["credentials"].GetArray()) {
    if (server == e["server"].GetString()) return &e;
  }
  return nullptr;
}

/** `mcpproxy credential rm <server>`: DELETE with the name path-escaped as Go's
 *  url.PathEscape does (a space is %20). */
Answer cli_rm(std::string_view user, std::string_view server) {
  return S().stack->del(std::string(kList) + "/" + http::percent_encode(server),
                        S().issuer.token(user));
}

store::Credential credential() {
  store::Credential c;
  c.access_token = std::string(kAccessSentinel);
  c.refresh_token = std::string(kRefreshSentinel);
  c.expires_at = system_clock().now_seconds() + 3600;
  c.scopes = {"read"};
  c.obtained_via = "connect_flow";
  c.updated_at = system_clock().now_seconds();
  return c;
}

void seed(std::string_view user, std::string_view name, std::string_view url) {
  seed_credential(S().redis.url(), S().stack->keys(), user, config::server_key(name, url),
                  credential());
}

std::string query_value(std::string_view url, std::string_view name) {
  const std::string key = std::string(name) + "=";
  auto at = url.find("?" + key);
  if (at == std::string_view::npos) at = url.find("&" + key);
  if (at == std::string_view::npos) return {};
  const auto start = at + 1 + key.size();
  const auto end = url.find('&', start);
  return std::string(url.substr(start, end == std::string_view::npos ? url.npos : end - start));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(reference_cli, Clean)

BOOST_AUTO_TEST_CASE(list_shows_the_brokered_servers_of_the_reference_config) {
  const auto d = cli_list("alice");
  std::vector<std::string> names;
  for (const auto& e : d["credentials"].GetArray()) names.emplace_back(e["server"].GetString());
  // Sorted by name, case-insensitively; the stdio server of the reference file is not ours.
  BOOST_TEST((names == std::vector<std::string>{"acme", "acme/GitHub Enterprise", "Docs Wiki",
                                                "github", "Team Jira"}),
             d["credentials"].Size());
  BOOST_TEST(std::string(cli_status(d, "Docs Wiki")->operator[]("connect_path").GetString()) ==
             "/api/v1/user/credentials/Docs%20Wiki/connect");
  // Nothing of the reference file's own secrets reaches an answer.
  BOOST_TEST(S().stack->log().find(kJiraSecret) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(status_of_a_connected_server_with_a_name_that_needs_escaping) {
  seed("alice", "Docs Wiki", "https://wiki.example.test/sse");
  const auto d = cli_list("alice");
  const auto* e = cli_status(d, "Docs Wiki");
  BOOST_TEST_REQUIRE(e != nullptr);
  BOOST_TEST(std::string((*e)["status"].GetString()) == "connected");
  BOOST_TEST(std::string((*e)["token_type"].GetString()) == "Bearer");
  BOOST_TEST(std::string((*e)["obtained_via"].GetString()) == "connect_flow");
  BOOST_TEST((*e)["expires_at"].IsString());
  // Another user sees nothing of alice's.
  BOOST_TEST(std::string((*cli_status(cli_list("bob"), "Docs Wiki"))["status"].GetString()) ==
             "not_connected");
}

BOOST_AUTO_TEST_CASE(rm_with_an_escaped_name_disconnects_only_that_server) {
  seed("alice", "Docs Wiki", "https://wiki.example.test/sse");
  seed("alice", "Team Jira", "https://jira.example.test/mcp");
  const auto a = cli_rm("alice", "Docs Wiki");
  BOOST_TEST(a.status == 200, a.body);
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  const auto d = cli_list("alice");
  BOOST_TEST(std::string((*cli_status(d, "Docs Wiki"))["status"].GetString()) == "not_connected");
  BOOST_TEST(std::string((*cli_status(d, "Team Jira"))["status"].GetString()) == "connected");
  // rm of a server the reference file has but credbroker does not broker: a JSON 404.
  const auto stdio = cli_rm("alice", "files");
  BOOST_TEST(stdio.status == 404);
  BOOST_TEST(stdio.header("content-type").value_or("") == "application/json");
}

BOOST_AUTO_TEST_CASE(a_broker_block_without_a_secret_connects_as_a_public_client) {
  const std::string token = S().issuer.token("alice");
  const auto connect = S().stack->get(std::string(kList) + "/github/connect", token);
  BOOST_TEST_REQUIRE(connect.status == 302, connect.body);
  const std::string location = connect.header("location").value_or("");
  BOOST_TEST(location.rfind("https://github.example.test/login/oauth/authorize?", 0) == 0u);
  BOOST_TEST(query_value(location, "code_challenge_method") == "S256");
  BOOST_TEST(query_value(location, "client_id") == "gh-public-client");
  const std::string state = query_value(location, "state");
  BOOST_TEST_REQUIRE(!state.empty());

  const auto callback =
      S().stack->get(std::string(kList) + "/github/callback?code=ref-code-1&state=" + state, token);
  BOOST_TEST(callback.status == 302, callback.body);
  const auto requests = S().token_endpoint.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  const auto& r = requests.front();
  // PKCE only: the verifier and the client's id, no secret and no client authentication header.
  BOOST_TEST(r.body.find("grant_type=authorization_code") != std::string::npos);
  BOOST_TEST(r.body.find("code_verifier=") != std::string::npos);
  BOOST_TEST(r.body.find("client_id=gh-public-client") != std::string::npos);
  BOOST_TEST(r.body.find("client_secret") == std::string::npos);
  BOOST_TEST(!r.header("authorization").has_value());
  const auto d = cli_list("alice");
  BOOST_TEST(std::string((*cli_status(d, "github"))["status"].GetString()) == "connected");
}

// Server names with "/" (the reference allows them; its CLI escapes "/" as %2F). Every front that
// keeps %2F in the path it routes on serves them. An HTTP API hands Lambda the path decoded, so
// there the name cannot be told from two segments: a JSON 404, never another server
// (docs/deploy/lambda.md, "rawPath encoding"), as the Lambda emulator reproduces.
bool front_keeps_encoded_slashes() {
  return front_kind() != "lambda";
}

constexpr std::string_view kSlashName = "acme/GitHub Enterprise";
constexpr std::string_view kSlashUrl = "https://ghe.acme.example.test/mcp";

BOOST_AUTO_TEST_CASE(a_name_with_a_slash_is_listed_with_its_escaped_connect_path) {
  const auto d = cli_list("alice");
  const auto* e = cli_status(d, kSlashName);
  BOOST_TEST_REQUIRE(e != nullptr);
  BOOST_TEST(std::string((*e)["connect_path"].GetString()) ==
             "/api/v1/user/credentials/acme%2FGitHub%20Enterprise/connect");
}

BOOST_AUTO_TEST_CASE(rm_of_a_name_with_a_slash_disconnects_it_and_not_its_prefix) {
  seed("alice", kSlashName, kSlashUrl);
  seed("alice", "acme", "https://acme.example.test/mcp");
  const auto a = cli_rm("alice", kSlashName);
  const auto d = cli_list("alice");
  // "acme", whose name the slash name starts with, is never the one removed.
  BOOST_TEST(std::string((*cli_status(d, "acme"))["status"].GetString()) == "connected");
  if (front_keeps_encoded_slashes()) {
    BOOST_TEST(a.status == 200, a.body);
    BOOST_TEST(std::string((*cli_status(d, kSlashName))["status"].GetString()) == "not_connected");
  } else {
    BOOST_TEST(a.status == 404, a.body);
    BOOST_TEST(std::string((*cli_status(d, kSlashName))["status"].GetString()) == "connected");
  }
  BOOST_TEST(a.header("content-type").value_or("") == "application/json");
  // The name unescaped is two segments: no route, a JSON 404, nothing removed.
  const auto raw =
      S().stack->del(std::string(kList) + "/acme/GitHub%20Enterprise", S().issuer.token("alice"));
  BOOST_TEST(raw.status == 404, raw.body);
  BOOST_TEST(std::string((*cli_status(cli_list("alice"), "acme"))["status"].GetString()) ==
             "connected");
}

BOOST_AUTO_TEST_CASE(connect_and_callback_of_a_name_with_a_slash) {
  const std::string token = S().issuer.token("alice");
  const std::string base = std::string(kList) + "/" + http::percent_encode(kSlashName);
  const auto connect = S().stack->get(base + "/connect", token);
  if (!front_keeps_encoded_slashes()) {
    BOOST_TEST(connect.status == 404, connect.body);
    BOOST_TEST(connect.header("content-type").value_or("") == "application/json");
    return;
  }
  BOOST_TEST_REQUIRE(connect.status == 302, connect.body);
  const std::string location = connect.header("location").value_or("");
  BOOST_TEST(location.rfind("https://ghe.acme.example.test/login/oauth/authorize?", 0) == 0u);
  // The redirect URI names the server escaped, so the callback comes back to the same route.
  BOOST_TEST(
      query_value(location, "redirect_uri").find("acme%252FGitHub%2520Enterprise%2Fcallback") !=
          std::string::npos,
      location);
  const std::string state = query_value(location, "state");
  BOOST_TEST_REQUIRE(!state.empty());
  const auto callback = S().stack->get(base + "/callback?code=ref-code-2&state=" + state, token);
  BOOST_TEST(callback.status == 302, callback.body);
  BOOST_TEST(S().token_endpoint.requests().size() == 1u);
  const auto d = cli_list("alice");
  BOOST_TEST(std::string((*cli_status(d, kSlashName))["status"].GetString()) == "connected");
  BOOST_TEST(std::string((*cli_status(d, "acme"))["status"].GetString()) == "not_connected");
}

BOOST_AUTO_TEST_SUITE_END()
