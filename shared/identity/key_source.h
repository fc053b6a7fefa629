#pragma once
// Where verification keys come from: a fixed set (jwks_file, public_key_pem_file, or the HS256
// secret of hmac_secret_env), a JWKS URL kept fresh, or AWS ALB's per-kid PEMs. The Authenticator
// asks its KeySource; parsing is jwks.h's.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shared/config/config.h"
#include "shared/http/client.h"
#include "shared/identity/jwks.h"
#include "shared/util/result.h"

namespace credbroker::identity {

/** Supplies verification keys. */
class KeySource {
 public:
  virtual ~KeySource() = default;
  /** The current keys; may load them on first use. Error text is safe to log. */
  virtual Result<const KeySet*, std::string> keys(std::int64_t now) = 0;
  /** Called when a token names a kid we lack: re-loads if allowed (rate limited); true if reloaded.
   */
  virtual bool refresh(std::int64_t now) = 0;
  /** Sources that publish one key per kid (AWS ALB) load that kid's key: true if they now hold
   *  it, false if there is none (or it was asked for too recently); an error when the source
   *  could not answer. Others hold every key already. */
  virtual Result<bool, std::string> fetch_kid(std::string_view, std::int64_t) { return false; }
};

/** A fixed key set (jwks_file, public_key_pem_file): loaded once at start. */
std::unique_ptr<KeySource> make_static_key_source(KeySet keys);
/** A JWKS URL fetched through `client`, cached, refreshed at most once per `min_refresh_seconds`
 *  (on an unknown kid, and when the keys are an hour old); a failed fetch keeps the old keys. */
std::unique_ptr<KeySource> make_jwks_url_source(std::string url, http::HttpClient& client,
                                                std::int64_t min_refresh_seconds = 60);

/** AWS ALB keys, one PEM per kid: from `url_pattern` with "{kid}" replaced (through `client`),
 *  or from "<dir>/<kid>.pem"; cached, each kid asked for at most once per 60 s. */
std::unique_ptr<KeySource> make_alb_key_source(const config::AlbIdentity& alb,
                                               http::HttpClient& client);

/**
 * Builds the key source the identity config names (file sources are read now: a bad file fails
 * start-up with a message naming the field).
 */
Result<std::unique_ptr<KeySource>, std::string> make_key_source(
    const config::Identity& identity, http::HttpClient& client,
    std::string_view section = "identity");

}  // namespace credbroker::identity
