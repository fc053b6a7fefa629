#include "tests/support/jwt_mint.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdexcept>

#include "shared/crypto/base64.h"
#include "shared/identity/algorithms.h"
#include "shared/identity/openssl_ptr.h"
#include "tests/support/tempdir.h"

namespace credbroker::testing {

namespace {

using identity::Alg;
using identity::BioPtr;
using identity::BnPtr;
using identity::EcdsaSigPtr;
using identity::MdCtxPtr;
using identity::PkeyPtr;

[[noreturn]] void fail(const std::string& what) {
  ERR_clear_error();
  throw std::runtime_error("jwt_mint: " + what);
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string b64(std::string_view bytes, bool padded) {
  std::string out = crypto::base64url_encode(bytes);
  if (padded) out.append((4 - out.size() % 4) % 4, '=');
  return out;
}

std::string bn_bytes(const BIGNUM* bn, int width = 0) {
  std::string out(static_cast<std::size_t>(width > 0 ? width : BN_num_bytes(bn)), '\0');
  if (BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) <
      0) {
    fail("BN_bn2binpad");
  }
  return out;
}

std::string bn_param(EVP_PKEY* pkey, const char* name, int width = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) fail(std::string("no parameter ") + name);
  BnPtr bn(raw);
  return bn_bytes(bn.get(), width);
}

const EVP_MD* digest_for(Alg alg) {
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
    case Alg::kES256:
      return EVP_sha256();
    case Alg::kRS384:
    case Alg::kES384:
      return EVP_sha384();
    case Alg::kRS512:
      return EVP_sha512();
    case Alg::kEdDSA:
    case Alg::kHS256:
      return nullptr;
  }
  return nullptr;
}

BnPtr curve_order(int half) {
  BIGNUM* n = nullptr;
  const char* hex =
      half == 32
          ? "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
          : "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC"
            "196ACCC52973";
  if (BN_hex2bn(&n, hex) == 0) fail("BN_hex2bn");
  return BnPtr(n);
}

/** R ‖ S with S replaced by n - S when `want_high` differs from S > n/2. */
std::string with_s_half(std::string_view raw, int half, bool want_high) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BnPtr s(BN_bin2bn(bytes + half, half, nullptr));
  BnPtr n = curve_order(half);
  BnPtr n_half(BN_dup(n.get()));
  if (!s || !n_half || BN_rshift1(n_half.get(), n_half.get()) != 1) fail("BN");
  const bool high = BN_cmp(s.get(), n_half.get()) > 0;
  if (high == want_high) return std::string(raw);
  if (BN_sub(s.get(), n.get(), s.get()) != 1) fail("BN_sub");
  return std::string(raw.substr(0, static_cast<std::size_t>(half))) + bn_bytes(s.get(), half);
}

// Low-S, as the verifier requires (an OpenSSL signature is high-S half the time).
std::string der_to_raw_ecdsa(std::string_view der, int half) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) fail("d2i_ECDSA_SIG");
  return with_s_half(
      bn_bytes(ECDSA_SIG_get0_r(sig.get()), half) + bn_bytes(ECDSA_SIG_get0_s(sig.get()), half),
      half, false);
}

// Which algorithms a private key can sign; RSA keys of any size (tests need small ones).
identity::KeyType key_type_of(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) return identity::KeyType::kRsa;
  if (EVP_PKEY_is_a(pkey, "ED25519")) return identity::KeyType::kEd25519;
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_is_a(pkey, "EC") && EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
    const std::string_view g(group, len);
    if (g == "prime256v1") return identity::KeyType::kEcP256;
    if (g == "secp384r1") return identity::KeyType::kEcP384;
  }
  fail("unsupported private key type");
}

}  // namespace

SigningKey generate_key(Alg alg, std::string kid, int rsa_bits) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
    case Alg::kPS256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsa_bits));
      break;
    case Alg::kES256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kES384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case Alg::kEdDSA:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case Alg::kHS256:
      fail("HS256 has no key pair: sign with hs256()");
  }
  if (raw == nullptr) fail("key generation");
  return SigningKey{identity::share_pkey(PkeyPtr(raw)), std::move(kid), alg};
}

std::string private_key_pem(const SigningKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    fail("PEM_write_bio_PrivateKey");
  }
  return bio_contents(bio.get());
}

SigningKey load_private_key_pem(std::string_view pem, std::string kid, Alg alg) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr pkey(bio ? PEM_read_bio_PrivateKey(
                         bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr)
                   : nullptr);
  if (!pkey) fail("not a PEM private key");
  if (!identity::type_fits(key_type_of(pkey.get()), alg)) {
    fail("the key cannot sign " + std::string(identity::alg_name(alg)));
  }
  return SigningKey{identity::share_pkey(std::move(pkey)), std::move(kid), alg};
}

SigningKey load_private_key_file(const std::string& path, std::string kid, Alg alg) {
  const std::string pem = read_file(path);
  if (pem.empty()) fail("cannot read " + path);
  return load_private_key_pem(pem, std::move(kid), alg);
}

std::string public_key_pem(const SigningKey& key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.pkey.get()) != 1) fail("PEM_write_bio_PUBKEY");
  return bio_contents(bio.get());
}

std::string public_key_der(const SigningKey& key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key.pkey.get(), &der);
  if (len <= 0) fail("i2d_PUBKEY");
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string jwk_json(const SigningKey& key, bool with_alg) {
  EVP_PKEY* p = key.pkey.get();
  std::string out = "{";
  switch (key.alg) {
    case Alg::kRS256:
    case Alg::kRS384:
    case Alg::kRS512:
    case Alg::kPS256:
      out += R"("kty":"RSA","n":)" + json_string(b64(bn_param(p, OSSL_PKEY_PARAM_RSA_N), false)) +
             R"(,"e":)" + json_string(b64(bn_param(p, OSSL_PKEY_PARAM_RSA_E), false));
      break;
    case Alg::kES256:
    case Alg::kES384: {
      const int width = key.alg == Alg::kES256 ? 32 : 48;
      out += std::string(R"("kty":"EC","crv":)") + (width == 32 ? R"("P-256")" : R"("P-384")") +
             R"(,"x":)" + json_string(b64(bn_param(p, OSSL_PKEY_PARAM_EC_PUB_X, width), false)) +
             R"(,"y":)" + json_string(b64(bn_param(p, OSSL_PKEY_PARAM_EC_PUB_Y, width), false));
      break;
    }
    case Alg::kEdDSA: {
      std::string x(32, '\0');
      std::size_t len = x.size();
      if (EVP_PKEY_get_raw_public_key(p, reinterpret_cast<unsigned char*>(x.data()), &len) != 1) {
        fail("EVP_PKEY_get_raw_public_key");
      }
      out += R"("kty":"OKP","crv":"Ed25519","x":)" + json_string(b64(x, false));
      break;
    }
    case Alg::kHS256:
      fail("HS256 has no public key");
  }
  out += R"(,"use":"sig")";
  if (!key.kid.empty()) out += R"(,"kid":)" + json_string(key.kid);
  if (with_alg) out += R"(,"alg":)" + json_string(identity::alg_name(key.alg));
  return out + "}";
}

std::string jwks_json(const std::vector<SigningKey>& keys) {
  std::string out = R"({"keys":[)";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ",";
    out += jwk_json(keys[i]);
  }
  return out + "]}";
}

std::string high_s(std::string_view raw_ecdsa) {
  if (raw_ecdsa.size() != 64 && raw_ecdsa.size() != 96) fail("not a raw ES256/ES384 signature");
  return with_s_half(raw_ecdsa, static_cast<int>(raw_ecdsa.size() / 2), true);
}

std::string raw_signature(const SigningKey& key, std::string_view signing_input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), &pctx, digest_for(key.alg), nullptr, key.pkey.get()) != 1) {
    fail("EVP_DigestSignInit");
  }
  if (key.alg == Alg::kPS256 &&
      (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
    fail("PSS parameters");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, signing_input.size()) != 1) fail("sign size");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     signing_input.size()) != 1) {
    fail("EVP_DigestSign");
  }
  sig.resize(len);
  if (key.alg == Alg::kES256) return der_to_raw_ecdsa(sig, 32);
  if (key.alg == Alg::kES384) return der_to_raw_ecdsa(sig, 48);
  return sig;
}

std::string sign(const SigningKey& key, std::string_view header_json, std::string_view payload_json,
                 bool padded) {
  const std::string input = b64(header_json, padded) + "." + b64(payload_json, padded);
  return input + "." + b64(raw_signature(key, input), padded);
}

std::string hs256(std::string_view secret, std::string_view header_json,
                  std::string_view payload_json) {
  const std::string input = b64(header_json, false) + "." + b64(payload_json, false);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &len) == nullptr) {
    fail("HMAC");
  }
  return input + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), len), false);
}

std::string default_header(const SigningKey& key) {
  std::string out = R"({"alg":)" + json_string(identity::alg_name(key.alg)) + R"(,"typ":"JWT")";
  if (!key.kid.empty()) out += R"(,"kid":)" + json_string(key.kid);
  return out + "}";
}

std::string json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Claims& Claims::aud(const std::vector<std::string>& v) {
  std::string arr = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) arr += ",";
    arr += json_string(v[i]);
  }
  return claim_raw("aud", arr + "]");
}

Claims& Claims::claim_string(std::string_view name, std::string_view value) {
  return claim_raw(name, json_string(value));
}

Claims& Claims::claim_raw(std::string_view name, std::string_view json) {
  for (auto& [n, v] : members_) {
    if (n == name) {
      v = std::string(json);
      return *this;
    }
  }
  members_.emplace_back(std::string(name), std::string(json));
  return *this;
}

Claims& Claims::remove(std::string_view name) {
  std::erase_if(members_, [&](const auto& m) { return m.first == name; });
  return *this;
}

std::string Claims::json() const {
  std::string out = "{";
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out += ",";
    out += json_string(members_[i].first) + ":" + members_[i].second;
  }
  return out + "}";
}

std::string mint(const SigningKey& key, const Claims& claims, bool padded) {
  return sign(key, default_header(key), claims.json(), padded);
}

}  // namespace credbroker::testing
