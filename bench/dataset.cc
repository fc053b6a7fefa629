#include "bench/dataset.h"

#include "shared/config/config.h"
#include "shared/util/clock.h"
#include "tests/support/fronts/stack.h"

namespace credbroker::bench {

std::string servers_json(const std::string& token_url) {
  std::string out = "[";
  for (int i = 0; i < kServers; ++i) {
    if (i > 0) out += ",";
    out += R"({"name": "svc)" + std::to_string(i) + R"(", "url": "https://svc)" +
           std::to_string(i) +
           R"(.example.test",
      "auth_broker": {"mode": "oauth_connect",
                      "authorization_endpoint": "http://127.0.0.1:9/authorize",
                      "token_endpoint": ")" +
           token_url + R"(", "client_id": "bench-client",
                      "client_secret": "bench-client-secret", "scopes": ["read"]}})";
  }
  return out + "]";
}

std::string server_key(int i) {
  return config::server_key("svc" + std::to_string(i),
                            "https://svc" + std::to_string(i) + ".example.test");
}

std::string user(int u) {
  return "bench-user-" + std::to_string(u);
}

store::Credential fresh_credential() {
  store::Credential c;
  c.access_token = "bench-access-token";
  c.refresh_token = "bench-refresh-token";
  c.token_type = "Bearer";
  c.expires_at = system_clock().now_seconds() + 86400;
  c.updated_at = system_clock().now_seconds();
  c.obtained_via = "connect_flow";
  c.scopes = {"read"};
  return c;
}

void seed_list_user(const std::string& redis_url, const std::string& keys) {
  for (int i = 0; i < kConnected; ++i) {
    testing::seed_credential(redis_url, keys, user(0), server_key(i), fresh_credential());
  }
}

}  // namespace credbroker::bench
