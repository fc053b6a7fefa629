// json::parse_strict, the one parser of JSON from outside: duplicates, depth, NUL, encoding.
#define BOOST_TEST_MODULE json_strict
#include <boost/test/unit_test.hpp>
#include <string>

#include "shared/json/strict.h"

using namespace credbroker;
using json::JsonError;

namespace {

Result<Unit, JsonError> parse(std::string_view text, int depth = 8) {
  rapidjson::Document doc;
  return json::parse_strict(text, depth, doc);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_value_parses_and_members_are_found_by_exact_bytes) {
  rapidjson::Document doc;
  const std::string text = R"({"a":"x","a\u0000b":"y","n":[1,{"c":true}]})";
  BOOST_REQUIRE(json::parse_strict(text, 8, doc).ok());
  BOOST_TEST(json::string_of(*json::find_member(doc, "a")) == "x");
  BOOST_TEST(json::string_of(*json::find_member(doc, std::string_view("a\0b", 3))) == "y");
  BOOST_TEST(json::find_member(doc, "b") == nullptr);
  BOOST_TEST(json::find_member(doc["n"], "c") == nullptr);  // not an object
}

BOOST_AUTO_TEST_CASE(each_refusal_has_its_reason) {
  BOOST_TEST((parse(R"({"a":1,"a":2})").error() == JsonError::kDuplicateKey));
  BOOST_TEST((parse(R"([{"b":{"a":1,"a":2}}])").error() == JsonError::kDuplicateKey));
  BOOST_TEST(parse(R"([{"a":1},{"a":2}])").ok());  // one name in two objects
  BOOST_TEST((parse("[[[1]]]", 2).error() == JsonError::kTooDeep));
  BOOST_TEST(parse("[[1]]", 2).ok());
  BOOST_TEST((parse(std::string("{}\0x", 4)).error() == JsonError::kSyntax));
  BOOST_TEST((parse("{} x").error() == JsonError::kSyntax));
  BOOST_TEST((parse("").error() == JsonError::kSyntax));
  BOOST_TEST((parse("\"\xff\"").error() == JsonError::kEncoding));
  for (auto e :
       {JsonError::kSyntax, JsonError::kEncoding, JsonError::kTooDeep, JsonError::kDuplicateKey}) {
    BOOST_TEST(!describe(e).empty());
  }
}
