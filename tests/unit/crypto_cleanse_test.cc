// Clearing secrets after use: the string cleanse, the one function per secret-carrying struct
// (which its destructor calls), and scrub_env. Each check reads the bytes that held the secret
// through a pointer into a buffer the object still owns (cleansing empties a string but keeps its
// allocation), so nothing here reads freed memory.
#define BOOST_TEST_MODULE crypto_cleanse
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shared/crypto/cleanse.h"
#include "shared/http/client.h"
#include "shared/oauth/token_client.h"
#include "shared/store/credential_store.h"

using namespace credbroker;

namespace {

/** Where a string's bytes are, to look at them once the string is cleansed. */
struct Watch {
  explicit Watch(const std::string& s) : at(s.data()), size(s.size()) {}
  bool zero() const {
    for (std::size_t i = 0; i < size; ++i) {
      if (at[i] != '\0') return false;
    }
    return true;
  }
  const char* at;
  std::size_t size;
};

// Longer than any small-string buffer, so each value lives in a heap allocation of its own.
std::string secret(char c) {
  return std::string(64, c);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_cleansed_string_is_empty_and_its_bytes_are_zero) {
  std::string s = secret('s');
  const Watch w(s);
  crypto::cleanse(s);
  BOOST_TEST(s.empty());
  BOOST_TEST(s.data() == w.at, "the buffer moved");
  BOOST_TEST(w.zero());
}

BOOST_AUTO_TEST_CASE(cleansing_a_credential_zeroes_both_tokens_and_keeps_the_rest) {
  store::Credential c;
  c.access_token = secret('a');
  c.refresh_token = secret('r');
  c.expires_at = 42;
  c.obtained_via = "connect_flow";
  const Watch access(c.access_token), refresh(c.refresh_token);
  store::cleanse(c);
  BOOST_TEST(c.access_token.empty());
  BOOST_TEST(c.refresh_token.empty());
  BOOST_TEST(access.zero());
  BOOST_TEST(refresh.zero());
  BOOST_TEST(c.expires_at == 42);
  BOOST_TEST(c.obtained_via == "connect_flow");
}

BOOST_AUTO_TEST_CASE(cleansing_a_token_response_or_a_grant_zeroes_every_token) {
  oauth::TokenResponse r;
  r.access_token = secret('a');
  r.refresh_token = secret('r');
  r.token_type = "Bearer";
  const Watch access(r.access_token), refresh(r.refresh_token);
  oauth::cleanse(r);
  BOOST_TEST(r.access_token.empty());
  BOOST_TEST(r.refresh_token.empty());
  BOOST_TEST(access.zero());
  BOOST_TEST(refresh.zero());

  oauth::Grant g{oauth::Grant::Kind::kRefresh, secret('g')};
  const Watch token(g.token);
  oauth::cleanse(g);
  BOOST_TEST(g.token.empty());
  BOOST_TEST(token.zero());
}

BOOST_AUTO_TEST_CASE(cleansing_an_outbound_request_or_response_zeroes_the_body_and_header_values) {
  http::OutboundRequest q;
  q.method = "POST";
  q.headers = {{"Authorization", "Basic " + secret('b')}};
  q.body = "client_secret=" + secret('c');
  const Watch body(q.body), header(q.headers[0].second);
  http::cleanse(q);
  BOOST_TEST(q.body.empty());
  BOOST_TEST(q.headers[0].second.empty());
  BOOST_TEST(body.zero());
  BOOST_TEST(header.zero());

  http::OutboundResponse a;
  a.body = R"({"access_token":")" + secret('t') + R"("})";
  const Watch answer(a.body);
  http::cleanse(a);
  BOOST_TEST(a.body.empty());
  BOOST_TEST(answer.zero());
}

BOOST_AUTO_TEST_CASE(scrub_env_removes_the_variable_and_zeroes_its_value_in_place) {
  // putenv() puts this very buffer into the environment, as exec puts the start-up block.
  static char entry[] = "CREDBROKER_CLEANSE_TEST=value-that-must-go";
  BOOST_TEST_REQUIRE(::putenv(entry) == 0);
  BOOST_TEST_REQUIRE(std::getenv("CREDBROKER_CLEANSE_TEST") != nullptr);
  crypto::scrub_env("CREDBROKER_CLEANSE_TEST");
  BOOST_TEST(std::getenv("CREDBROKER_CLEANSE_TEST") == nullptr);
  const char* value = entry + std::strlen("CREDBROKER_CLEANSE_TEST=");
  for (std::size_t i = 0; i < std::strlen("value-that-must-go"); ++i) {
    BOOST_TEST(value[i] == '\0');
  }
}
