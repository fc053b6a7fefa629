// credbroker-admin: the operator's tool (admin/cli.h, README "credbroker-admin").
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "admin/cli.h"

int main(int argc, char** argv) {
  const auto env = credbroker::config::process_env();
  credbroker::admin::Output io{std::cout, std::cerr, ::isatty(STDOUT_FILENO) == 1};
  return credbroker::admin::run(std::vector<std::string>(argv + 1, argv + argc), env, io);
}
