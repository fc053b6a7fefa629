#include "shared/json/strict.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace credbroker::json {

namespace {

using rapidjson::SizeType;

// Forwards SAX events to the Document while enforcing the depth cap and unique member names.
// std::set, not a hash set: its cost stays O(log n) whatever names an attacker picks.
class StrictHandler {
 public:
  StrictHandler(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
  bool String(const char* s, SizeType n, bool copy) { return doc_.String(s, n, copy); }

  bool StartObject() {
    if (!enter()) return false;
    keys_.emplace_back();
    return doc_.StartObject();
  }
  bool Key(const char* s, SizeType n, bool copy) {
    if (!keys_.back().emplace(s, n).second) {
      error_ = JsonError::kDuplicateKey;
      return false;
    }
    return doc_.Key(s, n, copy);
  }
  bool EndObject(SizeType members) {
    keys_.pop_back();
    --depth_;
    return doc_.EndObject(members);
  }
  bool StartArray() {
    if (!enter()) return false;
    return doc_.StartArray();
  }
  bool EndArray(SizeType elements) {
    --depth_;
    return doc_.EndArray(elements);
  }

  std::optional<JsonError> error() const { return error_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      error_ = JsonError::kTooDeep;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  const int max_depth_;
  int depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // one per open object
  std::optional<JsonError> error_;
};

}  // namespace

std::string_view describe(JsonError e) {
  switch (e) {
    case JsonError::kSyntax:
      return "not a single JSON value";
    case JsonError::kEncoding:
      return "a string is not valid UTF-8";
    case JsonError::kTooDeep:
      return "nested too deeply";
    case JsonError::kDuplicateKey:
      return "an object repeats a member name";
  }
  return "invalid JSON";
}

Result<Unit, JsonError> parse_strict(std::string_view text, int max_depth,
                                     rapidjson::Document& out) {
  // RapidJSON reads '\0' as the end of input, so "{...}\0junk" would parse as "{...}". A raw NUL
  // is never valid JSON (RFC 8259 §7: control characters must be escaped), so refuse it here.
  if (text.find('\0') != std::string_view::npos) return Err(JsonError::kSyntax);

  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  StrictHandler handler(out, max_depth);
  // Iterative parsing: hostile nesting cannot exhaust the stack before the depth cap triggers.
  auto generate = [&](rapidjson::Document&) {
    return static_cast<bool>(
        reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
            stream, handler));
  };
  out.Populate(generate);
  if (!reader.HasParseError()) return Unit{};
  if (const auto e = handler.error()) return Err(*e);
  if (reader.GetParseErrorCode() == rapidjson::kParseErrorStringInvalidEncoding) {
    return Err(JsonError::kEncoding);
  }
  return Err(JsonError::kSyntax);
}

const rapidjson::Value* find_member(const rapidjson::Value& obj, std::string_view name) {
  if (!obj.IsObject()) return nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (it->name.IsString() && string_of(it->name) == name) return &it->value;
  }
  return nullptr;
}

}  // namespace credbroker::json
