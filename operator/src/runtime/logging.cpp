#include "runtime/logging.h"

#include <chrono>
#include <ctime>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace runtime {
namespace {

thread_local LogContext current_context;

// RFC 3339 in UTC with microseconds, like klog/zap's ISO8601 time keys.
std::string utc_timestamp(spdlog::log_clock::time_point time) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time - seconds).count();
  std::time_t t = spdlog::log_clock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

std::string level_name(spdlog::level::level_enum level) {
  auto name = spdlog::level::to_string_view(level);
  return std::string(name.data(), name.size());
}

// One JSON object per line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["ts"] = utc_timestamp(msg.time);
    line["level"] = level_name(msg.level);
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    const LogContext& context = current_context;
    if (!context.controller.empty()) line["controller"] = context.controller;
    if (!context.object.empty()) line["object"] = context.object;
    if (!context.reconcile_id.empty()) line["reconcileID"] = context.reconcile_id;
    // Messages may quote server answers with broken UTF-8: replace, never throw.
    auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// %& in the text pattern: " controller=... object=... reconcileID=..." when set.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogContext& context = current_context;
    auto field = [&dest](const char* key, const std::string& value) {
      if (value.empty()) return;
      fmt::format_to(std::back_inserter(dest), " {}={}", key, value);
    };
    field("controller", context.controller);
    field("object", context.object);
    field("reconcileID", context.reconcile_id);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<ContextFlag>();
  }
};

spdlog::level::level_enum parse_level(std::string_view level) {
  if (level == "warn" || level == "warning") return spdlog::level::warn;
  for (int i = spdlog::level::trace; i < spdlog::level::n_levels; ++i) {
    auto candidate = static_cast<spdlog::level::level_enum>(i);
    auto name = spdlog::level::to_string_view(candidate);
    if (level == std::string_view(name.data(), name.size())) return candidate;
  }
  throw std::invalid_argument("invalid log level '" + std::string(level) +
                              "' (want trace, debug, info, warn, error, critical or off)");
}

}  // namespace

LogContext& log_context() { return current_context; }

ScopedLogContext::ScopedLogContext(LogContext context) : previous_(std::move(current_context)) {
  current_context = std::move(context);
}

ScopedLogContext::~ScopedLogContext() { current_context = std::move(previous_); }

void configure_logging(std::string_view format, std::string_view level) {
  const auto parsed_level = parse_level(level);
  std::unique_ptr<spdlog::formatter> formatter;
  spdlog::sink_ptr sink;
  if (format == "json") {
    formatter = std::make_unique<JsonFormatter>();
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else if (format == "text") {
    auto pattern = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    pattern->add_flag<ContextFlag>('&').set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%-5l%$ %v%&");
    formatter = std::move(pattern);
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();  // colours only on a tty
  } else {
    throw std::invalid_argument("invalid log format '" + std::string(format) +
                                "' (want text or json)");
  }
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("", std::move(sink));  // the default logger's name
  logger->set_level(parsed_level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace runtime
