#pragma once
// Process wiring: read configuration and keys from the environment, build every dependency once,
// and hand one route to the runtime. A handler main is one call to run().

#include <string_view>

#include "shared/routes/context.h"

namespace credbroker::app {

/** Exit statuses (sysexits.h): a bad command line, a configuration error. */
inline constexpr int kExitUsage = 64;
inline constexpr int kExitConfig = 78;

/**
 * Builds the process context from CREDBROKER_CONFIG (default /etc/credbroker/config.json),
 * CREDBROKER_KEYS and CREDBROKER_REDIS_PASSWORD (both then removed from the environment, their
 * bytes overwritten), then serves `route` over the transport that
 * argv and the environment select. Start-up errors print one line to stderr and exit 78 (64 for a
 * bad command line); under Lambda the line is also posted to the Runtime API's init/error.
 */
int run(int argc, char** argv, std::string_view route_name, routes::RouteFn route);

}  // namespace credbroker::app
