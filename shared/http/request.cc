#include "shared/http/request.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "shared/util/strings.h"

namespace credbroker::http {

namespace {
std::optional<std::string_view> find_header(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  return find_header(headers, name);
}

void Request::add_header(std::string_view name, std::string_view value) {
  headers.emplace_back(to_lower(name), std::string(value));
}

Result<std::string, BodyError> Request::read_body(std::size_t max_bytes,
                                                  std::chrono::milliseconds deadline) const {
  if (body_source) return body_source(max_bytes, deadline);
  if (body.size() > max_bytes) return Err(BodyError::kTooLarge);
  return body;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
  return find_header(headers, name);
}

void Response::set_header(std::string_view name, std::string_view value) {
  for (auto& [k, v] : headers) {
    if (iequals(k, name)) {
      v = std::string(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::string(value));
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      if (status >= 500) return "Server Error";
      if (status >= 400) return "Client Error";
      if (status >= 300) return "Redirection";
      return "OK";
  }
}

std::string json_quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const std::string text = to_valid_utf8(s);  // JSON text must be UTF-8 (RFC 8259 §8.1)
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.set_header("Cache-Control", "no-store");
  r.set_header("X-Content-Type-Options", "nosniff");
  r.set_header("Content-Security-Policy", "default-src 'none'");
  r.body = std::move(body);
  return r;
}

Response json_error(int status, std::string_view message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto reason = reason_phrase(status);
  w.StartObject();
  w.Key("error");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.Key("message");
  const std::string text = to_valid_utf8(message);  // a JSON body must be UTF-8 (RFC 8259 §8.1)
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.Key("status_code");
  w.Int(status);
  w.EndObject();
  return json_response(status, buf.GetString());
}

Response redirect(std::string location) {
  Response r;
  r.status = 302;
  r.set_header("Location", location);
  r.set_header("Cache-Control", "no-store");
  return r;
}

}  // namespace credbroker::http
