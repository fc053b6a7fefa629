#pragma once
// Structured, secret-free log lines: one JSON object per line on stderr.
// Callers pass fixed event names and non-secret values only (user ids, server names, statuses,
// reason labels). Nothing an authorization server sent is logged verbatim.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace credbroker::audit {

using Value = std::variant<std::string_view, std::int64_t, double, bool>;
struct Field {
  std::string_view name;
  Value value;
};

/** Where lines go. */
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(std::string_view line) = 0;
};

/** stderr, one write(2) per line so lines from several processes do not interleave. */
Sink& stderr_sink();

class Log {
 public:
  explicit Log(Sink& sink, std::string component = "credbroker");
  /**
   * {"ts":"…","level":"info","component":"…","event":"…",<fields>}. Always one valid JSON object:
   * invalid UTF-8 becomes U+FFFD, a non-finite double becomes null.
   */
  void info(std::string_view event, std::initializer_list<Field> fields = {});
  void warn(std::string_view event, std::initializer_list<Field> fields = {});
  void error(std::string_view event, std::initializer_list<Field> fields = {});

 private:
  void emit(std::string_view level, std::string_view event, std::initializer_list<Field> fields);
  Sink& sink_;
  std::string component_;
};

}  // namespace credbroker::audit
