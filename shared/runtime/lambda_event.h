#pragma once
// Lambda invocation events from HTTP fronts → http::Request, and http::Response → the answer the
// front expects. Pure: bytes in, values out; the Runtime API loop lives in lambda.cc.
//
// Events understood:
//  - API Gateway HTTP API, payload format 2.0 ("version": "2.0"): rawPath, rawQueryString,
//    headers (lower-case, duplicates comma-joined), cookies, requestContext.http.method, body,
//    isBase64Encoded. Lambda function URLs send the same shape.
//  - API Gateway REST API and Application Load Balancer, payload format 1.0: httpMethod, path,
//    headers / multiValueHeaders, queryStringParameters / multiValueQueryStringParameters, body,
//    isBase64Encoded. (An HTTP API configured for payload 1.0 sends this shape too.)
// API Gateway's JWT authorizer claims (requestContext.authorizer.jwt.claims) become
// Request::gateway_claims.
//
// Paths: the routes want the raw, still percent-encoded path, and decode it exactly once. Which
// form an event carries depends on its front, told by its version and source:
//  - HTTP API (payload 2.0 "rawPath" without a function URL domain, and payload 1.0 with
//    "version": "1.0"): percent-DECODED ("/credentials/Docs Wiki", "%41" arrives as "A");
//  - function URLs (payload 2.0, requestContext.domainName "<id>.lambda-url.<region>.on.aws"),
//    REST APIs (payload 1.0 without "version") and ALB (requestContext.elb): still encoded.
// A decoded path is encoded again, '%' included, so a literal "%41" in a name stays "%41" and is
// not decoded a second time by the route. An encoded path is kept, only characters that can never
// stand literally in it (space, controls, non-ASCII, '"', '#', '<', '>', '?', '\', '^', '`', '{',
// '|', '}') being encoded. What the front's decoding lost cannot come back: "%2F" arrives as '/'.

#include <cstddef>
#include <string>
#include <string_view>

#include "shared/http/request.h"
#include "shared/util/result.h"

namespace credbroker::runtime {

/** Which front produced the event: decides the shape of the answer. */
enum class EventSource {
  kHttpApiV2,  // payload format 2.0 (HTTP API, function URL)
  kRestApiV1,  // payload format 1.0 from API Gateway (REST API, or an HTTP API set to 1.0)
  kAlb,        // payload format 1.0 from an Application Load Balancer (requestContext.elb)
};

/** In which form an event carries its path (see the top of this file). */
enum class PathForm {
  kEncoded,  // as the client sent it (REST API, ALB, function URL)
  kDecoded,  // percent-decoded once by the front (HTTP API, either payload format)
};

/** Why an event was refused. Fixed texts, safe to log and to post to the Runtime API. */
enum class EventError {
  kTooLarge,       // over kMaxEventBytes
  kNotJson,        // not one JSON object (syntax, invalid UTF-8, a NUL byte)
  kUnknownFormat,  // neither payload format 2.0 nor 1.0
  kBadField,       // a field has the wrong type, a NUL / invalid method; a duplicate member
  kBadBody,        // isBase64Encoded, but the body is not base64
};

/** English, posted to the Runtime API ("invocation event too large"). */
std::string_view describe(EventError e);
/** The log label: "too_large", "not_json", "unknown_format", "bad_field", "bad_body". */
std::string_view label(EventError e);

/** Lambda's limit for a synchronous invocation payload (6 MB); larger events are refused. */
inline constexpr std::size_t kMaxEventBytes = 6 * 1024 * 1024;

struct LambdaEvent {
  EventSource source = EventSource::kHttpApiV2;
  bool multi_value_headers = false;  // a 1.0 event that used multiValueHeaders: answer likewise
  PathForm path_form = PathForm::kDecoded;  // how the front handed the path over
  http::Request request;
};

/** Parses one invocation event (json::parse_strict: iterative, so nesting cannot exhaust the
 *  stack; an object naming a member twice, anywhere, is refused as kBadField). */
Result<LambdaEvent, EventError> parse_event(std::string_view json);

/**
 * The JSON answer for `event`'s front: {"statusCode", "headers" (or "multiValueHeaders"), "body",
 * "isBase64Encoded"}, plus "cookies" for 2.0 when there are Set-Cookie headers and
 * "statusDescription" for ALB. A body that is not valid UTF-8 is sent base64-encoded.
 */
std::string format_response(const http::Response& response, const LambdaEvent& event);

/** {"errorMessage": message, "errorType": type} for the Runtime API's error endpoints. */
std::string format_error(std::string_view type, std::string_view message);

/** `path` in its encoded form: kEncoded keeps it, encoding only the characters named above;
 *  kDecoded encodes '%' too, so the route's one decoding gives back what the front decoded. */
std::string encode_path(std::string_view path, PathForm form);

}  // namespace credbroker::runtime
