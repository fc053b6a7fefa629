#include "shared/crypto/seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <stdexcept>

namespace credbroker::crypto {

namespace {

constexpr unsigned char kVersion1 = 0x01;  // no generation
constexpr unsigned char kVersion2 = 0x02;  // with a generation
constexpr std::size_t kGenerationBytes = 8;
constexpr std::size_t kNonceBytes = 12;  // 96 bits, the GCM default (NIST SP 800-38D §8.2)
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxIdLength = 64;  // Keyring's limit; anything longer is not ours
// EVP lengths are ints: feed long inputs in pieces.
constexpr std::size_t kChunk = std::size_t{1} << 30;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// OpenSSL fails here only when out of memory or misbuilt; there is no record to return.
[[noreturn]] void openssl_failed() {
  throw std::runtime_error("AES-256-GCM: OpenSSL call failed");
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void append_be64(std::string& out, std::uint64_t n) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
}

std::uint64_t read_be64(std::string_view bytes8) {
  std::uint64_t n = 0;
  for (const char c : bytes8) n = (n << 8) | static_cast<unsigned char>(c);
  return n;
}

void append_field(std::string& out, std::string_view field) {
  append_be64(out, field.size());
  out.append(field);
}

// Associated data: the version and key id from the record header plus where the record lives,
// each length-prefixed (8-byte big-endian) so that no two different tuples encode the same way:
// ("ab", "c") and ("a", "bc") differ. Format 2 adds the generation, last.
std::string associated_data(std::string_view key_id, const SealContext& where,
                            std::optional<std::uint64_t> generation) {
  std::string ad;
  ad.reserve(1 + 5 * 8 + key_id.size() + where.user.size() + where.server_key.size() +
             where.kind.size() + kGenerationBytes);
  ad.push_back(static_cast<char>(generation ? kVersion2 : kVersion1));
  append_field(ad, key_id);
  append_field(ad, where.user);
  append_field(ad, where.server_key);
  append_field(ad, where.kind);
  if (generation) {
    std::string g;
    append_be64(g, *generation);
    append_field(ad, g);
  }
  return ad;
}

// AES-256-GCM fetched from the default provider once per process: OpenSSL 3 documents explicit
// fetching as the fast path, where EVP_aes_256_gcm() makes every Init look the cipher up again.
// Never freed: it lives as long as the process, like OpenSSL's own store.
const EVP_CIPHER* aes_256_gcm() {
  static const EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) openssl_failed();
  return cipher;
}

// A context keyed with `key` and `nonce` that has taken in the associated data.
CipherCtx start(std::string_view key, std::string_view nonce, std::string_view ad, bool encrypt) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) openssl_failed();
  const EVP_CIPHER* cipher = aes_256_gcm();
  const int ok = encrypt ? EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, bytes(key), bytes(nonce))
                         : EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, bytes(key), bytes(nonce));
  if (ok != 1) openssl_failed();
  for (std::size_t off = 0; off < ad.size(); off += kChunk) {
    const std::string_view piece = ad.substr(off, kChunk);
    const auto n = static_cast<int>(piece.size());
    int len = 0;
    const int fed = encrypt ? EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(piece), n)
                            : EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(piece), n);
    if (fed != 1) openssl_failed();
  }
  return ctx;
}

// Runs `in` through the cipher into `out` (same length: GCM is a stream mode).
void crypt(EVP_CIPHER_CTX* ctx, std::string_view in, unsigned char* out, bool encrypt) {
  for (std::size_t off = 0; off < in.size(); off += kChunk) {
    const std::string_view piece = in.substr(off, kChunk);
    const auto n = static_cast<int>(piece.size());
    int len = 0;
    const int ok = encrypt ? EVP_EncryptUpdate(ctx, out + off, &len, bytes(piece), n)
                           : EVP_DecryptUpdate(ctx, out + off, &len, bytes(piece), n);
    if (ok != 1 || static_cast<std::size_t>(len) != piece.size()) openssl_failed();
  }
}

}  // namespace

std::string seal(const Keyring& keyring, Random& random, const SealContext& where,
                 std::string_view plaintext) {
  if (keyring.empty()) throw std::logic_error("seal: empty keyring");
  const Key& key = keyring.primary();  // Keyring guarantees a valid id and a 32-byte key
  const std::string nonce = random.bytes(kNonceBytes);
  if (nonce.size() != kNonceBytes) throw std::logic_error("seal: Random returned a short nonce");

  std::string record;
  record.reserve(2 + key.id.size() + kGenerationBytes + kNonceBytes + plaintext.size() + kTagBytes);
  record.push_back(static_cast<char>(where.generation ? kVersion2 : kVersion1));
  record.push_back(static_cast<char>(key.id.size()));
  record.append(key.id);
  if (where.generation) append_be64(record, *where.generation);
  record.append(nonce);
  const std::size_t ct_offset = record.size();
  record.resize(ct_offset + plaintext.size() + kTagBytes);
  auto* out = reinterpret_cast<unsigned char*>(record.data());

  const CipherCtx ctx =
      start(key.bytes, nonce, associated_data(key.id, where, where.generation), true);
  crypt(ctx.get(), plaintext, out + ct_offset, true);
  int len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), out + ct_offset + plaintext.size(), &len) != 1 || len != 0) {
    openssl_failed();
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes),
                          out + ct_offset + plaintext.size()) != 1) {
    openssl_failed();
  }
  return record;
}

Result<std::string_view, OpenError> sealed_key_id(std::string_view record) {
  // Every length is checked against what is left before anything is read.
  if (record.size() < 2) return Err(OpenError::kMalformed);
  const auto version = static_cast<unsigned char>(record[0]);
  if (version != kVersion1 && version != kVersion2) return Err(OpenError::kMalformed);
  const std::size_t id_length = static_cast<unsigned char>(record[1]);
  if (id_length == 0 || id_length > kMaxIdLength) return Err(OpenError::kMalformed);
  const std::size_t generation_bytes = version == kVersion2 ? kGenerationBytes : 0;
  if (record.size() < 2 + id_length + generation_bytes + kNonceBytes + kTagBytes) {
    return Err(OpenError::kMalformed);
  }
  return record.substr(2, id_length);
}

bool is_current_format(std::string_view record) {
  return sealed_key_id(record).ok() && static_cast<unsigned char>(record[0]) == kVersion2;
}

Result<std::string, OpenError> open(const Keyring& keyring, const SealContext& where,
                                    std::string_view record) {
  const auto header = sealed_key_id(record);
  if (!header) return Err(header.error());
  const auto version = static_cast<unsigned char>(record[0]);
  // A format the caller does not take is malformed: flows (no generation) are format 1 only.
  if (version == kVersion2 && !where.generation) return Err(OpenError::kMalformed);
  const std::string_view key_id = *header;
  const std::size_t id_length = key_id.size();
  const std::size_t generation_bytes = version == kVersion2 ? kGenerationBytes : 0;
  // Format 1 predates generations: it stands for generation 0 and is stale after any delete.
  const std::optional<std::uint64_t> generation =
      version == kVersion2
          ? std::optional<std::uint64_t>(read_be64(record.substr(2 + id_length, kGenerationBytes)))
          : std::nullopt;
  if (where.generation && generation.value_or(0) != *where.generation) {
    return Err(OpenError::kStale);
  }
  const std::string_view nonce = record.substr(2 + id_length + generation_bytes, kNonceBytes);
  const std::size_t ct_offset = 2 + id_length + generation_bytes + kNonceBytes;
  const std::size_t ct_size = record.size() - ct_offset - kTagBytes;
  const std::string_view ciphertext = record.substr(ct_offset, ct_size);
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; copy so the caller's buffer is never written.
  std::string tag(record.substr(ct_offset + ct_size, kTagBytes));

  const Key* key = keyring.find(key_id);
  if (key == nullptr) return Err(OpenError::kUnknownKeyId);

  const CipherCtx ctx = start(key->bytes, nonce, associated_data(key_id, where, generation), false);
  std::string plaintext(ct_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  crypt(ctx.get(), ciphertext, out, false);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    openssl_failed();
  }
  int len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out + ct_size, &len) != 1) {
    // Unauthenticated plaintext must not outlive this call.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Err(OpenError::kAuthFailed);
  }
  return plaintext;
}

std::string_view label(OpenError e) {
  switch (e) {
    case OpenError::kMalformed:
      return "malformed";
    case OpenError::kUnknownKeyId:
      return "unknown_key_id";
    case OpenError::kAuthFailed:
      return "auth_failed";
    case OpenError::kStale:
      return "stale";
  }
  return "malformed";
}

}  // namespace credbroker::crypto
