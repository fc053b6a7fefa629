#include "tests/support/fakes/browser.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/http/url.h"

namespace credbroker::testing {

namespace {

constexpr int kMaxRequests = 20;
constexpr long kRequestTimeoutMs = 10'000;
constexpr std::size_t kMaxBody = 1 << 20;

// ---- URLs (libcurl's parser, so relative references resolve as RFC 3986 §5.2 says) ----------

struct UrlCleanup {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlCleanup>;

UrlPtr parse_url(const std::string& url) {
  UrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    throw std::runtime_error("browser: not an absolute URL: " + url);
  }
  return u;
}

std::string part(CURLU* u, CURLUPart which, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, which, &out, flags) != CURLUE_OK) return {};
  std::string s(out);
  curl_free(out);
  return s;
}

/** `ref` (absolute, or relative to `base`) as an absolute URL. Absolute ones come back verbatim. */
std::string resolve(const std::string& base, const std::string& ref) {
  UrlPtr u = parse_url(base);
  if (curl_url_set(u.get(), CURLUPART_URL, ref.c_str(), 0) != CURLUE_OK) {
    throw std::runtime_error("browser: cannot resolve \"" + ref + "\" against " + base);
  }
  // A reference with a scheme of its own is the URL itself: keep it byte for byte.
  const std::string scheme = part(u.get(), CURLUPART_SCHEME) + ":";
  if (ref.size() >= scheme.size() &&
      std::equal(scheme.begin(), scheme.end(), ref.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return ref;
  }
  return part(u.get(), CURLUPART_URL);
}

/** "scheme://host:port", the port made explicit. */
std::string origin(const std::string& url) {
  UrlPtr u = parse_url(url);
  return part(u.get(), CURLUPART_SCHEME) + "://" + part(u.get(), CURLUPART_HOST) + ":" +
         part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

/** For messages: the path only, since a query may carry a code or state. */
std::string path_of(const std::string& url) {
  UrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "?";
  return part(u.get(), CURLUPART_PATH);
}

// ---- HTML, just enough for simple server-rendered forms ----------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string decode_entities(std::string_view in) {
  static const std::pair<std::string_view, char> kNamed[] = {
      {"&amp;", '&'},   {"&lt;", '<'},  {"&gt;", '>'},   {"&quot;", '"'}, {"&#39;", '\''},
      {"&#x27;", '\''}, {"&#34;", '"'}, {"&#x2F;", '/'}, {"&#47;", '/'},  {"&#x3D;", '='}};
  std::string out;
  for (std::size_t i = 0; i < in.size();) {
    bool replaced = false;
    if (in[i] == '&') {
      for (const auto& [entity, c] : kNamed) {
        if (lower(in.substr(i, entity.size())) == lower(entity)) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(in[i++]);
  }
  return out;
}

/** One start tag: its name (lower-case) and attributes (names lower-case, values decoded). */
struct Tag {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::size_t end = 0;  // offset just past '>'
  std::string attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? std::string() : it->second;
  }
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/** The next start tag named `name` at or after `from`, or nullopt. */
std::optional<Tag> next_tag(std::string_view html, std::string_view name, std::size_t from) {
  const std::string haystack = lower(html);
  const std::string needle = "<" + std::string(name);
  for (std::size_t at = haystack.find(needle, from); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    std::size_t i = at + needle.size();
    if (i < html.size() && !is_space(html[i]) && html[i] != '>' && html[i] != '/') continue;
    Tag tag{.name = std::string(name), .attrs = {}, .end = 0};
    while (i < html.size()) {
      while (i < html.size() && (is_space(html[i]) || html[i] == '/')) ++i;
      if (i >= html.size()) break;
      if (html[i] == '>') {
        tag.end = i + 1;
        return tag;
      }
      const std::size_t key_start = i;
      while (i < html.size() && !is_space(html[i]) && html[i] != '=' && html[i] != '>') ++i;
      std::string key = lower(html.substr(key_start, i - key_start));
      std::string value;
      while (i < html.size() && is_space(html[i])) ++i;
      if (i < html.size() && html[i] == '=') {
        ++i;
        while (i < html.size() && is_space(html[i])) ++i;
        if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
          const char quote = html[i++];
          const std::size_t close = html.find(quote, i);
          if (close == std::string_view::npos) return std::nullopt;
          value = decode_entities(html.substr(i, close - i));
          i = close + 1;
        } else {
          const std::size_t value_start = i;
          while (i < html.size() && !is_space(html[i]) && html[i] != '>') ++i;
          value = decode_entities(html.substr(value_start, i - value_start));
        }
      }
      tag.attrs.emplace(std::move(key), std::move(value));
    }
    return std::nullopt;  // unterminated tag
  }
  return std::nullopt;
}

struct Field {
  std::string name;
  std::string type;  // lower-case; "text" when absent
  std::string value;
};

struct Form {
  std::string action;  // as written; "" means the page's own URL
  std::string method;  // lower-case; "get" when absent
  std::vector<Field> fields;
  bool has_credentials() const {
    return std::any_of(fields.begin(), fields.end(),
                       [](const Field& f) { return f.type == "password"; });
  }
};

/** The page's first form, with its named inputs (buttons without a name submit nothing). */
std::optional<Form> first_form(std::string_view html) {
  const std::optional<Tag> open = next_tag(html, "form", 0);
  if (!open) return std::nullopt;
  std::size_t close = lower(html).find("</form", open->end);
  if (close == std::string::npos) close = html.size();
  const std::string_view inner = html.substr(0, close);

  Form form{.action = open->attr("action"), .method = lower(open->attr("method")), .fields = {}};
  if (form.method.empty()) form.method = "get";
  for (std::size_t at = open->end;;) {
    std::optional<Tag> input = next_tag(inner, "input", at);
    if (!input) break;
    at = input->end;
    Field f{.name = input->attr("name"),
            .type = lower(input->attr("type")),
            .value = input->attr("value")};
    if (f.type.empty()) f.type = "text";
    if (f.name.empty() || f.type == "submit" || f.type == "button" || f.type == "image") continue;
    if ((f.type == "checkbox" || f.type == "radio") && !input->attrs.contains("checked")) continue;
    form.fields.push_back(std::move(f));
  }
  return form;
}

/** The href of the first link that refuses: its URL or text says abort, cancel or deny. */
std::optional<std::string> cancel_link(std::string_view html) {
  const std::string lowered = lower(html);
  for (std::size_t at = 0;;) {
    std::optional<Tag> a = next_tag(html, "a", at);
    if (!a) return std::nullopt;
    at = a->end;
    const std::string href = a->attr("href");
    const std::size_t text_end = lowered.find("</a", a->end);
    const std::string text = lowered.substr(
        a->end, text_end == std::string::npos ? std::string::npos : text_end - a->end);
    for (const char* word : {"abort", "cancel", "deny"}) {
      if (!href.empty() &&
          (lower(href).find(word) != std::string::npos || text.find(word) != std::string::npos)) {
        return href;
      }
    }
  }
}

/** The page's text without tags, styles or scripts, squeezed, for error messages. */
std::string visible_text(std::string_view html, std::size_t max = 600) {
  std::string out;
  const std::string lowered = lower(html);
  for (std::size_t i = 0; i < html.size() && out.size() < max;) {
    if (html[i] == '<') {
      for (const char* skip : {"<style", "<script"}) {
        if (lowered.compare(i, std::string_view(skip).size(), skip) == 0) {
          const std::size_t end = lowered.find(std::string("</") + (skip + 1), i);
          i = end == std::string::npos ? html.size() : end;
        }
      }
      const std::size_t close = html.find('>', i);
      i = close == std::string_view::npos ? html.size() : close + 1;
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      continue;
    }
    if (is_space(html[i])) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(html[i]);
    }
    ++i;
  }
  return decode_entities(out);
}

// ---- HTTP -------------------------------------------------------------------------------------

struct Response {
  int status = 0;
  std::string location;  // as sent, possibly relative
  std::string body;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > kMaxBody) return 0;  // aborts the transfer
  body->append(data, size * count);
  return size * count;
}

std::string header(CURL* h, const char* name) {
  curl_header* found = nullptr;
  if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &found) != CURLHE_OK) return {};
  return found->value;
}

}  // namespace

Browser::Browser(BrowserOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_.reset(curl_easy_init());
  if (!curl_) throw std::runtime_error("browser: curl_easy_init failed");
  CURL* h = curl_.get();
  // "" turns the cookie engine on with an empty jar, kept in memory only.
  const bool ok = curl_easy_setopt(h, CURLOPT_COOKIEFILE, "") == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, kRequestTimeoutMs) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, kRequestTimeoutMs) == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_USERAGENT, "credbroker-test-browser") == CURLE_OK &&
                  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body) == CURLE_OK;
  if (!ok) throw std::runtime_error("browser: curl_easy_setopt failed");
}

Browser::~Browser() = default;

namespace {

/** One request on `h` (its cookie jar included); a form body makes it a POST. */
Response send(CURL* h, const std::string& url, const std::optional<std::string>& form_body) {
  Response r;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&r.body));
  if (form_body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form_body->size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form_body->c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    throw std::runtime_error(std::string("browser: ") + (form_body ? "POST " : "GET ") +
                             path_of(url) + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  r.location = header(h, "Location");
  return r;
}

}  // namespace

std::string Browser::authorize(const std::string& authorize_url, const std::string& login,
                               bool consent) {
  CURL* h = curl_.get();
  const std::string server = origin(authorize_url);
  const auto leaves = [&](const std::string& url) {
    return (!options_.callback_prefix.empty() && url.starts_with(options_.callback_prefix)) ||
           origin(url) != server;
  };

  std::string url = authorize_url;
  std::optional<std::string> body;  // set: the next request is a POST of this form body
  for (int request = 0; request < kMaxRequests; ++request) {
    const Response r = send(h, url, body);
    const std::string where = (body ? "POST " : "GET ") + path_of(url);
    body.reset();

    if (r.status >= 300 && r.status < 400) {
      if (r.location.empty()) {
        throw std::runtime_error("browser: " + where + " answered " + std::to_string(r.status) +
                                 " without Location");
      }
      const std::string next = resolve(url, r.location);
      if (leaves(next)) return next;
      url = next;
      continue;
    }
    if (r.status != 200) {
      throw std::runtime_error("browser: " + where + " answered " + std::to_string(r.status) +
                               ": " + visible_text(r.body));
    }

    const std::optional<Form> form = first_form(r.body);
    if (!form) {
      throw std::runtime_error("browser: " + where + " shows no form: " + visible_text(r.body));
    }
    if (!form->has_credentials() && !consent) {
      const std::optional<std::string> cancel = cancel_link(r.body);
      if (!cancel) {
        throw std::runtime_error(
            "browser: " + where +
            " is a consent page without a cancel link: " + visible_text(r.body));
      }
      url = resolve(url, *cancel);
      if (leaves(url)) return url;
      continue;
    }

    std::vector<std::pair<std::string, std::string>> fields;
    for (const Field& f : form->fields) {
      if (f.type == "password") {
        fields.emplace_back(f.name, options_.password);
      } else if (f.type == "text" || f.type == "email") {
        fields.emplace_back(f.name, login);
      } else {
        fields.emplace_back(f.name, f.value);
      }
    }
    std::string target = resolve(url, form->action.empty() ? url : form->action);
    if (form->method == "post") {
      body = http::build_query(fields);
    } else {
      const std::string query = http::build_query(fields);
      target = target.substr(0, target.find_first_of("?#")) + (query.empty() ? "" : "?" + query);
    }
    if (leaves(target)) {
      throw std::runtime_error("browser: " + where + " posts its form off the server, to " +
                               path_of(target));
    }
    url = target;
  }
  throw std::runtime_error("browser: no redirect to the client after " +
                           std::to_string(kMaxRequests) + " requests, last at " + path_of(url));
}

}  // namespace credbroker::testing
