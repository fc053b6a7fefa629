#define BOOST_TEST_MODULE audit_log
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "shared/audit/log.h"
#include "shared/util/clock.h"

namespace credbroker::audit {
namespace {

/** Keeps every line it is given, one entry per write(). */
class CapturingSink final : public Sink {
 public:
  void write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

// Parses `line` strictly: one JSON object, valid UTF-8, nothing before or after it.
rapidjson::Document parse_line(const std::string& line) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
  BOOST_REQUIRE_MESSAGE(!d.HasParseError(), rapidjson::GetParseError_En(d.GetParseError())
                                                << " at " << d.GetErrorOffset() << ": " << line);
  BOOST_REQUIRE(d.IsObject());
  return d;
}

std::string str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_event_is_one_json_object_on_one_line) {
  CapturingSink sink;
  Log log(sink, "connect");
  log.info("flow_started", {{"user", "alice"},
                            {"server", "github"},
                            {"status", 302},
                            {"elapsed_s", 0.25},
                            {"reused", false}});
  BOOST_REQUIRE(sink.lines.size() == 1u);
  const std::string& line = sink.lines.front();
  BOOST_TEST(line.find('\n') == std::string::npos);

  const auto d = parse_line(line);
  BOOST_TEST(d.MemberCount() == 9u);
  BOOST_TEST(str(d["level"]) == "info");
  BOOST_TEST(str(d["component"]) == "connect");
  BOOST_TEST(str(d["event"]) == "flow_started");
  BOOST_TEST(str(d["user"]) == "alice");
  BOOST_TEST(str(d["server"]) == "github");
  BOOST_TEST(d["status"].IsInt64());
  BOOST_TEST(d["status"].GetInt64() == 302);
  BOOST_TEST(d["elapsed_s"].GetDouble() == 0.25);
  BOOST_TEST(d["reused"].IsFalse());
}

BOOST_AUTO_TEST_CASE(fields_follow_ts_level_component_event_in_the_order_given) {
  CapturingSink sink;
  Log log(sink);
  log.info("e", {{"b", "1"}, {"a", "2"}});
  const auto d = parse_line(sink.lines.at(0));
  std::vector<std::string> names;
  for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) names.push_back(str(it->name));
  const std::vector<std::string> expected = {"ts", "level", "component", "event", "b", "a"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(default_component_is_credbroker) {
  CapturingSink sink;
  Log(sink).info("started");
  BOOST_TEST(str(parse_line(sink.lines.at(0))["component"]) == "credbroker");
}

BOOST_AUTO_TEST_CASE(warn_and_error_set_their_level) {
  CapturingSink sink;
  Log log(sink);
  log.warn("jwks_stale");
  log.error("store_unavailable", {{"reason", "timeout"}});
  BOOST_REQUIRE(sink.lines.size() == 2u);
  BOOST_TEST(str(parse_line(sink.lines[0])["level"]) == "warn");
  BOOST_TEST(str(parse_line(sink.lines[1])["level"]) == "error");
  BOOST_TEST(str(parse_line(sink.lines[1])["reason"]) == "timeout");
}

BOOST_AUTO_TEST_CASE(ts_is_now_in_rfc3339_utc) {
  CapturingSink sink;
  const auto before = system_clock().now_seconds();
  Log(sink).info("e");
  const auto after = system_clock().now_seconds();
  const std::string ts = str(parse_line(sink.lines.at(0))["ts"]);
  BOOST_TEST((ts == format_rfc3339(before) || ts == format_rfc3339(after)), ts);
}

BOOST_AUTO_TEST_CASE(quotes_newlines_and_control_characters_in_values_are_escaped) {
  CapturingSink sink;
  const std::string hostile = "x\"}\n{\"level\":\"info\"\r\t\x01\\";
  Log(sink).info("e", {{"user", hostile}});
  BOOST_REQUIRE(sink.lines.size() == 1u);
  BOOST_TEST(sink.lines[0].find('\n') == std::string::npos);
  BOOST_TEST(sink.lines[0].find('\r') == std::string::npos);
  const auto d = parse_line(sink.lines[0]);
  BOOST_TEST(str(d["user"]) == hostile);
  BOOST_TEST(str(d["level"]) == "info");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_value_still_gives_a_valid_json_line) {
  CapturingSink sink;
  Log(sink).info("e", {{"user", "al\xff\xc3ice"}, {"n\xfe", "v"}});
  const auto d = parse_line(sink.lines.at(0));
  BOOST_TEST(str(d["user"]) == "al\xef\xbf\xbd\xef\xbf\xbdice");
  BOOST_TEST(d.HasMember("n\xef\xbf\xbd"));
}

BOOST_AUTO_TEST_CASE(non_finite_numbers_are_written_as_null) {
  CapturingSink sink;
  Log(sink).info("e", {{"nan", std::numeric_limits<double>::quiet_NaN()},
                       {"inf", std::numeric_limits<double>::infinity()},
                       {"after", "kept"}});
  const auto d = parse_line(sink.lines.at(0));
  BOOST_TEST(d["nan"].IsNull());
  BOOST_TEST(d["inf"].IsNull());
  BOOST_TEST(str(d["after"]) == "kept");
}

BOOST_AUTO_TEST_CASE(extreme_integers_are_exact) {
  CapturingSink sink;
  Log(sink).info("e", {{"max", std::numeric_limits<std::int64_t>::max()},
                       {"min", std::numeric_limits<std::int64_t>::min()}});
  const auto d = parse_line(sink.lines.at(0));
  BOOST_TEST(d["max"].GetInt64() == std::numeric_limits<std::int64_t>::max());
  BOOST_TEST(d["min"].GetInt64() == std::numeric_limits<std::int64_t>::min());
}

BOOST_AUTO_TEST_CASE(stderr_sink_is_one_shared_instance) {
  BOOST_TEST(&stderr_sink() == &stderr_sink());
}

}  // namespace credbroker::audit
