// Fuzzes the CGI/FastCGI request codec (runtime::request_from_params) and the response writer
// (runtime::format_cgi_response). The input is lines of NAME=VALUE, as a front server's FastCGI
// params (or a CGI environment) would arrive after libfcgi decoded them; the request's own path,
// query and headers are then echoed into a response, which must stay one well-formed CGI header
// block whatever they hold (no response splitting).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shared/http/request.h"
#include "shared/runtime/runtime.h"
#include "tests/fuzz/fuzz_input.h"

using namespace credbroker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  std::vector<std::pair<std::string, std::string>> params;
  while (!in.empty()) {
    const std::string_view line = in.until('\n');
    const auto eq = line.find('=');
    params.emplace_back(line.substr(0, eq),
                        eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1));
  }
  const http::Request request = runtime::request_from_params(params);
  bool has_request_uri = false;
  for (const auto& p : params) has_request_uri = has_request_uri || p.first == "REQUEST_URI";
  if (has_request_uri) {
    fuzz::require(request.path.find('?') == std::string::npos, "REQUEST_URI's query is split off");
  }
  for (const auto& [name, value] : request.headers) {
    for (char c : name) fuzz::require(!(c >= 'A' && c <= 'Z'), "header names are lower-case");
  }

  http::Response response = http::json_error(404, request.path);
  response.set_header("Location", request.query);
  for (const auto& [name, value] : request.headers) response.headers.emplace_back(name, value);
  const std::string out = runtime::format_cgi_response(response);
  const auto end = out.find("\r\n\r\n");
  fuzz::require(end != std::string::npos, "the header block ends");
  const std::string_view head(out.data(), end + 2);
  std::size_t start = 0;
  while (start < head.size()) {
    const auto eol = head.find("\r\n", start);
    fuzz::require(eol != std::string_view::npos, "header lines end in CRLF");
    const std::string_view line = head.substr(start, eol - start);
    fuzz::require(
        line.find('\r') == std::string_view::npos && line.find('\n') == std::string_view::npos,
        "no bare CR or LF inside a header line");
    fuzz::require(line.find(": ") != std::string_view::npos, "every line is a header");
    start = eol + 2;
  }
  return 0;
}
