#include "shared/runtime/lambda_event.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>
#include <vector>

#include "shared/crypto/base64.h"
#include "shared/http/grammar.h"
#include "shared/http/url.h"
#include "shared/json/strict.h"
#include "shared/util/strings.h"

namespace credbroker::runtime {

std::string_view describe(EventError e) {
  switch (e) {
    case EventError::kTooLarge:
      return "invocation event too large";
    case EventError::kNotJson:
      return "invocation event is not a JSON object";
    case EventError::kUnknownFormat:
      return "invocation event is neither payload format 2.0 nor 1.0";
    case EventError::kBadField:
      return "invocation event has a malformed field";
    case EventError::kBadBody:
      return "invocation event body is not valid base64";
  }
  return "invocation event rejected";
}

std::string_view label(EventError e) {
  switch (e) {
    case EventError::kTooLarge:
      return "too_large";
    case EventError::kNotJson:
      return "not_json";
    case EventError::kUnknownFormat:
      return "unknown_format";
    case EventError::kBadField:
      return "bad_field";
    case EventError::kBadBody:
      return "bad_body";
  }
  return "bad_field";
}

namespace {

using json::string_of;
using Value = rapidjson::Value;
using Pairs = std::vector<std::pair<std::string, std::string>>;

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

/** Reads the fields of one event; the first failure sticks. Member names are unique (the event
 *  went through json::parse_strict), so a member is found once. */
class Reader {
 public:
  EventError error = EventError::kBadField;

  bool fail(EventError e = EventError::kBadField) {
    if (!failed_) error = e;
    failed_ = true;
    return false;
  }

  /** Member `name`, or nullptr when absent or null. */
  const Value* member(const Value& obj, std::string_view name) {
    const Value* found = json::find_member(obj, name);
    return found == nullptr || found->IsNull() ? nullptr : found;
  }

  /** An object, or nullptr (absent, null; fails if not an object). */
  const Value* object(const Value& parent, std::string_view name) {
    const Value* v = member(parent, name);
    if (v == nullptr) return nullptr;
    if (!v->IsObject()) {
      fail();
      return nullptr;
    }
    return v;
  }

  /** A string without NUL into `out`; absent leaves `out` as it is unless `required`. */
  bool text(const Value& parent, std::string_view name, std::string& out, bool required) {
    const Value* v = member(parent, name);
    if (v == nullptr) return !required && error_free();
    if (!v->IsString() || has_nul(string_of(*v))) return fail();
    out = std::string(string_of(*v));
    return true;
  }

  bool error_free() const { return !failed_; }

 private:
  bool failed_ = false;
};

bool read_method(Reader& r, const Value& parent, std::string_view name, http::Request& out) {
  if (!r.text(parent, name, out.method, true)) return false;
  if (!http::is_token(out.method) || out.method.size() > 32) return r.fail();
  return true;
}

bool read_path(Reader& r, const Value& parent, std::string_view name, PathForm form,
               http::Request& out) {
  std::string path;
  if (!r.text(parent, name, path, true)) return false;
  if (path.empty() || path.front() != '/') return r.fail();
  out.path = encode_path(path, form);
  return true;
}

/** A payload 2.0 event from a function URL (encoded rawPath) rather than an HTTP API (decoded):
 *  function URLs are only reached at "<url-id>.lambda-url.<region>.on.aws". */
bool from_function_url(Reader& r, const Value& context) {
  std::string domain;
  if (!r.text(context, "domainName", domain, false)) return false;
  return domain.find(".lambda-url.") != std::string::npos && domain.ends_with(".on.aws");
}

bool add_header(Reader& r, http::Request& out, std::string_view name, const Value& value) {
  if (!value.IsString()) return r.fail();
  const std::string_view v = string_of(value);
  if (!http::is_token(name) || !http::is_field_value(v)) return r.fail();
  out.add_header(name, v);
  return true;
}

/** "headers": {name: value}. */
bool read_headers(Reader& r, const Value& event, http::Request& out) {
  const Value* headers = r.object(event, "headers");
  if (headers == nullptr) return r.error_free();
  for (const auto& m : headers->GetObject()) {
    if (!add_header(r, out, string_of(m.name), m.value)) return false;
  }
  return true;
}

/** "multiValueHeaders": {name: [value, ...]}; true in `used` when present. */
bool read_multi_value_headers(Reader& r, const Value& event, http::Request& out, bool& used) {
  const Value* headers = r.object(event, "multiValueHeaders");
  used = headers != nullptr;
  if (headers == nullptr) return r.error_free();
  for (const auto& m : headers->GetObject()) {
    if (!m.value.IsArray()) return r.fail();
    for (const auto& v : m.value.GetArray()) {
      if (!add_header(r, out, string_of(m.name), v)) return false;
    }
  }
  return true;
}

/** Payload 1.0 query parameters, re-encoded into a raw query string. */
bool read_query_parameters(Reader& r, const Value& event, bool alb, http::Request& out) {
  Pairs params;
  const auto take = [&](std::string_view name, const Value& v) {
    if (!v.IsString() || has_nul(string_of(v)) || has_nul(name)) return r.fail();
    params.emplace_back(std::string(name), std::string(string_of(v)));
    return true;
  };
  if (const Value* multi = r.object(event, "multiValueQueryStringParameters")) {
    for (const auto& m : multi->GetObject()) {
      if (!m.value.IsArray()) return r.fail();
      for (const auto& v : m.value.GetArray()) {
        if (!take(string_of(m.name), v)) return false;
      }
    }
  } else if (const Value* single = r.object(event, "queryStringParameters")) {
    for (const auto& m : single->GetObject()) {
      if (!take(string_of(m.name), m.value)) return false;
    }
  }
  if (!r.error_free()) return false;
  if (!alb) {
    // API Gateway hands the parameters decoded; encode them again.
    out.query = http::build_query(params);
    return true;
  }
  // An ALB passes names and values exactly as the client sent them (still encoded).
  out.query.clear();
  for (const auto& [k, v] : params) {
    if (!out.query.empty()) out.query.push_back('&');
    out.query += k;
    out.query.push_back('=');
    out.query += v;
  }
  return true;
}

bool read_body(Reader& r, const Value& event, http::Request& out) {
  const Value* body = r.member(event, "body");
  const Value* b64 = r.member(event, "isBase64Encoded");
  if (!r.error_free()) return false;
  if (b64 != nullptr && !b64->IsBool()) return r.fail();
  if (body == nullptr) return true;
  if (!body->IsString()) return r.fail();
  if (b64 != nullptr && b64->GetBool()) {
    auto decoded = crypto::base64_decode(string_of(*body));
    if (!decoded) return r.fail(EventError::kBadBody);
    out.body = std::move(*decoded);
  } else {
    out.body = std::string(string_of(*body));
  }
  return true;
}

/** requestContext.authorizer.jwt.claims: strings, integers and booleans as text. */
bool read_claims(Reader& r, const Value* context, http::Request& out) {
  if (context == nullptr) return true;
  const Value* authorizer = r.object(*context, "authorizer");
  const Value* jwt = authorizer == nullptr ? nullptr : r.object(*authorizer, "jwt");
  const Value* claims = jwt == nullptr ? nullptr : r.object(*jwt, "claims");
  if (!r.error_free()) return false;
  if (claims == nullptr) return true;
  std::vector<std::pair<std::string, std::string>> out_claims;
  for (const auto& m : claims->GetObject()) {
    const Value& v = m.value;
    std::string text;
    if (v.IsString()) {
      text = std::string(string_of(v));
    } else if (v.IsInt64()) {
      text = std::to_string(v.GetInt64());
    } else if (v.IsBool()) {
      text = v.GetBool() ? "true" : "false";
    } else {
      continue;  // arrays and objects: API Gateway sends claims as strings; nothing we read
    }
    if (has_nul(string_of(m.name)) || has_nul(text)) return r.fail();
    out_claims.emplace_back(std::string(string_of(m.name)), std::move(text));
  }
  out.gateway_claims = std::move(out_claims);
  return true;
}

bool read_v2(Reader& r, const Value& event, LambdaEvent& out) {
  http::Request& req = out.request;
  out.source = EventSource::kHttpApiV2;
  const Value* context = r.object(event, "requestContext");
  const Value* http = context == nullptr ? nullptr : r.object(*context, "http");
  if (http == nullptr) return r.fail();
  out.path_form = from_function_url(r, *context) ? PathForm::kEncoded : PathForm::kDecoded;
  if (!r.error_free() || !read_method(r, *http, "method", req) ||
      !read_path(r, event, "rawPath", out.path_form, req) ||
      !r.text(event, "rawQueryString", req.query, false) || !read_headers(r, event, req)) {
    return false;
  }
  // Payload 2.0 moves the Cookie header into "cookies" (one string per cookie pair).
  if (const Value* cookies = r.member(event, "cookies")) {
    if (!cookies->IsArray()) return r.fail();
    std::string joined;
    for (const auto& c : cookies->GetArray()) {
      if (!c.IsString() || !http::is_field_value(string_of(c))) return r.fail();
      if (!joined.empty()) joined += "; ";
      joined += string_of(c);
    }
    if (!joined.empty()) req.add_header("cookie", joined);
  }
  return r.error_free() && read_body(r, event, req) && read_claims(r, context, req);
}

bool read_v1(Reader& r, const Value& event, bool http_api, LambdaEvent& out) {
  http::Request& req = out.request;
  const Value* context = r.object(event, "requestContext");
  if (!r.error_free()) return false;
  const bool alb = context != nullptr && r.member(*context, "elb") != nullptr;
  out.source = alb ? EventSource::kAlb : EventSource::kRestApiV1;
  // Only an HTTP API set to payload 1.0 sends "version": "1.0"; it decodes "path" as it does
  // rawPath. REST APIs (no "version") and ALBs pass the path as the client sent it.
  out.path_form = http_api && !alb ? PathForm::kDecoded : PathForm::kEncoded;
  if (!read_method(r, event, "httpMethod", req) ||
      !read_path(r, event, "path", out.path_form, req) ||
      !read_multi_value_headers(r, event, req, out.multi_value_headers)) {
    return false;
  }
  if (!out.multi_value_headers && !read_headers(r, event, req)) return false;
  return read_query_parameters(r, event, alb, req) && read_body(r, event, req) &&
         read_claims(r, context, req);
}

/** Header values per name (case-insensitive, first spelling kept), in first-seen order. */
std::vector<std::pair<std::string, std::vector<std::string>>> group_headers(
    const http::Response& response) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& [name, value] : response.headers) {
    // A CR or LF would never reach a client intact; a bug must not become header injection.
    if (!http::is_field_value(name) || !http::is_field_value(value)) continue;
    // JSON strings must be UTF-8 (RFC 8259 §8.1); our headers are ASCII, a bug must not break it.
    auto it = out.begin();
    while (it != out.end() && !iequals(it->first, name)) ++it;
    if (it == out.end()) {
      out.emplace_back(to_valid_utf8(name), std::vector<std::string>{to_valid_utf8(value)});
    } else {
      it->second.push_back(to_valid_utf8(value));
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& values, std::string_view sep) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += sep;
    out += v;
  }
  return out;
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

}  // namespace

std::string encode_path(std::string_view path, PathForm form) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kNeverLiteral = " \"#<>?\\^`{|}";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    // RFC 3986 §2.4: in a decoded path a '%' is data, and must be encoded to stay data.
    const bool data_percent = form == PathForm::kDecoded && c == '%';
    if (c < 0x21 || c >= 0x7F || data_percent ||
        kNeverLiteral.find(static_cast<char>(c)) != std::string::npos) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Result<LambdaEvent, EventError> parse_event(std::string_view json) {
  if (json.size() > kMaxEventBytes) return Err(EventError::kTooLarge);
  rapidjson::Document doc;
  // No depth cap of its own: the size cap bounds it, and the parse is iterative.
  if (auto parsed = json::parse_strict(json, static_cast<int>(kMaxEventBytes), doc); !parsed) {
    // A member named twice is a malformed field wherever it stands (two readers could disagree).
    return Err(parsed.error() == json::JsonError::kDuplicateKey ? EventError::kBadField
                                                                : EventError::kNotJson);
  }
  if (!doc.IsObject()) return Err(EventError::kNotJson);

  Reader r;
  LambdaEvent out;
  const Value* version = r.member(doc, "version");
  if (!r.error_free()) return Err(r.error);
  bool ok = false;
  if (version != nullptr && version->IsString() && string_of(*version) == "2.0") {
    ok = read_v2(r, doc, out);
  } else if (r.member(doc, "httpMethod") != nullptr) {
    const bool http_api = version != nullptr && version->IsString() && string_of(*version) == "1.0";
    ok = read_v1(r, doc, http_api, out);
  } else {
    return Err(EventError::kUnknownFormat);
  }
  if (!ok || !r.error_free()) return Err(r.error);
  return out;
}

std::string format_response(const http::Response& response, const LambdaEvent& event) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("statusCode");
  w.Int(response.status);
  if (event.source == EventSource::kAlb) {
    w.Key("statusDescription");
    write_string(w, std::to_string(response.status) + " " +
                        std::string(http::reason_phrase(response.status)));
  }
  const auto headers = group_headers(response);
  std::vector<std::string> cookies;
  if (event.source == EventSource::kHttpApiV2) {
    w.Key("headers");
    w.StartObject();
    for (const auto& [name, values] : headers) {
      if (iequals(name, "set-cookie")) {
        cookies.insert(cookies.end(), values.begin(), values.end());
        continue;
      }
      write_string(w, name);
      write_string(w, join(values, ", "));
    }
    w.EndObject();
    if (!cookies.empty()) {
      w.Key("cookies");
      w.StartArray();
      for (const auto& c : cookies) write_string(w, c);
      w.EndArray();
    }
  } else {
    // 1.0: single values in "headers", repeated names in "multiValueHeaders" (API Gateway merges
    // the two; absent when nothing repeats); an event that came with multiValueHeaders gets every
    // header there (an ALB with multi-value headers on requires it).
    w.Key("headers");
    w.StartObject();
    if (!event.multi_value_headers) {
      for (const auto& [name, values] : headers) {
        if (values.size() != 1) continue;
        write_string(w, name);
        write_string(w, values.front());
      }
    }
    w.EndObject();
    bool repeated = false;
    for (const auto& [name, values] : headers) repeated = repeated || values.size() > 1;
    if (event.multi_value_headers || repeated) {
      w.Key("multiValueHeaders");
      w.StartObject();
      for (const auto& [name, values] : headers) {
        if (!event.multi_value_headers && values.size() == 1) continue;
        write_string(w, name);
        w.StartArray();
        for (const auto& v : values) write_string(w, v);
        w.EndArray();
      }
      w.EndObject();
    }
  }
  const bool text = to_valid_utf8(response.body) == response.body;
  w.Key("body");
  write_string(w, text ? response.body : crypto::base64_encode(response.body));
  w.Key("isBase64Encoded");
  w.Bool(!text);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string format_error(std::string_view type, std::string_view message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("errorMessage");
  write_string(w, to_valid_utf8(message));
  w.Key("errorType");
  write_string(w, to_valid_utf8(type));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace credbroker::runtime
