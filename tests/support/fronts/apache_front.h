#pragma once
// Apache httpd in front of the handlers, the two ways infra/apache/ configures it: mod_proxy_fcgi
// to one socket per route served by a HandlerPool, or mod_fcgid spawning the handlers itself.
// Either way credbroker-authorize is served by a HandlerPool on a loopback TCP port, the only
// address mod_authnz_fcgi can reach.
// Either runs as `apache2 -DFOREGROUND -f <config>` with everything in the front's directory.

#include <optional>
#include <string_view>

#include "tests/support/fronts/stack.h"
#include "tests/support/servers/handler_pool.h"

namespace credbroker::testing {

class ApacheFront final : public Front {
 public:
  enum class Mode {
    kProxyFcgi,  // "apache-proxy-fcgi": infra/apache/credbroker-proxy-fcgi.conf
    kFcgid,      // "apache-fcgid": infra/apache/credbroker-fcgid.conf
  };
  ApacheFront(const TestIssuer& issuer, StackOptions options, Mode mode);
  ~ApacheFront() override;
  std::string_view kind() const override;

 private:
  /** mod_fcgid: the handler environment as Apache config variables and FcgidInitialEnv lines. */
  void pass_handler_env(std::vector<std::pair<std::string, std::string>>& apache_env) const;
  /** apache.d/proxy-headers.conf: the RequestHeader lines of each proxy header but Authorization.
   */
  void write_proxy_headers() const;

  Mode mode_;
  std::optional<HandlerPool> handlers_;
  std::optional<ChildProcess> apache_;
};

}  // namespace credbroker::testing
