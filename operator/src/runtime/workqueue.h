// The work queue between event handlers and reconcile workers, with the
// semantics of client-go's rate-limited work queue:
//
// - a key is queued at most once (adds of a queued key are merged);
// - a key is handed to one worker at a time: get() marks it processing until
//   done(); an add while processing is remembered and the key is queued again
//   by done(), so the change is never missed and never handled concurrently;
// - add_after() delays an add (requeue_after); add_rate_limited() delays it by
//   the key's back-off (failed reconciles), forget() resets that back-off.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kube/mutex.h"
#include "kube/rate_limiter.h"

namespace runtime {

class Counter;
class Gauge;
class Histogram;
class MetricsRegistry;

// Defaults are client-go's DefaultControllerRateLimiter.
struct RateLimiterOptions {
  std::chrono::milliseconds base_delay{5};
  std::chrono::milliseconds max_delay{1'000'000};  // about 16 minutes
  double qps = 10;  // overall retries per second; <= 0 disables the bucket
  int burst = 100;
};

// Delay before retrying a key: the larger of a per-key exponential back-off
// (base * 2^failures, capped) and an overall token bucket shared by all keys,
// so one broken object backs off on its own while a storm of failures cannot
// hammer the API server.
//
// Threading: safe to use from many threads.
class RateLimiter {
 public:
  using Options = RateLimiterOptions;

  explicit RateLimiter(Options options = {});

  // The delay before the next retry of `key`; counts one more failure of it.
  std::chrono::nanoseconds when(const std::string& key);
  // Forgets the key's failures: its next back-off starts at base_delay again.
  void forget(const std::string& key);
  int failures(const std::string& key) const;

 private:
  const Options options_;
  kube::TokenBucket bucket_;
  mutable kube::Mutex mu_;
  std::unordered_map<std::string, int> failures_ GUARDED_BY(mu_);
};

// Threading: every member is safe to call from many threads.
class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  // With `metrics`, exports workqueue_depth, workqueue_adds_total,
  // workqueue_retries_total, workqueue_queue_duration_seconds and
  // workqueue_work_duration_seconds labelled {name}.
  explicit WorkQueue(std::string name, MetricsRegistry* metrics = nullptr,
                     RateLimiterOptions rate_limits = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  const std::string& name() const { return name_; }

  void add(const std::string& key);
  // Adds `key` once `delay` has passed. A key already waiting keeps the
  // earlier of its two times. delay <= 0 adds at once.
  void add_after(const std::string& key, std::chrono::nanoseconds delay);
  // add_after(key, the rate limiter's delay for key); counts a retry.
  void add_rate_limited(const std::string& key);
  // Resets the key's back-off (call after a successful reconcile).
  void forget(const std::string& key);
  int num_requeues(const std::string& key) const;

  // Blocks until a key is ready, then returns it marked processing; the
  // caller must call done(key) when finished. Returns nullopt once shut down.
  std::optional<std::string> get();
  void done(const std::string& key);

  // Keys ready to be handed out (not counting delayed or processing keys).
  std::size_t len() const;

  // Stops handing out work: get() returns nullopt from now on (waiting
  // callers wake up), adds are ignored. Keys already being processed finish
  // normally and may still call done().
  void shut_down();
  bool shutting_down() const;
  // Waits until no key is processing or `deadline` passes; true when idle.
  bool wait_idle(Clock::time_point deadline);

 private:
  struct Waiting {
    Clock::time_point ready_at;
    std::string key;
    bool operator>(const Waiting& other) const { return ready_at > other.ready_at; }
  };

  void add_locked(const std::string& key, Clock::time_point now) REQUIRES(mu_);
  void promote_due_locked(Clock::time_point now) REQUIRES(mu_);
  void update_depth_locked() REQUIRES(mu_);

  const std::string name_;
  RateLimiter rate_limiter_;

  mutable kube::Mutex mu_;
  std::condition_variable ready_cv_;  // a key became ready, or shutdown
  std::condition_variable idle_cv_;   // processing_ became empty
  bool shutting_down_ GUARDED_BY(mu_) = false;
  std::deque<std::string> queue_ GUARDED_BY(mu_);          // ready, FIFO
  std::unordered_set<std::string> dirty_ GUARDED_BY(mu_);  // needs processing
  std::unordered_set<std::string> processing_ GUARDED_BY(mu_);
  std::unordered_map<std::string, Clock::time_point> added_at_ GUARDED_BY(mu_);
  std::unordered_map<std::string, Clock::time_point> started_at_ GUARDED_BY(mu_);
  // Delayed adds: a min-heap by time plus each key's earliest time; heap
  // entries whose time no longer matches waiting_ are stale and skipped.
  std::priority_queue<Waiting, std::vector<Waiting>, std::greater<>> waiting_heap_ GUARDED_BY(mu_);
  std::unordered_map<std::string, Clock::time_point> waiting_ GUARDED_BY(mu_);

  // Metrics (null without a registry).
  Gauge* depth_ = nullptr;
  Counter* adds_ = nullptr;
  Counter* retries_ = nullptr;
  Histogram* queue_duration_ = nullptr;
  Histogram* work_duration_ = nullptr;
};

}  // namespace runtime
