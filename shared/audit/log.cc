#include "shared/audit/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "shared/util/clock.h"
#include "shared/util/strings.h"

namespace credbroker::audit {

namespace {

class StderrSink final : public Sink {
 public:
  void write(std::string_view line) override {
    std::string buf(line);
    buf.push_back('\n');
    const char* p = buf.data();
    std::size_t left = buf.size();
    while (left > 0) {
      const ssize_t n = ::write(STDERR_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // nowhere to report a failing stderr
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
};

// A line must stay valid JSON whatever bytes a value holds (a user id from a token, say), so
// invalid UTF-8 is replaced rather than copied (RFC 8259 §8.1).
void put_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  if (is_valid_utf8(s)) {  // nearly always: written as it is, without a copy
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  const std::string text = to_valid_utf8(s);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void put_key(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  if (is_valid_utf8(s)) {
    w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  const std::string text = to_valid_utf8(s);
  w.Key(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

}  // namespace

Sink& stderr_sink() {
  static StderrSink sink;
  return sink;
}

Log::Log(Sink& sink, std::string component) : sink_(sink), component_(std::move(component)) {}

void Log::info(std::string_view event, std::initializer_list<Field> fields) {
  emit("info", event, fields);
}
void Log::warn(std::string_view event, std::initializer_list<Field> fields) {
  emit("warn", event, fields);
}
void Log::error(std::string_view event, std::initializer_list<Field> fields) {
  emit("error", event, fields);
}

void Log::emit(std::string_view level, std::string_view event,
               std::initializer_list<Field> fields) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("ts");
  put_string(w, format_rfc3339(system_clock().now_seconds()));
  w.Key("level");
  put_string(w, level);
  w.Key("component");
  put_string(w, component_);
  w.Key("event");
  put_string(w, event);
  for (const auto& f : fields) {
    put_key(w, f.name);
    std::visit(
        [&w](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            put_string(w, v);
          } else if constexpr (std::is_same_v<V, std::int64_t>) {
            w.Int64(v);
          } else if constexpr (std::is_same_v<V, double>) {
            // JSON has no NaN or infinity; RapidJSON would write the key and then no value.
            if (std::isfinite(v)) {
              w.Double(v);
            } else {
              w.Null();
            }
          } else {
            w.Bool(v);
          }
        },
        f.value);
  }
  w.EndObject();
  sink_.write(std::string_view(buf.GetString(), buf.GetSize()));
}

}  // namespace credbroker::audit
