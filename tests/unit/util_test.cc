#define BOOST_TEST_MODULE util
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "shared/util/clock.h"
#include "shared/util/strings.h"

namespace credbroker {
namespace {

std::string joined(const std::vector<std::string_view>& parts) {
  std::string out;
  for (auto p : parts) out += "[" + std::string(p) + "]";
  return out;
}

const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD

}  // namespace

// ---- strings ----

BOOST_AUTO_TEST_CASE(to_lower_and_iequals_fold_ascii_letters_only) {
  BOOST_TEST(to_lower("Content-TYPE 123") == "content-type 123");
  BOOST_TEST(to_lower("\xc3\x89") == "\xc3\x89");  // non-ASCII bytes are left alone
  BOOST_TEST(iequals("X-Forwarded-User", "x-forwarded-user"));
  BOOST_TEST(!iequals("abc", "abd"));
  BOOST_TEST(!iequals("abc", "abcd"));
  BOOST_TEST(iequals("", ""));
}

BOOST_AUTO_TEST_CASE(iless_orders_as_the_lower_cased_bytes) {
  for (const std::string a : {"", "a", "B", "ab", "Ab", "b", "_x", "Z", "z", "\xc3\x89", "a\xff"}) {
    for (const std::string b : {"", "A", "b", "aB", "AB", "[", "_X", "z", "\xc3\xa9", "A\x01"}) {
      BOOST_TEST(iless(a, b) == (to_lower(a) < to_lower(b)), a << " < " << b);
    }
  }
  BOOST_TEST(!iless("Abc", "aBC"));
  BOOST_TEST(iless("abc", "ABCD"));
  BOOST_TEST(iless("_", "Z"));  // lowered: '_' (0x5f) < 'z' (0x7a); raw 'Z' (0x5a) would sort first
}

BOOST_AUTO_TEST_CASE(trim_strips_space_tab_cr_lf_from_both_ends_only) {
  BOOST_TEST(trim(" \t\r\n a b \n\r\t ") == "a b");
  BOOST_TEST(trim("   ") == "");
  BOOST_TEST(trim("") == "");
  BOOST_TEST(trim("\va\f") == "\va\f");  // other control characters are content
}

BOOST_AUTO_TEST_CASE(split_keeps_empty_fields) {
  BOOST_TEST(joined(split("a,b,c", ',')) == "[a][b][c]");
  BOOST_TEST(joined(split(",a,,b,", ',')) == "[][a][][b][]");
  BOOST_TEST(joined(split("", ',')) == "[]");
  BOOST_TEST(joined(split("abc", ',')) == "[abc]");
}

BOOST_AUTO_TEST_CASE(is_alnum_or_takes_ascii_letters_digits_and_the_extra_bytes_only) {
  BOOST_TEST(is_alnum_or("aZ09", ""));
  BOOST_TEST(is_alnum_or("a-b_c", "-_"));
  BOOST_TEST(!is_alnum_or("a-b_c", "-"));
  BOOST_TEST(!is_alnum_or("", "-"));
  BOOST_TEST(!is_alnum_or("caf\xc3\xa9", ""));
  BOOST_TEST(!is_alnum_or(std::string_view("a\0b", 3), ""));
  BOOST_TEST(!is_alnum_or("a b", "-"));
}

BOOST_AUTO_TEST_CASE(constant_time_equals_compares_contents_and_lengths) {
  BOOST_TEST(constant_time_equals("secret", "secret"));
  BOOST_TEST(!constant_time_equals("secret", "secreT"));
  BOOST_TEST(!constant_time_equals("secret", "secret2"));
  BOOST_TEST(constant_time_equals("", ""));
  BOOST_TEST(!constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

BOOST_AUTO_TEST_CASE(to_hex_is_lower_case_two_digits_per_byte) {
  BOOST_TEST(to_hex(std::string("\x00\x0f\xa0\xff", 4)) == "000fa0ff");
  BOOST_TEST(to_hex("") == "");
}

BOOST_AUTO_TEST_CASE(to_valid_utf8_passes_well_formed_text_through) {
  const std::string text = std::string("ascii \x7f \xc2\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 ") +
                           "\xef\xbf\xbf \xf4\x8f\xbf\xbf" + std::string("\0", 1);
  BOOST_TEST(to_valid_utf8(text) == text);
  BOOST_TEST(to_valid_utf8("") == "");
}

BOOST_AUTO_TEST_CASE(to_valid_utf8_replaces_each_bad_byte_with_u_fffd) {
  const std::string r = kReplacement;
  BOOST_TEST(to_valid_utf8("a\x80z") == "a" + r + "z");            // lone continuation
  BOOST_TEST(to_valid_utf8("a\xffz") == "a" + r + "z");            // never valid
  BOOST_TEST(to_valid_utf8("\xc0\xaf") == r + r);                  // overlong '/'
  BOOST_TEST(to_valid_utf8("\xe0\x80\xaf") == r + r + r);          // overlong '/'
  BOOST_TEST(to_valid_utf8("\xed\xa0\x80") == r + r + r);          // surrogate U+D800
  BOOST_TEST(to_valid_utf8("\xf4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
  BOOST_TEST(to_valid_utf8("\xe2\x82") == r + r);                  // cut short at the end
  BOOST_TEST(to_valid_utf8("\xe2\x82z\xe2\x82\xac") == r + r + "z\xe2\x82\xac");  // then resyncs
}

BOOST_AUTO_TEST_CASE(is_valid_utf8_says_whether_to_valid_utf8_would_change_anything) {
  for (const std::string& s :
       {std::string(), std::string("ascii \x7f \xc2\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
        std::string("\0", 1), std::string("a\x80z"), std::string("a\xffz"), std::string("\xc0\xaf"),
        std::string("\xe0\x80\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
        std::string("\xf4\x8f\xbf\xbf"), std::string("ok\xe2\x82"), std::string("\xe2\x82z")}) {
    BOOST_TEST(is_valid_utf8(s) == (to_valid_utf8(s) == s), s);
  }
  BOOST_TEST(is_valid_utf8("\xef\xbf\xbd"));
  BOOST_TEST(!is_valid_utf8("user\xff"));
}

// ---- clock ----

BOOST_AUTO_TEST_CASE(format_rfc3339_writes_utc_with_seconds) {
  BOOST_TEST(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  BOOST_TEST(format_rfc3339(1796036907) == "2026-11-30T11:08:27Z");
  BOOST_TEST(format_rfc3339(1709251199) == "2024-02-29T23:59:59Z");
  BOOST_TEST(format_rfc3339(-1) == "1969-12-31T23:59:59Z");
}

BOOST_AUTO_TEST_CASE(format_rfc3339_pads_years_to_four_digits) {
  BOOST_TEST(format_rfc3339(-30627504000) == "0999-06-15T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(format_rfc3339_clamps_times_outside_years_0000_to_9999) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  BOOST_TEST(format_rfc3339(253402300799) == "9999-12-31T23:59:59Z");
  BOOST_TEST(format_rfc3339(253402300800) == "9999-12-31T23:59:59Z");
  BOOST_TEST(format_rfc3339(kMax) == "9999-12-31T23:59:59Z");
  BOOST_TEST(format_rfc3339(-62167219200) == "0000-01-01T00:00:00Z");
  BOOST_TEST(format_rfc3339(-62167219201) == "0000-01-01T00:00:00Z");
  BOOST_TEST(format_rfc3339(kMin) == "0000-01-01T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(fixed_clock_reads_what_the_test_set) {
  FixedClock clock(1000);
  BOOST_TEST(clock.now_seconds() == 1000);
  clock.advance(61);
  BOOST_TEST(clock.now_seconds() == 1061);
  clock.set(5);
  BOOST_TEST(clock.now_seconds() == 5);
  BOOST_TEST(clock.now().time_since_epoch().count() ==
             std::chrono::system_clock::duration(std::chrono::seconds(5)).count());
}

BOOST_AUTO_TEST_CASE(system_clock_follows_the_wall_clock) {
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto now = system_clock().now_seconds();
  BOOST_TEST(now >= before);
  BOOST_TEST(now <= before + 5);
}

}  // namespace credbroker
