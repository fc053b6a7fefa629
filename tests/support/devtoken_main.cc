// credbroker-devtoken: makes a development signing key and mints JWTs with it, for
// scripts/dev-token and the integration tests. Never used in production.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/json/strict.h"
#include "tests/support/jwt_mint.h"
#include "tests/support/tempdir.h"

namespace {

using credbroker::identity::Alg;
namespace t = credbroker::testing;

constexpr char kUsage[] =
    "usage:\n"
    "  credbroker-devtoken keygen --alg ALG [--kid KID] --private OUT.pem --jwks OUT.json\n"
    "  credbroker-devtoken mint --private KEY.pem --alg ALG [--kid KID] --sub USER\n"
    "                           [--iss ISS] [--aud AUD]... [--ttl SECONDS] [--now UNIX]\n"
    "                           [--claim NAME=STRING]... [--claim-json NAME=JSON]... [--padded]\n"
    "ALG: RS256 RS384 RS512 PS256 ES256 ES384 EdDSA. Several --aud make an array.\n"
    "mint prints the token on stdout; --padded pads base64url segments as AWS ALB does.\n";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** Parsed "--name value" options; repeatable ones keep every value in order. */
struct Options {
  std::map<std::string, std::vector<std::string>> values;
  bool padded = false;

  std::optional<std::string> get(const std::string& name) const {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    if (it->second.size() > 1) throw UsageError("--" + name + " given more than once");
    return it->second.front();
  }
  std::string required(const std::string& name) const {
    auto v = get(name);
    if (!v) throw UsageError("--" + name + " is required");
    return *v;
  }
  std::vector<std::string> all(const std::string& name) const {
    const auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

Options parse_options(int argc, char** argv, const std::vector<std::string>& known) {
  Options out;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--padded") {
      out.padded = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 ||
        std::find(known.begin(), known.end(), arg.substr(2)) == known.end()) {
      throw UsageError("unknown argument " + arg);
    }
    if (i + 1 >= argc) throw UsageError(arg + " needs a value");
    out.values[arg.substr(2)].push_back(argv[++i]);
  }
  return out;
}

Alg alg_option(const Options& o) {
  const std::string name = o.required("alg");
  const auto alg = credbroker::identity::parse_alg(name);
  if (!alg) throw UsageError("unsupported --alg " + name);
  return *alg;
}

std::int64_t int_option(const Options& o, const std::string& name, std::int64_t fallback) {
  const auto v = o.get(name);
  if (!v) return fallback;
  std::size_t used = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size()) throw UsageError("--" + name + " must be an integer");
  return n;
}

std::pair<std::string, std::string> name_value(const std::string& arg, const std::string& option) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError(option + " wants NAME=VALUE");
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// The private key is written 0600 from the start: never briefly readable by others.
void write_private(const std::string& path, const std::string& pem) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
  const int saved = errno;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(saved));
}

int keygen(const Options& o) {
  const Alg alg = alg_option(o);
  const auto key = t::generate_key(alg, o.get("kid").value_or(""));
  const std::string private_path = o.required("private");
  const std::string jwks_path = o.required("jwks");
  write_private(private_path, t::private_key_pem(key));
  t::write_file(jwks_path, t::jwks_json({key}) + "\n");
  return 0;
}

int mint(const Options& o) {
  const Alg alg = alg_option(o);
  const auto key = t::load_private_key_file(o.required("private"), o.get("kid").value_or(""), alg);
  const std::int64_t now = int_option(o, "now", static_cast<std::int64_t>(std::time(nullptr)));
  t::Claims claims;
  claims.sub(o.required("sub"));
  if (const auto iss = o.get("iss")) claims.iss(*iss);
  const auto auds = o.all("aud");
  if (auds.size() == 1) claims.aud(auds.front());
  if (auds.size() > 1) claims.aud(auds);
  claims.iat(now).exp(now + int_option(o, "ttl", 3600));
  for (const auto& arg : o.all("claim")) {
    const auto [name, value] = name_value(arg, "--claim");
    claims.claim_string(name, value);
  }
  for (const auto& arg : o.all("claim-json")) {
    const auto [name, value] = name_value(arg, "--claim-json");
    rapidjson::Document doc;
    if (!credbroker::json::parse_strict(value, 16, doc)) {
      throw UsageError("--claim-json " + name + ": value is not JSON");
    }
    claims.claim_raw(name, value);
  }
  std::cout << t::mint(key, claims, o.padded) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc >= 2 ? argv[1] : "";
  try {
    if (command == "keygen")
      return keygen(parse_options(argc, argv, {"alg", "kid", "private", "jwks"}));
    if (command == "mint") {
      return mint(parse_options(
          argc, argv,
          {"private", "kid", "alg", "iss", "aud", "sub", "ttl", "now", "claim", "claim-json"}));
    }
    if (command == "-h" || command == "--help" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    throw UsageError(command.empty() ? "missing command" : "unknown command " + command);
  } catch (const UsageError& e) {
    std::cerr << "credbroker-devtoken: " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "credbroker-devtoken: " << e.what() << "\n";
    return 1;
  }
}
