#pragma once
// credbroker-admin's command line: parses it, reads CREDBROKER_CONFIG / CREDBROKER_KEYS /
// CREDBROKER_REDIS_* through `env`, builds the real Redis and HTTP clients, runs one subcommand
// (admin.h) and returns its exit status.

#include <string>
#include <vector>

#include "admin/admin.h"
#include "shared/config/config.h"

namespace credbroker::admin {

/** `args` without the program name. */
int run(const std::vector<std::string>& args, const config::EnvLookup& env, Output& io);

}  // namespace credbroker::admin
