// Retry delays (kube/backoff.h) and the token bucket (kube/rate_limiter.h).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "kube/backoff.h"
#include "kube/errors.h"
#include "kube/rate_limiter.h"

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(Backoff, DoublesFromInitialUpToTheCap) {
  const kube::BackoffPolicy policy{200ms, 10s};
  // random01 = 1 gives (almost) the full delay, 0 gives half of it.
  EXPECT_EQ(kube::backoff_delay(0, 0.0, {}, policy), 100ms);
  EXPECT_EQ(kube::backoff_delay(0, 1.0, {}, policy), 200ms);
  EXPECT_EQ(kube::backoff_delay(1, 1.0, {}, policy), 400ms);
  EXPECT_EQ(kube::backoff_delay(2, 1.0, {}, policy), 800ms);
  EXPECT_EQ(kube::backoff_delay(3, 0.5, {}, policy), 1200ms);  // 1600 / 2 + 800 * 0.5
  EXPECT_EQ(kube::backoff_delay(5, 1.0, {}, policy), 6400ms);
  EXPECT_EQ(kube::backoff_delay(6, 1.0, {}, policy), 10s);
  EXPECT_EQ(kube::backoff_delay(6, 0.0, {}, policy), 5s);
  EXPECT_EQ(kube::backoff_delay(1000, 1.0, {}, policy), 10s);  // no overflow
}

TEST(Backoff, JitterStaysWithinHalfAndFull) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto full = std::min<milliseconds>(200ms * (1 << attempt), 10s);
    for (double r : {0.0, 0.1, 0.37, 0.5, 0.99}) {
      const auto delay = kube::backoff_delay(attempt, r);
      EXPECT_GE(delay, full / 2);
      EXPECT_LE(delay, full);
    }
  }
}

TEST(Backoff, RetryAfterIsCapped) {
  EXPECT_EQ(kube::backoff_delay(0, 0.7, 3600s), 10s);  // the default cap
  EXPECT_EQ(kube::backoff_delay(0, 0.7, 10s), 10s);
  kube::BackoffPolicy policy;
  policy.max_retry_after = 2s;
  EXPECT_EQ(kube::backoff_delay(0, 0.7, 3600s, policy), 2s);
  EXPECT_EQ(kube::backoff_delay(0, 0.7, 1s, policy), 1s);
}

TEST(Backoff, RetryAfterIsHonoured) {
  EXPECT_EQ(kube::backoff_delay(0, 0.7, 3s), 3s);
  EXPECT_EQ(kube::backoff_delay(9, 0.7, 0s), 0ms);
  EXPECT_EQ(kube::parse_retry_after("3"), 3s);
  EXPECT_EQ(kube::parse_retry_after(" 120 "), 120s);
  EXPECT_FALSE(kube::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  EXPECT_FALSE(kube::parse_retry_after("-1").has_value());
  EXPECT_FALSE(kube::parse_retry_after("").has_value());
}

TEST(Backoff, RetryableStatuses) {
  for (int code : {429, 500, 502, 503, 504}) EXPECT_TRUE(kube::is_retryable_status(code)) << code;
  for (int code : {200, 400, 401, 403, 404, 409, 410, 422}) {
    EXPECT_FALSE(kube::is_retryable_status(code)) << code;
  }
}

TEST(TokenBucket, BurstThenQps) {
  const auto t0 = kube::TokenBucket::Clock::time_point{} + 1h;
  kube::TokenBucket bucket(/*qps=*/10, /*burst=*/3, t0);
  // The burst goes through at once.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.reserve(t0), 0ns) << i;
  // Then one token per 100 ms, each caller queued behind the previous one.
  EXPECT_EQ(bucket.reserve(t0), 100ms);
  EXPECT_EQ(bucket.reserve(t0), 200ms);
  EXPECT_EQ(bucket.reserve(t0), 300ms);
  // 300 ms later those three debts are paid: the next waits one interval.
  EXPECT_EQ(bucket.reserve(t0 + 300ms), 100ms);
}

TEST(TokenBucket, RefillIsCappedAtBurst) {
  const auto t0 = kube::TokenBucket::Clock::time_point{} + 1h;
  kube::TokenBucket bucket(/*qps=*/5, /*burst=*/2, t0);
  EXPECT_EQ(bucket.reserve(t0), 0ns);
  EXPECT_EQ(bucket.reserve(t0), 0ns);
  // An idle hour banks only `burst` tokens.
  const auto later = t0 + 1h;
  EXPECT_EQ(bucket.reserve(later), 0ns);
  EXPECT_EQ(bucket.reserve(later), 0ns);
  EXPECT_EQ(bucket.reserve(later), 200ms);
  // Half an interval refills half a token.
  EXPECT_EQ(bucket.reserve(later + 100ms), 300ms);
}

TEST(TokenBucket, ZeroQpsMeansUnlimited) {
  kube::TokenBucket bucket(0, 1);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(bucket.reserve(kube::TokenBucket::Clock::now()), 0ns);
}

TEST(TokenBucket, AcquireWaits) {
  kube::TokenBucket bucket(/*qps=*/50, /*burst=*/1);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) bucket.acquire();  // 1 free, then 5 x 20 ms
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 95ms);
  EXPECT_LT(elapsed, 1s);
}

TEST(TokenBucket, AcquireEndsWhenCancelledAndGivesTheTokenBack) {
  kube::TokenBucket bucket(/*qps=*/0.1, /*burst=*/1);  // one now, the next in 10 s
  bucket.acquire();
  kube::CancelToken token;
  auto canceller = std::async(std::launch::async, [token]() mutable {
    std::this_thread::sleep_for(50ms);
    token.cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(bucket.acquire(token, "get x"), kube::Cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  // The cancelled wait's slot is free again: the next caller waits 10 s, not 20.
  const auto wait = bucket.reserve(std::chrono::steady_clock::now());
  EXPECT_LE(wait, 10s);
  EXPECT_GT(wait, 9s);
}

TEST(TokenBucket, AcquireFailsAtOnceWhenTheWaitWouldPassTheDeadline) {
  kube::TokenBucket bucket(/*qps=*/0.1, /*burst=*/1);
  bucket.acquire();
  const auto start = std::chrono::steady_clock::now();
  try {
    bucket.acquire(kube::Context().with_timeout(5s), "get x");
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_TRUE(e.deadline_exceeded());
  }
  // Waiting would take the whole 5 s; "at once" is well under that even on a
  // busy machine under ASan (351 ms seen once, most of it the first throw).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
