#pragma once
// Sealed records: AES-256-GCM with a 96-bit random nonce and associated data that binds the
// record to its place, so a record copied to another user's field or another server's field fails
// to open (docs/architecture.md "Data in Redis").
//
// Layout: version (1 byte, 0x01) ‖ key id length (1 byte) ‖ key id ‖ nonce (12) ‖ ciphertext ‖
// tag (16). The associated data is the version byte followed by key id, user, server key and kind,
// each prefixed with its length as 8 bytes big-endian, so no two places share an encoding.

#include <string>
#include <string_view>

#include "shared/crypto/keyring.h"
#include "shared/crypto/random.h"
#include "shared/util/result.h"

namespace credbroker::crypto {

/** Where a sealed record lives; all of it goes into the associated data. */
struct SealContext {
  std::string_view user;
  std::string_view server_key;
  std::string_view kind;  // "credential", "flow"
};

enum class OpenError {
  kMalformed,     // too short, wrong version byte, bad lengths
  kUnknownKeyId,  // sealed with a key this keyring does not hold
  kAuthFailed,    // tag mismatch: tampered, or moved to another user/server/kind
};

/** The log label of an OpenError: "malformed", "unknown_key_id", "auth_failed". */
std::string_view label(OpenError e);

/**
 * Seals `plaintext` with the keyring's primary key and a fresh 12-byte nonce from `random`.
 * Precondition: !keyring.empty() (else std::logic_error). Throws std::runtime_error only if
 * OpenSSL itself fails (out of memory).
 */
std::string seal(const Keyring& keyring, Random& random, const SealContext& where,
                 std::string_view plaintext);

/**
 * Opens a record sealed by seal() for the same `where`, with whichever keyring key its id names.
 * Any input, of any length, gives a value or an OpenError; it is never read out of bounds.
 */
Result<std::string, OpenError> open(const Keyring& keyring, const SealContext& where,
                                    std::string_view record);

}  // namespace credbroker::crypto
