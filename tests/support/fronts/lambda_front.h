#pragma once
// The handlers as AWS Lambda functions: tests/lambda/emulator.mjs plays API Gateway (HTTP API,
// payload format 2.0) on the front's port and Lambda itself: it runs each function's handler
// processes (its execution environments), each with a Runtime API port of its own, and starts a
// fresh one for the next invocation when one has died. Each handler executable runs its Runtime
// API loop (AWS_LAMBDA_RUNTIME_API set), exactly as it would as the bootstrap of a
// provided.al2023 function.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/fronts/stack.h"
#include "tests/support/process.h"

namespace credbroker::testing {

class LambdaFront final : public Front {
 public:
  LambdaFront(const TestIssuer& issuer, StackOptions options);
  ~LambdaFront() override;
  std::string_view kind() const override { return "lambda"; }

  /** Lambda's Invoke API: hands `event` (raw JSON) to `function` ("list", "delete", "connect",
   *  "callback", "health", "resolve") and returns its raw payload; header
   *  x-amz-function-error on failure. */
  Answer invoke(std::string_view function, std::string event);
  /** Every call the functions made to the Runtime API's error endpoints (invocation/error,
   *  init/error), one JSON object a line: {"function", "call", "error_type", "body"}. */
  std::string runtime_errors() const;
  /** The wait status of the latest handler process of environment `index` of `function` once
   *  it has exited (the emulator reports it). */
  std::optional<int> exit_status(std::string_view function, std::size_t index = 0) const;
  /** True while that environment's latest handler process runs. */
  bool running(std::string_view function, std::size_t index = 0) const;

 private:
  std::optional<ChildProcess> emulator_;
};

}  // namespace credbroker::testing
