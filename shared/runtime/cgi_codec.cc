// The CGI parameter and response codec, shared by the FastCGI and CGI adapters.
#include <string_view>

#include "shared/runtime/runtime.h"
#include "shared/util/strings.h"

namespace credbroker::runtime {

namespace {

std::string header_name_from_param(std::string_view param) {
  std::string name = to_lower(param.substr(5));  // drop "HTTP_"
  for (auto& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

bool has_crlf(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos;
}

}  // namespace

http::Request request_from_params(const std::vector<std::pair<std::string, std::string>>& params) {
  http::Request r;
  std::string_view request_uri, script_name, path_info, query_string;
  bool have_request_uri = false;
  for (const auto& [k, v] : params) {
    if (k == "REQUEST_METHOD") {
      r.method = v;
    } else if (k == "REQUEST_URI") {
      request_uri = v;
      have_request_uri = true;
    } else if (k == "SCRIPT_NAME") {
      script_name = v;
    } else if (k == "PATH_INFO") {
      path_info = v;
    } else if (k == "QUERY_STRING") {
      query_string = v;
    } else if (k == "CONTENT_TYPE") {
      r.add_header("content-type", v);
    } else if (k == "CONTENT_LENGTH") {
      r.add_header("content-length", v);
    } else if (k == "CREDBROKER_IDENTITY_HEADER_TOO_LARGE") {
      r.identity_header_too_large = true;
    } else if (k.size() > 5 && k.compare(0, 5, "HTTP_") == 0) {
      r.headers.emplace_back(header_name_from_param(k), v);
    }
  }
  if (have_request_uri) {
    const auto q = request_uri.find('?');
    r.path = std::string(request_uri.substr(0, q));
    r.query = q == std::string_view::npos ? std::string() : std::string(request_uri.substr(q + 1));
  } else {
    r.path = std::string(script_name) + std::string(path_info);
    r.query = std::string(query_string);
  }
  return r;
}

std::string format_cgi_response(const http::Response& response) {
  const std::string_view reason = http::reason_phrase(response.status);
  std::size_t size = 64 + reason.size() + response.body.size();
  for (const auto& [k, v] : response.headers) size += k.size() + v.size() + 4;
  std::string out;
  out.reserve(size);  // one allocation: appended in place, no temporaries
  out.append("Status: ").append(std::to_string(response.status)).append(" ").append(reason);
  out.append("\r\n");
  bool has_length = false;
  for (const auto& [k, v] : response.headers) {
    // A header value with CR/LF would split the response; our values are built by us, but a bug
    // must not become response splitting.
    if (has_crlf(k) || has_crlf(v)) continue;
    if (iequals(k, "content-length")) has_length = true;
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_length) {
    out.append("Content-Length: ").append(std::to_string(response.body.size())).append("\r\n");
  }
  out.append("\r\n");
  out.append(response.body);
  return out;
}

}  // namespace credbroker::runtime
