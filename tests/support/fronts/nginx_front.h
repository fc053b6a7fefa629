#pragma once
// nginx in front of the handlers: the config rendered from infra/nginx/credbroker.conf.template
// by infra/nginx/render (the documented deploy path), fastcgi_pass to one socket per route served
// by a HandlerPool, since nginx starts no FastCGI process itself.

#include <optional>
#include <string_view>

#include "tests/support/fronts/stack.h"
#include "tests/support/servers/handler_pool.h"

namespace credbroker::testing {

class NginxFront final : public Front {
 public:
  NginxFront(const TestIssuer& issuer, StackOptions options);
  ~NginxFront() override;
  std::string_view kind() const override { return "nginx"; }

 private:
  std::optional<HandlerPool> handlers_;
  std::optional<ChildProcess> nginx_;
};

}  // namespace credbroker::testing
