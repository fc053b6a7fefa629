// POST /api/v1/internal/credentials/resolve: a gateway asks for the credential of the user whose
// token it holds. Two identities: the caller (a service, its own JWT in Authorization, verified
// against the "resolve" block and its allowed_subjects) and the user (subject_token in the body,
// verified against "identity"). There is no free-form user field: a gateway can only resolve for
// a user whose valid token it presents.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "shared/broker/lifecycle.h"
#include "shared/json/strict.h"
#include "shared/routes/common.h"
#include "shared/routes/routes.h"
#include "shared/util/strings.h"

namespace credbroker::routes {

namespace {

constexpr std::size_t kMaxBodyBytes = 32 * 1024;
// The body is read only once the caller is known; a caller that does not deliver it in this time
// is answered 408, so no process waits on a slow sender.
constexpr std::chrono::milliseconds kBodyDeadline{2000};
constexpr int kMaxJsonDepth = 4;
constexpr std::string_view kCallerRefused = "Caller is not allowed to resolve credentials";

struct ResolveBody {
  std::string server;
  std::string subject_token;
};

/** The caller's service identity: the allowed subject, or the 401/403/503 to send. */
Result<std::string, http::Response> authenticate_caller(const http::Request& request,
                                                        Context& context, RequestNote& note) {
  auto verified = context.callers->authenticate(request);
  if (!verified) {
    const identity::AuthError& e = verified.error();
    note.reason = "caller_" + std::string(identity::label(e));
    if (e.kind == identity::AuthErrorKind::kKeysUnavailable) {
      return Err{http::json_error(503, "Caller verification is unavailable")};
    }
    // A good signature for another issuer or audience: an end-user token, say. Known, not
    // allowed here.
    if (e.kind == identity::AuthErrorKind::kInvalid &&
        (e.jwt == identity::JwtError::kWrongIssuer ||
         e.jwt == identity::JwtError::kWrongAudience)) {
      return Err{http::json_error(403, kCallerRefused)};
    }
    auto r = http::json_error(401, "Authentication required");
    r.set_header("WWW-Authenticate", e.kind == identity::AuthErrorKind::kMissing
                                         ? "Bearer"
                                         : "Bearer error=\"invalid_token\"");
    return Err{std::move(r)};
  }
  note.caller = verified->user;
  const auto& allowed = context.config.resolve->allowed_subjects;
  if (std::find(allowed.begin(), allowed.end(), verified->user) == allowed.end()) {
    note.reason = "caller_not_allowed";
    return Err{http::json_error(403, kCallerRefused)};
  }
  return verified->user;
}

bool is_json_content_type(std::optional<std::string_view> value) {
  if (!value) return false;
  const std::string_view type = trim(value->substr(0, value->find(';')));
  return iequals(type, "application/json");
}

http::Response bad_body(RequestNote& note, std::string_view why) {
  note.reason = "bad_body";
  return http::json_error(400, "Invalid request body: " + std::string(why));
}

/** Exactly {"server": string, "subject_token": string}: strict JSON, nothing else. */
Result<ResolveBody, http::Response> parse_body(std::string_view text, RequestNote& note) {
  rapidjson::Document doc;
  if (auto parsed = json::parse_strict(text, kMaxJsonDepth, doc); !parsed) {
    return Err{bad_body(note, parsed.error() == json::JsonError::kDuplicateKey
                                  ? "a member occurs twice"
                                  : "not a JSON object")};
  }
  if (!doc.IsObject()) return Err{bad_body(note, "not a JSON object")};
  ResolveBody out;
  for (const auto& m : doc.GetObject()) {
    const std::string_view name = json::string_of(m.name);
    std::string* field = name == "server"          ? &out.server
                         : name == "subject_token" ? &out.subject_token
                                                   : nullptr;
    if (field == nullptr) return Err{bad_body(note, "unknown member")};
    if (!m.value.IsString()) {
      return Err{bad_body(note, with_quoted("", name) + " must be a string")};
    }
    field->assign(json::string_of(m.value));
  }
  if (out.server.empty()) return Err{bad_body(note, "\"server\" is required")};
  if (out.subject_token.empty()) return Err{bad_body(note, "\"subject_token\" is required")};
  return out;
}

http::Response body_failure(http::BodyError e, RequestNote& note) {
  switch (e) {
    case http::BodyError::kTooLarge:
      note.reason = "body_too_large";
      return http::json_error(413, "Request body too large");
    case http::BodyError::kTimeout:
      note.reason = "body_timeout";
      return http::json_error(408, "Request body not received in time");
    case http::BodyError::kBroken:
      break;
  }
  note.reason = "body_incomplete";
  return http::json_error(400, "Invalid request body: incomplete");
}

/** A resolve failure as this route answers it: the gateway is told to send the user to connect
 *  (409 with connect_path); every other failure as routes::resolver_failure maps it. */
http::Response resolve_failure(const broker::ResolveFailure& f, const config::Server& server,
                               RequestNote& note) {
  if (f.kind != broker::ResolveError::kReconnectRequired) return resolver_failure(f, note);
  note.reason = "reconnect_required";
  return http::json_response(
      409, "{\"error\":\"reconnect_required\",\"message\":" +
               http::json_quote(with_quoted("Reconnect required for ", server.name)) +
               ",\"status_code\":409,\"connect_path\":" +
               http::json_quote(broker::connect_path(server)) + "}");
}

std::string answer(const config::Server& server, const broker::Resolved& resolved) {
  using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  const auto put = [&w](std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  const config::AuthBroker& broker = *server.auth_broker;
  w.StartObject();
  put("server", server.name);
  put("token_type", resolved.token_type);
  put("access_token", resolved.access_token);
  if (resolved.expires_at > 0) put("expires_at", format_rfc3339(resolved.expires_at));
  w.Key("header");
  w.StartObject();
  put("name", broker.header);
  put("value", broker::header_value(broker, resolved.access_token));
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

http::Response resolve(const http::Request& request, Context& context, RequestNote& note) {
  // Without a "resolve" block the route does not exist.
  if (request.path != kResolvePath || context.callers == nullptr) return not_found();
  if (request.method != "POST") return method_not_allowed("POST");
  if (auto caller = authenticate_caller(request, context, note); !caller) return caller.error();
  if (!is_json_content_type(request.header("content-type"))) {
    note.reason = "unsupported_media_type";
    return http::json_error(415, "Content-Type must be application/json");
  }
  auto text = request.read_body(kMaxBodyBytes, kBodyDeadline);
  if (!text) return body_failure(text.error(), note);
  auto body = parse_body(*text, note);
  if (!body) return body.error();

  auto subject = context.authenticator.verify(body->subject_token);
  if (!subject) {
    note.reason = "subject_" + std::string(identity::label(subject.error()));
    if (subject.error().kind == identity::AuthErrorKind::kKeysUnavailable) {
      return http::json_error(503, "Identity verification is unavailable");
    }
    return http::json_response(
        403,
        R"({"error":"invalid_subject_token","message":"Subject token refused","status_code":403})");
  }
  note.user = subject->user;

  auto found = find_server(trim(body->server), context.config, note);
  if (!found) return found.error();
  const config::Server* server = *found;
  auto resolved = context.resolver.resolve(
      {.user = subject->user, .token = body->subject_token, .expires_at = subject->expires_at},
      *server);
  http::Response response = resolved ? http::json_response(200, answer(*server, *resolved))
                                     : resolve_failure(resolved.error(), *server, note);
  // One event per use: who asked for whose credential, and what they got (resolve_failure's
  // reason when refused).
  context.audit.record(
      {.kind = audit::EventKind::kResolveServed,
       .user = subject->user,
       .server = server->name,
       .outcome = resolved ? std::string_view("ok") : std::string_view(note.reason),
       .caller = note.caller});
  return response;
}

}  // namespace credbroker::routes
