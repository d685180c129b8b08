// Logging setup (spdlog, --log-format, --log-level) and the per-thread log
// context that ties log lines to the reconcile they come from.
//
// Every log line written while a controller worker runs a reconcile carries
// controller, object ("ns/name") and reconcileID, whoever logs it (the domain
// included): the worker sets the calling thread's log_context(), and the
// formatters read it. Loggers are synchronous, so lines are formatted on the
// thread that logs them.
#pragma once

#include <string>
#include <string_view>

namespace runtime {

struct LogContext {
  std::string controller;
  std::string object;        // "ns/name"
  std::string reconcile_id;  // unique per reconcile call

  bool empty() const { return controller.empty() && object.empty() && reconcile_id.empty(); }
};

// The calling thread's context (empty outside a reconcile).
LogContext& log_context();

// Sets the calling thread's context for its lifetime, then restores the
// previous one.
class ScopedLogContext {
 public:
  explicit ScopedLogContext(LogContext context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  LogContext previous_;
};

// Replaces spdlog's default logger with one writing to stderr:
//   format "text": 2024-05-01T10:00:00.123456Z info  msg controller=x object=ns/n reconcileID=...
//   format "json": {"ts":"2024-05-01T10:00:00.123456Z","level":"info","msg":"...",
//                   "controller":"x","object":"ns/n","reconcileID":"..."}
// level: trace, debug, info, warn (or warning), error, critical, off.
// Throws std::invalid_argument naming the bad value.
void configure_logging(std::string_view format, std::string_view level);

}  // namespace runtime
