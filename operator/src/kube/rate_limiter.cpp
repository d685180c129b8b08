#include "kube/rate_limiter.h"

#include <algorithm>

#include "kube/errors.h"

namespace kube {

TokenBucket::TokenBucket(double qps, int burst, Clock::time_point now)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), updated_(now) {}

std::chrono::nanoseconds TokenBucket::reserve(Clock::time_point now) {
  if (qps_ <= 0) return std::chrono::nanoseconds::zero();
  MutexLock lock(mu_);
  if (now > updated_) {
    const std::chrono::duration<double> elapsed = now - updated_;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * qps_);
    updated_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::nanoseconds::zero();
  // The deficit is refilled at qps tokens per second.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(-tokens_ / qps_));
}

void TokenBucket::acquire(const Context& ctx, std::string_view what) {
  const auto wait = reserve(Clock::now());
  if (wait <= std::chrono::nanoseconds::zero()) return;
  try {
    ctx.sleep_for(wait, what);
  } catch (const Cancelled&) {
    // Unused, the slot goes back: later callers reserved theirs behind it
    // and may now wait a little longer than needed, never less.
    MutexLock lock(mu_);
    tokens_ = std::min(burst_, tokens_ + 1);
    throw;
  }
}

}  // namespace kube
