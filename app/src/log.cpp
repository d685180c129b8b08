#include "log.h"

#include "json.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace sreracha::log {
namespace {

constexpr std::size_t kAccessBufferLimit = 16 * 1024;

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_fd{1};

std::mutex g_mu;
std::string g_pending;  // GUARDED_BY(g_mu): buffered access lines

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kFatal:
      return "fatal";
  }
  return "info";
}

// RFC 3339 UTC with milliseconds. The seconds part is formatted once per
// second per thread: the access log asks for it on every request.
void append_time(std::string& out) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto since_epoch = now.time_since_epoch();
  auto secs = duration_cast<seconds>(since_epoch).count();
  auto millis = duration_cast<milliseconds>(since_epoch).count() % 1000;
  thread_local std::int64_t cached_secs = -1;
  thread_local char cached[32];
  if (secs != cached_secs) {
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_secs = secs;
  }
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(millis));
  out += cached;
  out += frac;
}

void append_value(std::string& out, const Field::Value& v) {
  if (auto s = std::get_if<std::string_view>(&v)) {
    append_json_string(out, *s);
  } else if (auto i = std::get_if<std::int64_t>(&v)) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, *i);
    out.append(buf, res.ptr);
  } else if (auto d = std::get_if<double>(&v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *d);
    out += buf;
  } else {
    out += std::get<bool>(v) ? "true" : "false";
  }
}

void begin_line(std::string& out, Level level, std::string_view msg) {
  out += "{\"time\":\"";
  append_time(out);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"msg\":";
  append_json_string(out, msg);
}

// REQUIRES: g_mu held (so lines from two threads never interleave).
void write_all(std::string_view data) {
  int fd = g_fd.load(std::memory_order_relaxed);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stdout is gone: nowhere left to say so
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

bool parse_level(std::string_view name, Level& out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

std::string format_line(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(160);
  begin_line(out, level, msg);
  for (const Field& f : fields) {
    out += ',';
    append_json_string(out, f.key);
    out += ':';
    append_value(out, f.value);
  }
  out += "}\n";
  return out;
}

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}
void set_fd(int fd) { g_fd.store(fd); }

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line = format_line(level, msg, fields);
  std::lock_guard lock(g_mu);
  // Buffered access lines happened before this one: keep the order.
  g_pending += line;
  write_all(g_pending);
  g_pending.clear();
}

void access(std::string_view method, std::string_view path, int status, double duration_ms,
            std::string_view remote) {
  if (!enabled(Level::kInfo)) return;
  thread_local std::string line;
  line.clear();
  begin_line(line, Level::kInfo, "request");
  line += ",\"method\":";
  append_json_string(line, method);
  line += ",\"path\":";
  append_json_string(line, path);
  line += ",\"status\":";
  append_value(line, static_cast<std::int64_t>(status));
  line += ",\"duration_ms\":";
  append_value(line, duration_ms);
  line += ",\"remote\":";
  append_json_string(line, remote);
  line += "}\n";
  std::lock_guard lock(g_mu);
  g_pending += line;
  if (g_pending.size() >= kAccessBufferLimit) {
    write_all(g_pending);
    g_pending.clear();
  }
}

void flush() {
  std::lock_guard lock(g_mu);
  if (g_pending.empty()) return;
  write_all(g_pending);
  g_pending.clear();
}

}  // namespace sreracha::log
