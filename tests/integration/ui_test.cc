// The web page (ui/) behind each front server, as its config in infra/ serves it: real front,
// real files. Every file of ui/ comes with its own content type (UTF-8 for text), nosniff and the
// strict Content-Security-Policy (no inline script or style, only this origin); "/ui/" is the
// page itself. Runs once per front but Lambda (which serves no files).
#define BOOST_TEST_MODULE integration_ui
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/support/fronts/stack.h"
#include "tests/support/servers/redis_server.h"
#include "tests/support/suite.h"
#include "tests/support/tempdir.h"

using namespace credbroker;
using namespace credbroker::testing;

namespace {

// The one policy every front sends with the page (docs/security.md, "Web page").
constexpr std::string_view kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

struct Suite : SuiteInstance<Suite> {
  Suite() : stack(start_front(issuer, {.redis_url = redis.url()})) {}
  RedisServer redis;
  TestIssuer issuer;
  std::unique_ptr<Front> stack;
};
BOOST_TEST_GLOBAL_FIXTURE(Suite);

Front& F() {
  return *Suite::get().stack;
}

std::string source(std::string_view name) {
  return read_file(std::string(CREDBROKER_SOURCE_DIR) + "/ui/" + std::string(name));
}

void check_served(std::string_view path, std::string_view file, std::string_view type) {
  BOOST_TEST_CONTEXT(F().kind() << " " << path) {
    const Answer a = F().request("GET", path);
    BOOST_TEST(a.status == 200, a.status << " " << a.body);
    BOOST_TEST(a.header("content-type").value_or("") == std::string(type));
    BOOST_TEST(a.header("content-security-policy").value_or("") == std::string(kPolicy));
    BOOST_TEST(a.header("x-content-type-options").value_or("") == "nosniff");
    BOOST_TEST(a.body == source(file));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_page_is_html_with_a_strict_policy) {
  check_served("/ui/", "index.html", "text/html; charset=utf-8");
  check_served("/ui/index.html", "index.html", "text/html; charset=utf-8");
}

BOOST_AUTO_TEST_CASE(script_style_and_icon_have_their_types) {
  check_served("/ui/app.js", "app.js", "text/javascript; charset=utf-8");
  check_served("/ui/style.css", "style.css", "text/css; charset=utf-8");
  check_served("/ui/favicon.svg", "favicon.svg", "image/svg+xml");
}

BOOST_AUTO_TEST_CASE(the_page_needs_nothing_the_policy_forbids) {
  // The policy allows no inline script, style or event handler: the page must not hold any.
  const std::string html = source("index.html");
  BOOST_TEST(html.find("<script>") == std::string::npos);
  BOOST_TEST(html.find("<style") == std::string::npos);
  BOOST_TEST(html.find(" style=") == std::string::npos);
  BOOST_TEST(html.find(" onclick=") == std::string::npos);
  BOOST_TEST(html.find("<script src=\"app.js\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_file_is_a_404_and_nothing_else_is_served) {
  BOOST_TEST(F().request("GET", "/ui/nope.html").status == 404);
  // Not the directory above ui/, not the run directory.
  BOOST_TEST(F().request("GET", "/ui/../config.json").status != 200);
  BOOST_TEST(F().request("GET", "/config.json").status != 200);
}
