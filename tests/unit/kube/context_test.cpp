// kube::Context and kube::CancelToken: deadlines, cancellation from another
// thread, and the waits built on them.
#include "kube/context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "kube/errors.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Context, DefaultNeverEnds) {
  const kube::Context ctx;
  EXPECT_FALSE(ctx.done());
  EXPECT_FALSE(ctx.deadline().has_value());
  EXPECT_EQ(ctx.remaining(5s), 5s);
  EXPECT_NO_THROW(ctx.check("get x"));
}

TEST(Context, WithDeadlineKeepsTheEarlierOne) {
  const kube::Context ctx;
  const auto soon = Clock::now() + 1s;
  const auto narrowed = ctx.with_deadline(soon).with_deadline(soon + 1h);
  EXPECT_EQ(narrowed.deadline(), soon);
  EXPECT_EQ(narrowed.with_deadline(soon - 1ms).deadline(), soon - 1ms);
  EXPECT_LE(narrowed.remaining(1h), 1s);
  EXPECT_GT(narrowed.remaining(1h), 900ms);
  EXPECT_EQ(narrowed.remaining(10ms), 10ms);
}

TEST(Context, CheckSaysWhetherCancelledOrExpired) {
  kube::CancelToken token;
  const kube::Context expired = kube::Context(token).with_deadline(Clock::now() - 1ms);
  try {
    expired.check("get configmaps ns/a");
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_TRUE(e.deadline_exceeded());
    EXPECT_STREQ(e.what(), "get configmaps ns/a: deadline exceeded");
  }
  token.cancel();
  try {
    kube::Context(token).check("list pods");
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_FALSE(e.deadline_exceeded());
    EXPECT_STREQ(e.what(), "list pods: cancelled");
  }
}

TEST(Context, CopiesShareTheToken) {
  kube::CancelToken token;
  const kube::Context ctx(token);
  const auto bounded = ctx.with_timeout(1h);
  token.cancel();
  EXPECT_TRUE(ctx.cancelled());
  EXPECT_TRUE(bounded.cancelled());
  EXPECT_TRUE(bounded.done());
}

TEST(Context, SleepEndsAtOnceWhenCancelledFromAnotherThread) {
  kube::CancelToken token;
  const kube::Context ctx(token);
  auto canceller = std::async(std::launch::async, [token]() mutable {
    std::this_thread::sleep_for(50ms);
    token.cancel();
  });
  const auto begin = Clock::now();
  try {
    ctx.sleep_for(1h, "retry wait");
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_FALSE(e.deadline_exceeded());
  }
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 45ms);
  EXPECT_LT(took, 500ms);
}

TEST(Context, SleepPastTheDeadlineFailsWithoutWaiting) {
  const auto ctx = kube::Context().with_timeout(10s);
  const auto begin = Clock::now();
  try {
    ctx.sleep_for(20s, "Retry-After");
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_TRUE(e.deadline_exceeded());
  }
  EXPECT_LT(Clock::now() - begin, 50ms);
  // Within the deadline it sleeps the whole time and returns normally.
  const auto start = Clock::now();
  EXPECT_NO_THROW(ctx.sleep_for(30ms, "short"));
  EXPECT_GE(Clock::now() - start, 30ms);
}

TEST(CancelToken, WaitUntilReturnsFalseWhenCancelled) {
  kube::CancelToken token;
  EXPECT_TRUE(token.wait_until(Clock::now() + 10ms));
  token.cancel();
  const auto begin = Clock::now();
  EXPECT_FALSE(token.wait_until(Clock::now() + 1h));
  EXPECT_LT(Clock::now() - begin, 50ms);
}

}  // namespace
