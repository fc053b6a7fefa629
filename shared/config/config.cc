// Small helpers around the parsed config: names, lookups, the environment, reading the file.
// Parsing and validation live in parse.cc.

#include "shared/config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "shared/crypto/hash.h"
#include "shared/util/strings.h"

namespace credbroker::config {

std::string_view mode_name(BrokerMode m) {
  switch (m) {
    case BrokerMode::kOAuthConnect:
      return "oauth_connect";
    case BrokerMode::kTokenExchange:
      return "token_exchange";
    case BrokerMode::kEntraObo:
      return "entra_obo";
  }
  return "oauth_connect";
}

std::vector<const Server*> Config::brokered() const {
  std::vector<const Server*> out;
  for (const Server& s : servers) {
    if (s.auth_broker) out.push_back(&s);
  }
  // Byte order (unsigned) of the lower-cased names.
  std::stable_sort(out.begin(), out.end(),
                   [](const Server* a, const Server* b) { return iless(a->name, b->name); });
  return out;
}

const Server* Config::find_brokered(std::string_view name) const {
  for (const Server& s : servers) {
    if (s.auth_broker && iequals(s.name, name)) return &s;
  }
  return nullptr;
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string server_key(std::string_view name, std::string_view url) {
  std::string material;
  material.append(name).append("|").append(url);
  return std::string(name) + "_" + crypto::sha256_hex(material).substr(0, 16);
}

namespace {

/** The whole file; on failure strerror's text. Buffers are cleansed: the file may hold secrets. */
Result<std::string, std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(std::string(std::strerror(errno)));
  std::string text;
  char buf[8192];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      OPENSSL_cleanse(text.data(), text.size());
      OPENSSL_cleanse(buf, sizeof buf);
      return Err(std::string(std::strerror(saved)));
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  return text;
}

}  // namespace

FileLookup process_files() {
  return read_whole_file;
}

Result<Config, std::string> parse(std::string_view json, const EnvLookup& env) {
  return parse(json, env, process_files());
}

Result<Config, std::string> load_file(const std::string& path, const EnvLookup& env) {
  auto read = read_whole_file(path);
  if (!read) return Err(path + ": cannot read: " + read.error());
  std::string& text = read.value();

  auto parsed = parse(text, env);
  // The file may hold client secrets; do not leave them behind in freed memory.
  OPENSSL_cleanse(text.data(), text.size());
  if (!parsed) return Err(path + ": " + parsed.error());
  return parsed;
}

}  // namespace credbroker::config
