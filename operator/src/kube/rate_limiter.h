// Client-side rate limiting: a token bucket, as client-go's flowcontrol
// (--kube-api-qps, --kube-api-burst).
#pragma once

#include <chrono>
#include <string_view>

#include "kube/context.h"
#include "kube/mutex.h"

namespace kube {

// `burst` tokens to start with, refilled at `qps` per second, never more than
// `burst` banked. A request takes one token; when none is left it waits until
// one has been refilled. Tokens may go negative: each caller reserves its own
// slot in the future, so waiting callers are served in order without polling.
// qps <= 0 disables the limit.
//
// Threading: safe to use from many threads.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double qps, int burst, Clock::time_point now = Clock::now());

  // Takes a token at `now`; returns how long the caller must wait before
  // using it (zero when a token was available).
  std::chrono::nanoseconds reserve(Clock::time_point now);

  // Takes a token, sleeping as long as reserve() says. Throws Cancelled
  // (naming `what`) when `ctx` ends first, or at once when the wait would
  // outlast its deadline; the token is then given back, as Go's
  // rate.Limiter.Wait cancels its reservation.
  void acquire(const Context& ctx = {}, std::string_view what = "client rate limit");

 private:
  const double qps_;
  const double burst_;
  Mutex mu_;
  double tokens_ GUARDED_BY(mu_);
  Clock::time_point updated_ GUARDED_BY(mu_);  // when tokens_ was computed
};

}  // namespace kube
