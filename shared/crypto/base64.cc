#include "shared/crypto/base64.h"

#include <array>
#include <cstdint>

namespace credbroker::crypto {

namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view in, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(in[i]) << 16) |
                            (static_cast<unsigned char>(in[i + 1]) << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    const std::uint32_t n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

std::array<int, 256> table(const char* alphabet) {
  std::array<int, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}

// Decodes unpadded text; rejects non-alphabet characters, a length of 1 mod 4 and non-zero
// trailing bits, so every byte string has exactly one accepted encoding.
std::optional<std::string> decode_unpadded(std::string_view in, const std::array<int, 256>& t) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = t[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Strips correct padding: only at the end, only as many '=' as the length needs.
std::optional<std::string_view> strip_padding(std::string_view in, bool required) {
  std::size_t pads = 0;
  while (pads < in.size() && in[in.size() - 1 - pads] == '=') ++pads;
  if (pads > 2) return std::nullopt;
  if (pads == 0) {
    if (required && in.size() % 4 != 0) return std::nullopt;
    return in;
  }
  if (in.size() % 4 != 0) return std::nullopt;
  const std::string_view body = in.substr(0, in.size() - pads);
  if ((body.size() % 4) + pads != 4) return std::nullopt;
  return body;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) { return encode(bytes, kUrl, false); }
std::string base64_encode(std::string_view bytes) { return encode(bytes, kStd, true); }

std::optional<std::string> base64url_decode(std::string_view text) {
  static const auto t = table(kUrl);
  const auto body = strip_padding(text, false);
  if (!body) return std::nullopt;
  return decode_unpadded(*body, t);
}

std::optional<std::string> base64_decode(std::string_view text) {
  static const auto t = table(kStd);
  const auto body = strip_padding(text, true);
  if (!body) return std::nullopt;
  return decode_unpadded(*body, t);
}

}  // namespace credbroker::crypto
