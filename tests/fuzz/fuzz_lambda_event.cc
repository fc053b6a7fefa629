// Fuzzes Lambda invocation event parsing (runtime::parse_event: API Gateway HTTP API 2.0, REST
// API 1.0, ALB) and the answer built for the event's front (runtime::format_response), plus the
// path re-encoding (runtime::encode_path). Events come from AWS, but every field in them was
// chosen by the client that sent the HTTP request.

#include <rapidjson/document.h>

#include <cstdint>

#include "shared/http/request.h"
#include "shared/runtime/lambda_event.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto event = runtime::parse_event(text);
  if (!event) {
    fuzz::require(!runtime::describe(event.error()).empty(), "every refusal has a reason");
    return 0;
  }
  const http::Request& request = event->request;
  fuzz::require(request.method.find('\0') == std::string::npos, "no NUL in the method");
  for (const auto& [name, value] : request.headers) {
    for (char c : name) fuzz::require(!(c >= 'A' && c <= 'Z'), "header names are lower-case");
  }
  // The answer echoes what the request carried, as a route's error message or redirect might.
  http::Response response = http::json_error(404, request.path);
  response.set_header("Location", request.query);
  response.headers.emplace_back("Set-Cookie", request.body.substr(0, 64));
  response.body += request.body;
  const std::string answer = runtime::format_response(response, *event);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(answer.data(), answer.size());
  fuzz::require(!doc.HasParseError() && doc.IsObject(), "the answer is a UTF-8 JSON object");
  const std::string encoded = runtime::encode_path(request.path, runtime::PathForm::kDecoded);
  fuzz::require(runtime::encode_path(encoded, runtime::PathForm::kEncoded) == encoded,
                "an encoded path is kept as it is");
  for (unsigned char c : encoded) {
    fuzz::require(c > 0x20 && c < 0x7F && c != '"' && c != '#' && c != '?' && c != '\\',
                  "an encoded path holds only characters a path may hold");
  }
  return 0;
}
