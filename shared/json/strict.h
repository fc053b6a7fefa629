#pragma once
// Strict JSON, the one parser of JSON from outside (JWS headers and claims, JWKS, token endpoint
// answers, resolve bodies, Lambda invocation events): valid UTF-8, nesting depth capped, no NUL
// byte, nothing after the value, and no duplicate member names. RapidJSON keeps
// duplicates and its FindMember returns the first, while other parsers take the last: a token
// with two "sub" members would mean different users to different readers (RFC 7515 §5.2 lets a
// JWS parser reject duplicates; RFC 8259 §4 calls their meaning unpredictable).

#include <rapidjson/document.h>

#include <string_view>

#include "shared/util/result.h"

namespace credbroker::json {

enum class JsonError {
  kSyntax,        // not one JSON value (or a NUL byte)
  kEncoding,      // a string that is not valid UTF-8
  kTooDeep,       // objects/arrays nested deeper than allowed
  kDuplicateKey,  // one object names the same member twice
};

std::string_view describe(JsonError e);

/** Parses `text` into `out` under the rules above. */
Result<Unit, JsonError> parse_strict(std::string_view text, int max_depth,
                                     rapidjson::Document& out);

/** The member `name` of object `obj` (exact bytes, embedded NULs included), or nullptr. */
const rapidjson::Value* find_member(const rapidjson::Value& obj, std::string_view name);

/** A string value's bytes. Precondition: v.IsString(). */
inline std::string_view string_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace credbroker::json
