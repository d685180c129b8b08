// Structured logs: one JSON object per line on stdout, what Fluent Bit and
// CloudWatch ingest: {"time":..., "level":..., "msg":..., <fields>...}.
// Thread-safe. Never give it a password: nothing here redacts.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

namespace sreracha::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kFatal = 4 };

// Parses "debug", "info", "warn", "error"; false for anything else.
bool parse_level(std::string_view name, Level& out);

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, double, bool>;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<std::int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

// Formats one log line (with its '\n'); exposed for tests.
std::string format_line(Level level, std::string_view msg, std::initializer_list<Field> fields);

void set_level(Level level);
bool enabled(Level level);
// Where lines go; stdout (1) unless a test says otherwise.
void set_fd(int fd);

// Writes the line at once (start-up, Redis state changes, errors).
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, m, f);
}

// Access log lines are buffered: one write(2) per request would cost as much
// as serving it. They reach stdout when 16 KiB are pending, on the next
// flush() (the server calls it every 100 ms) or before any other line.
void access(std::string_view method, std::string_view path, int status, double duration_ms,
            std::string_view remote);
void flush();

}  // namespace sreracha::log
