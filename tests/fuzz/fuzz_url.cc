// Fuzzes the request-path and query codecs: http::percent_decode, http::parse_query and the
// routes' {server} segment (routes::server_segment, routes::decode_server_name), with the
// round-trip properties their callers rely on; and the Redis URL parser (config/redis_url.h) and
// the Cluster rules (store/redis_cluster.h).

#include <cstdint>

#include "shared/config/redis_url.h"
#include "shared/http/url.h"
#include "shared/routes/common.h"
#include "shared/store/redis_cluster.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  for (const bool plus_as_space : {false, true}) {
    const auto decoded = http::percent_decode(text, plus_as_space);
    if (decoded) {
      fuzz::require(decoded->size() <= text.size(), "decoding never grows");
      fuzz::require(decoded->find('\0') == std::string::npos, "no NUL survives decoding");
      fuzz::require(http::percent_decode(http::percent_encode(*decoded)) == *decoded,
                    "percent_encode round-trips");
      fuzz::require(http::percent_decode(http::form_encode(*decoded), true) == *decoded,
                    "form_encode round-trips");
    }
  }

  const auto query = http::parse_query(text);
  if (query) {
    for (const auto& [name, value] : *query) {
      fuzz::require(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos,
                    "no NUL in query parameters");
    }
    fuzz::require(http::parse_query(http::build_query(*query)) == *query,
                  "build_query round-trips");
  }

  for (const std::string_view suffix : {"", "connect", "callback"}) {
    const auto segment = routes::server_segment(text, suffix);
    if (!segment) continue;
    fuzz::require(segment->find('/') == std::string_view::npos, "a segment has no '/'");
    const auto name = routes::decode_server_name(*segment);
    if (name) {
      fuzz::require(name->find('\0') == std::string::npos, "no NUL in a server name");
      fuzz::require(name->empty() || (name->front() != ' ' && name->back() != ' '),
                    "server names are trimmed");
    }
  }
  if (const auto ep = config::parse_redis_url(text)) {
    fuzz::require(ep->hosts.empty() != ep->socket_path.empty(), "hosts or a socket, never both");
    for (const auto& h : ep->hosts) {
      fuzz::require(!h.host.empty() && h.port >= 1 && h.port <= 65535, "hosts and ports valid");
    }
    fuzz::require(ep->mode != config::RedisEndpoint::Mode::kCluster || ep->db == 0,
                  "Cluster has db 0 only");
  } else {
    fuzz::require(ep.error().starts_with("must be a Redis URL: "), "one error form");
  }
  fuzz::require(store::cluster::key_slot(text) < store::cluster::kSlots, "slots in range");
  if (const auto r = store::cluster::parse_redirect(text)) {
    fuzz::require(r->slot >= 0 && r->slot < store::cluster::kSlots && r->node.port >= 1 &&
                      r->node.port <= 65535 && !r->node.host.empty(),
                  "redirections are well-formed");
  }
  return 0;
}
