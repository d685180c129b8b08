// The FizzBuzz counter: a thread that INCRs one Redis key once a second and
// publishes the result for the HTTP side, reconnecting with back-off when
// Redis goes away. Replicas share the key, so with N replicas the count
// advances about N a second.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "redis_connection.h"
#include "route.h"

namespace sreracha {

struct CounterOptions {
  RedisOptions redis;
  std::string key = "sreracha:fizzbuzz";
  std::chrono::milliseconds interval{1000};
  // Reconnect back-off: doubles from initial up to max, with ±20 % jitter.
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{5000};
  // At most one READONLY (or other refused INCR) explanation per this long.
  std::chrono::seconds readonly_log_interval{60};
};

// Delay before reconnect attempt `attempt` (1-based), without jitter.
std::chrono::milliseconds backoff_delay(const CounterOptions& options, int attempt);

// At most one log line per interval; counts what it held back.
class LogThrottle {
 public:
  bool allow(std::chrono::steady_clock::time_point now, std::chrono::seconds interval);
  int take_suppressed();

 private:
  bool logged_ = false;
  std::chrono::steady_clock::time_point last_{};
  int suppressed_ = 0;
};

class Counter {
 public:
  explicit Counter(CounterOptions options);
  ~Counter();  // stops the thread
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void start();
  // Stops the thread, interrupting a command in progress. False if it did
  // not finish within `wait` (stuck resolving or connecting, which do time
  // out, but later): then the caller must exit without destroying this.
  bool stop(std::chrono::milliseconds wait);

  // Lock-free; called on every request.
  CounterSnapshot snapshot() const;

 private:
  enum class State : int {
    kConnecting,
    kOk,
    kUnreachable,
    kReadOnly,
    kAuthFailed,
    kTlsFailed,
    kError
  };
  void run();
  // Sleeps until `until` or stop(); false when stopped.
  bool sleep_until(std::chrono::steady_clock::time_point until);
  void publish(State state);
  void report_readonly(const std::string& reply);

  CounterOptions options_;
  std::atomic<std::int64_t> count_{0};
  std::atomic<int> state_{static_cast<int>(State::kConnecting)};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;              // GUARDED_BY(mu_)
  bool finished_ = false;              // GUARDED_BY(mu_): run() returned
  RedisConnection* active_ = nullptr;  // GUARDED_BY(mu_): for stop() to interrupt
  std::thread thread_;

  // Used by the counter thread only.
  LogThrottle readonly_log_;
  LogThrottle reply_error_log_;
};

}  // namespace sreracha
