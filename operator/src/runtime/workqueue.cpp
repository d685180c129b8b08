#include "runtime/workqueue.h"

#include <algorithm>
#include <cmath>

#include "runtime/metrics.h"

namespace runtime {

// --- RateLimiter ---------------------------------------------------------------

RateLimiter::RateLimiter(Options options)
    : options_(options), bucket_(options.qps, options.burst) {}

std::chrono::nanoseconds RateLimiter::when(const std::string& key) {
  int exponent = 0;
  {
    kube::MutexLock lock(mu_);
    exponent = failures_[key]++;
  }
  // Computed in double: 2^exponent overflows integers long before the cap.
  const double base_ns = std::chrono::duration<double, std::nano>(options_.base_delay).count();
  const double max_ns = std::chrono::duration<double, std::nano>(options_.max_delay).count();
  const double backoff_ns = std::min(max_ns, base_ns * std::pow(2.0, exponent));
  const auto backoff = std::chrono::nanoseconds(static_cast<std::int64_t>(backoff_ns));
  return std::max(backoff, bucket_.reserve(kube::TokenBucket::Clock::now()));
}

void RateLimiter::forget(const std::string& key) {
  kube::MutexLock lock(mu_);
  failures_.erase(key);
}

int RateLimiter::failures(const std::string& key) const {
  kube::MutexLock lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

// --- WorkQueue -----------------------------------------------------------------

WorkQueue::WorkQueue(std::string name, MetricsRegistry* metrics, RateLimiterOptions rate_limits)
    : name_(std::move(name)), rate_limiter_(rate_limits) {
  if (metrics == nullptr) return;
  // controller-runtime's buckets: 10ns to 1000s, decades.
  const auto buckets = MetricsRegistry::exponential_buckets(10e-9, 10, 12);
  depth_ =
      &metrics->gauge("workqueue_depth", "Current depth of workqueue", {"name"}).labels({name_});
  adds_ =
      &metrics
           ->counter("workqueue_adds_total", "Total number of adds handled by workqueue", {"name"})
           .labels({name_});
  retries_ = &metrics
                  ->counter("workqueue_retries_total",
                            "Total number of retries handled by workqueue", {"name"})
                  .labels({name_});
  queue_duration_ = &metrics
                         ->histogram("workqueue_queue_duration_seconds",
                                     "How long in seconds an item stays in workqueue before being "
                                     "requested",
                                     {"name"}, buckets)
                         .labels({name_});
  work_duration_ = &metrics
                        ->histogram("workqueue_work_duration_seconds",
                                    "How long in seconds processing an item from workqueue takes.",
                                    {"name"}, buckets)
                        .labels({name_});
}

WorkQueue::~WorkQueue() { shut_down(); }

void WorkQueue::add(const std::string& key) {
  kube::MutexLock lock(mu_);
  add_locked(key, Clock::now());
}

void WorkQueue::add_locked(const std::string& key, Clock::time_point now) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // already queued or re-marked: merged
  if (adds_ != nullptr) adds_->inc();
  added_at_.emplace(key, now);
  // While processing, done() queues it; queuing now would let a second
  // worker take it concurrently.
  if (processing_.contains(key)) return;
  queue_.push_back(key);
  update_depth_locked();
  ready_cv_.notify_one();
}

void WorkQueue::add_after(const std::string& key, std::chrono::nanoseconds delay) {
  const auto now = Clock::now();
  kube::MutexLock lock(mu_);
  if (shutting_down_) return;
  if (delay <= std::chrono::nanoseconds::zero()) {
    add_locked(key, now);
    return;
  }
  const auto ready_at = now + delay;
  auto [it, inserted] = waiting_.try_emplace(key, ready_at);
  if (!inserted) {
    if (it->second <= ready_at) return;  // the earlier add wins
    it->second = ready_at;
  }
  waiting_heap_.push(Waiting{ready_at, key});
  // Waiting workers sleep until the earliest time they knew of; this one may
  // be earlier.
  ready_cv_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  if (retries_ != nullptr) retries_->inc();
  add_after(key, rate_limiter_.when(key));
}

void WorkQueue::forget(const std::string& key) { rate_limiter_.forget(key); }

int WorkQueue::num_requeues(const std::string& key) const { return rate_limiter_.failures(key); }

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!waiting_heap_.empty() && waiting_heap_.top().ready_at <= now) {
    Waiting entry = waiting_heap_.top();
    waiting_heap_.pop();
    auto it = waiting_.find(entry.key);
    if (it == waiting_.end() || it->second != entry.ready_at) continue;  // stale
    waiting_.erase(it);
    add_locked(entry.key, now);
  }
}

std::optional<std::string> WorkQueue::get() {
  kube::MutexLock lock(mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    const auto now = Clock::now();
    promote_due_locked(now);
    if (!queue_.empty()) break;
    if (waiting_heap_.empty()) {
      ready_cv_.wait(lock.native());
    } else {
      // A copy: the heap may reallocate while we wait.
      const auto earliest = waiting_heap_.top().ready_at;
      ready_cv_.wait_until(lock.native(), earliest);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  update_depth_locked();
  dirty_.erase(key);
  processing_.insert(key);
  const auto now = Clock::now();
  if (auto it = added_at_.find(key); it != added_at_.end()) {
    if (queue_duration_ != nullptr) {
      queue_duration_->observe(std::chrono::duration<double>(now - it->second).count());
    }
    added_at_.erase(it);
  }
  started_at_[key] = now;
  return key;
}

void WorkQueue::done(const std::string& key) {
  kube::MutexLock lock(mu_);
  if (processing_.erase(key) == 0) return;
  if (auto it = started_at_.find(key); it != started_at_.end()) {
    if (work_duration_ != nullptr) {
      work_duration_->observe(std::chrono::duration<double>(Clock::now() - it->second).count());
    }
    started_at_.erase(it);
  }
  if (processing_.empty()) idle_cv_.notify_all();
  // Added while it was processing: hand it out again.
  if (dirty_.contains(key) && !shutting_down_) {
    queue_.push_back(key);
    update_depth_locked();
    ready_cv_.notify_one();
  }
}

std::size_t WorkQueue::len() const {
  kube::MutexLock lock(mu_);
  return queue_.size();
}

void WorkQueue::shut_down() {
  kube::MutexLock lock(mu_);
  shutting_down_ = true;
  ready_cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  kube::MutexLock lock(mu_);
  return shutting_down_;
}

bool WorkQueue::wait_idle(Clock::time_point deadline) {
  kube::MutexLock lock(mu_);
  return idle_cv_.wait_until(lock.native(), deadline,
                             [this]() REQUIRES(mu_) { return processing_.empty(); });
}

void WorkQueue::update_depth_locked() {
  if (depth_ != nullptr) depth_->set(static_cast<double>(queue_.size()));
}

}  // namespace runtime
