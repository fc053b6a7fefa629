// Fuzzes JWT parsing and verification (identity::verify_jwt, identity::peek_kid) against a fixed
// key set: an Ed25519 key from a fixed seed (so seed tokens in corpus/jwt verify), and RSA, P-256
// and kid-less P-384 keys generated at start.
//
// First byte even: the rest is a compact token, verified as a front would pass it.
// First byte odd:  the rest is "<header JSON>\n<claims JSON>", signed here with the Ed25519 or the
//                  P-256 key, or (bit 3) HMAC-SHA-256 with the shared secret, so the fuzzer
//                  reaches the header and claim checks that a bad signature would otherwise stop.
// Every token is also verified in the shared-secret mode (identity.hmac_secret_env: HS256 alone,
// no iss/aud); no token may verify in both modes (RFC 8725 §2.1, algorithm confusion).

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include "shared/identity/jwt.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/support/jwt_mint.h"

namespace {

using namespace credbroker;
using identity::Alg;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z, the seeds' clock

// Deterministic, so that corpus tokens stay valid across runs. A fuzzing key, nothing else.
testing::SigningKey fixed_ed25519() {
  std::array<unsigned char, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<unsigned char>(i * 7 + 1);
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (raw == nullptr) throw std::runtime_error("Ed25519 key");
  return testing::SigningKey{std::shared_ptr<evp_pkey_st>(raw, EVP_PKEY_free), "fuzz-ed",
                             Alg::kEdDSA};
}

struct Fixture {
  testing::SigningKey ed = fixed_ed25519();
  testing::SigningKey ec = testing::generate_key(Alg::kES256, "fuzz-ec");
  identity::KeySet keys;
  identity::VerifyPolicy policy;
  const std::string secret = "fuzz-hs256-shared-secret-32bytes";  // a fuzzing key, nothing else
  identity::KeySet hmac_keys;
  identity::VerifyPolicy hmac_policy;

  Fixture() {
    const auto rsa = testing::generate_key(Alg::kRS256, "fuzz-rsa");
    auto jwks = identity::parse_jwks(testing::jwks_json({ed, ec, rsa}));
    const auto pem = identity::parse_pem_public_key(
        testing::public_key_pem(testing::generate_key(Alg::kES384, "")));
    if (!jwks || !pem) throw std::runtime_error("fuzz_jwt: key set");
    keys = std::move(*jwks);
    keys.keys.push_back(pem->keys.front());
    policy.algorithms = {Alg::kRS256, Alg::kRS384, Alg::kRS512, Alg::kPS256,
                         Alg::kES256, Alg::kES384, Alg::kEdDSA};
    policy.issuer = "https://issuer.example";
    policy.audiences = {"credbroker", "other"};
    policy.leeway_seconds = 60;
    auto hmac = identity::hmac_key_set(secret);
    if (!hmac) throw std::runtime_error("fuzz_jwt: HS256 key");
    hmac_keys = std::move(*hmac);
    hmac_policy.algorithms = {Alg::kHS256};
    hmac_policy.leeway_seconds = 60;
  }
};

const Fixture& fixture_once() {
  static const Fixture fixture;
  return fixture;
}

void check(std::string_view token) {
  const Fixture& fixture = fixture_once();
  const auto verified = identity::verify_jwt(token, fixture.keys, fixture.policy, kNow);
  const auto shared = identity::verify_jwt(token, fixture.hmac_keys, fixture.hmac_policy, kNow);
  fuzz::require(!(verified && shared), "no token verifies under a public key and the secret");
  if (shared) {
    fuzz::require(!shared->user.empty(), "a verified token names a user");
    fuzz::require(shared->expires_at + fixture.hmac_policy.leeway_seconds > kNow,
                  "a verified token has not expired");
  }
  if (verified) {
    fuzz::require(!verified->user.empty(), "a verified token names a user");
    fuzz::require(verified->user.find('\0') == std::string::npos, "no NUL in a verified user");
    fuzz::require(verified->expires_at + fixture.policy.leeway_seconds > kNow,
                  "a verified token has not expired");
  } else {
    fuzz::require(!identity::describe(verified.error()).empty(), "every refusal has a reason");
  }
  (void)identity::peek_kid(token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& fixture = fixture_once();
  fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  if (mode % 2 == 0) {
    check(in.rest());
  } else {
    const std::string_view header = in.until('\n');
    const std::string_view claims = in.rest();
    const auto& key = (mode & 2) ? fixture.ec : fixture.ed;
    check((mode & 8) ? testing::hs256(fixture.secret, header, claims)
                     : testing::sign(key, header, claims, (mode & 4) != 0));
  }
  return 0;
}
