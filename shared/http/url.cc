#include "shared/http/url.h"

namespace credbroker::http {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (c == '\0') {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    if (unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string form_encode(std::string_view in) {
  std::string out;
  std::size_t start = 0;
  // Encode runs between spaces with percent_encode, and each space as '+'.
  while (true) {
    const auto space = in.find(' ', start);
    out += percent_encode(in.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos) return out;
    out.push_back('+');
    start = space + 1;
  }
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= q.size()) {
    auto end = q.find('&', start);
    if (end == std::string_view::npos) end = q.size();
    const std::string_view part = q.substr(start, end - start);
    if (!part.empty()) {
      const auto eq = part.find('=');
      const auto name = percent_decode(part.substr(0, eq), true);
      const auto value = percent_decode(
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
      if (!name || !value) return std::nullopt;
      out.emplace_back(*name, *value);
    }
    start = end + 1;
  }
  return out;
}

std::string build_query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(k);
    out.push_back('=');
    out += percent_encode(v);
  }
  return out;
}

}  // namespace credbroker::http
