#pragma once
// Sealed records: AES-256-GCM with a 96-bit random nonce and associated data that binds the
// record to its place, so a record copied to another user's field or another server's field fails
// to open (docs/architecture.md "Data in Redis").
//
// Format 1: version (1 byte, 0x01) ‖ key id length (1 byte) ‖ key id ‖ nonce (12) ‖ ciphertext ‖
// tag (16). The associated data is the version byte followed by key id, user, server key and kind,
// each prefixed with its length as 8 bytes big-endian, so no two places share an encoding.
// Format 2 (a record with a generation, for freshness): version 0x02 ‖ key id length ‖ key id ‖
// generation (8 bytes big-endian) ‖ nonce ‖ ciphertext ‖ tag; the associated data is format 1's
// with 0x02 first and the generation (length-prefixed, 8 bytes) last.

#include <cstdint>
#include <optional>
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
  // The record's generation (freshness, docs/architecture.md "Data in Redis"). Set: seal() writes
  // format 2 with it, and open() accepts a format-2 record of exactly this generation, or a
  // format-1 record (written before generations existed) only when it is 0. nullopt: format 1
  // only (flows).
  std::optional<std::uint64_t> generation = std::nullopt;
};

enum class OpenError {
  kMalformed,     // too short, wrong version byte, bad lengths
  kUnknownKeyId,  // sealed with a key this keyring does not hold
  kAuthFailed,    // tag mismatch: tampered, or moved to another user/server/kind
  kStale,         // sealed under another generation than the current one (deleted since)
};

/** The log label of an OpenError: "malformed", "unknown_key_id", "auth_failed", "stale". */
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

/**
 * The id of the key a record names in its header (a view into `record`), without opening it;
 * kMalformed when the header is not one seal() writes. Says nothing about whether the record is
 * authentic: only open() does (key rotation uses it to skip records already under the first key).
 */
Result<std::string_view, OpenError> sealed_key_id(std::string_view record);

/** Whether `record` is in the format seal() writes today (with a generation); false for older
 *  formats and for anything that is no record. */
bool is_current_format(std::string_view record);

}  // namespace credbroker::crypto
