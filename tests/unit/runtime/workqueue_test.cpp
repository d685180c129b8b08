// Work-queue semantics: dedupe, one worker per key, re-add while processing,
// back-off growth and reset, delayed adds, shutdown; plus a multi-threaded
// stress test of the same invariants.
#include "runtime/workqueue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "runtime/metrics.h"

namespace runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// No overall bucket: tests of per-key back-off must not depend on timing.
RateLimiter::Options per_key_only() {
  RateLimiter::Options options;
  options.qps = 0;
  return options;
}

TEST(WorkQueue, MergesAddsOfAQueuedKey) {
  WorkQueue queue("test");
  queue.add("ns/a");
  queue.add("ns/b");
  queue.add("ns/a");
  EXPECT_EQ(queue.len(), 2u);
  EXPECT_EQ(queue.get(), "ns/a");
  EXPECT_EQ(queue.get(), "ns/b");
  EXPECT_EQ(queue.len(), 0u);
}

TEST(WorkQueue, KeyAddedWhileProcessingIsHandedOutAgainAfterDone) {
  WorkQueue queue("test");
  queue.add("a");
  auto key = queue.get();
  ASSERT_EQ(key, "a");
  queue.add("a");
  queue.add("a");
  EXPECT_EQ(queue.len(), 0u) << "a key being processed must not be handed to another worker";
  queue.done("a");
  EXPECT_EQ(queue.len(), 1u) << "the add during processing must not be lost, and merged";
  EXPECT_EQ(queue.get(), "a");
  queue.done("a");
  EXPECT_EQ(queue.len(), 0u);
}

TEST(WorkQueue, SecondWorkerWaitsUntilTheKeyIsDone) {
  WorkQueue queue("test");
  queue.add("a");
  ASSERT_EQ(queue.get(), "a");
  queue.add("a");
  auto second = std::async(std::launch::async, [&] { return queue.get(); });
  EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
  queue.done("a");
  ASSERT_EQ(second.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(second.get(), "a");
}

TEST(RateLimiter, PerKeyBackoffDoublesFromFiveMillisecondsAndResetsOnForget) {
  RateLimiter limiter(per_key_only());
  EXPECT_EQ(limiter.when("a"), 5ms);
  EXPECT_EQ(limiter.when("a"), 10ms);
  EXPECT_EQ(limiter.when("a"), 20ms);
  EXPECT_EQ(limiter.when("b"), 5ms) << "keys back off independently";
  EXPECT_EQ(limiter.failures("a"), 3);
  limiter.forget("a");
  EXPECT_EQ(limiter.failures("a"), 0);
  EXPECT_EQ(limiter.when("a"), 5ms);
}

TEST(RateLimiter, PerKeyBackoffIsCappedAtAboutSixteenMinutes) {
  RateLimiter limiter(per_key_only());
  std::chrono::nanoseconds last{};
  for (int i = 0; i < 100; ++i) last = limiter.when("a");
  EXPECT_EQ(last, 1000s);
}

TEST(RateLimiter, OverallTokenBucketDelaysRetriesBeyondTheBurst) {
  RateLimiter::Options options;
  options.qps = 10;
  options.burst = 2;
  RateLimiter limiter(options);
  EXPECT_EQ(limiter.when("a"), 5ms);
  EXPECT_EQ(limiter.when("b"), 5ms);
  // The bucket is empty: the next token comes in 1/qps = 100 ms, even for a
  // key that never failed before.
  EXPECT_GE(limiter.when("c"), 90ms);
}

TEST(WorkQueue, AddAfterHandsTheKeyOutOnlyOnceTheDelayPassed) {
  WorkQueue queue("test");
  const auto start = Clock::now();
  queue.add_after("a", 60ms);
  EXPECT_EQ(queue.len(), 0u);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_GE(Clock::now() - start, 60ms);
}

TEST(WorkQueue, AddAfterKeepsTheEarlierOfTwoTimesAndHandsTheKeyOutOnce) {
  WorkQueue queue("test");
  const auto start = Clock::now();
  queue.add_after("a", 10s);
  queue.add_after("a", 20ms);
  queue.add_after("a", 5s);
  EXPECT_EQ(queue.get(), "a");
  EXPECT_LT(Clock::now() - start, 2s);
  queue.done("a");
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(queue.len(), 0u);
}

TEST(WorkQueue, AddAfterWakesAWorkerWaitingForALaterKey) {
  WorkQueue queue("test");
  queue.add_after("late", 10s);
  auto worker = std::async(std::launch::async, [&] { return queue.get(); });
  std::this_thread::sleep_for(20ms);  // the worker now sleeps until "late" is due
  queue.add_after("early", 10ms);
  ASSERT_EQ(worker.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(worker.get(), "early");
}

TEST(WorkQueue, ZeroDelayAddsAtOnce) {
  WorkQueue queue("test");
  queue.add_after("a", 0ms);
  EXPECT_EQ(queue.len(), 1u);
}

TEST(WorkQueue, AddRateLimitedBacksOffPerKeyUntilForgotten) {
  WorkQueue queue("test", nullptr, per_key_only());
  for (int failures = 1; failures <= 3; ++failures) {
    const auto start = Clock::now();
    queue.add_rate_limited("a");
    ASSERT_EQ(queue.get(), "a");
    // 5, 10, 20 ms.
    EXPECT_GE(Clock::now() - start, 5ms * (1 << (failures - 1)));
    EXPECT_EQ(queue.num_requeues("a"), failures);
    queue.done("a");
  }
  queue.forget("a");
  EXPECT_EQ(queue.num_requeues("a"), 0);
}

TEST(WorkQueue, ShutDownWakesWaitingWorkersAndIgnoresLaterAdds) {
  WorkQueue queue("test");
  auto worker = std::async(std::launch::async, [&] { return queue.get(); });
  std::this_thread::sleep_for(20ms);
  queue.shut_down();
  ASSERT_EQ(worker.wait_for(2s), std::future_status::ready);
  EXPECT_EQ(worker.get(), std::nullopt);
  queue.add("a");
  EXPECT_EQ(queue.len(), 0u);
  EXPECT_TRUE(queue.shutting_down());
}

TEST(WorkQueue, ShutDownStopsHandingOutQueuedKeysButLetsInFlightOnesFinish) {
  WorkQueue queue("test");
  queue.add("in-flight");
  queue.add("queued");
  ASSERT_EQ(queue.get(), "in-flight");
  queue.shut_down();
  EXPECT_EQ(queue.get(), std::nullopt);
  EXPECT_FALSE(queue.wait_idle(Clock::now() + 20ms)) << "in-flight key not done yet";
  auto finisher = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(20ms);
    queue.done("in-flight");
  });
  EXPECT_TRUE(queue.wait_idle(Clock::now() + 2s));
}

TEST(WorkQueue, ExportsWorkqueueMetrics) {
  MetricsRegistry registry;
  WorkQueue queue("sreracha", &registry);
  queue.add("a");
  queue.add("a");
  queue.add("b");
  auto text = registry.expose();
  EXPECT_NE(text.find("workqueue_depth{name=\"sreracha\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("workqueue_adds_total{name=\"sreracha\"} 2\n"), std::string::npos) << text;
  ASSERT_EQ(queue.get(), "a");
  queue.done("a");
  queue.add_rate_limited("a");
  text = registry.expose();
  EXPECT_NE(text.find("workqueue_retries_total{name=\"sreracha\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("workqueue_queue_duration_seconds_count{name=\"sreracha\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("workqueue_work_duration_seconds_count{name=\"sreracha\"} 1\n"),
            std::string::npos)
      << text;
}

// Many producers add, rate-limit and delay keys while many workers process
// them. Invariants: no key is ever processed by two workers at once, and
// every add is followed by a processing of its key (nothing is lost).
TEST(WorkQueue, StressNoConcurrentProcessingOfAKeyAndNoLostAdds) {
  constexpr int kKeys = 40;
  constexpr int kWorkers = 8;
  constexpr int kProducers = 4;
  constexpr int kAddsPerProducer = 5000;
  RateLimiter::Options fast;
  fast.base_delay = 1ms;
  fast.max_delay = 5ms;
  fast.qps = 0;
  WorkQueue queue("stress", nullptr, fast);

  std::array<std::atomic<int>, kKeys> in_progress{};
  std::array<std::atomic<bool>, kKeys> pending{};
  std::atomic<int> overlaps{0};
  std::atomic<long> processed{0};

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.get()) {
        const int k = std::stoi(*key);
        if (in_progress[k].fetch_add(1) != 0) ++overlaps;
        // Cleared before the work: an add after this point must lead to
        // another processing.
        pending[k].store(false);
        std::this_thread::yield();
        in_progress[k].fetch_sub(1);
        ++processed;
        queue.done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 random(static_cast<unsigned>(p));
      for (int i = 0; i < kAddsPerProducer; ++i) {
        const int k = static_cast<int>(random() % kKeys);
        pending[k].store(true);
        switch (random() % 4) {
          case 0:
            queue.add_after(std::to_string(k), std::chrono::microseconds(random() % 2000));
            break;
          case 1:
            queue.add_rate_limited(std::to_string(k));
            break;
          default:
            queue.add(std::to_string(k));
        }
        // Let workers interleave with the adds (or all adds merge up front).
        if (i % 64 == 0) std::this_thread::sleep_for(20us);
      }
    });
  }
  for (auto& producer : producers) producer.join();

  const auto deadline = Clock::now() + 10s;
  auto all_processed = [&] {
    for (auto& flag : pending) {
      if (flag.load()) return false;
    }
    return true;
  };
  while (!all_processed() && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(all_processed()) << "some add was never followed by a processing of its key";
  queue.shut_down();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(overlaps.load(), 0) << "a key was processed by two workers at once";
  EXPECT_GE(processed.load(), kKeys);
  EXPECT_LE(processed.load(), long{kProducers} * kAddsPerProducer) << "adds must be merged";
}

}  // namespace
}  // namespace runtime
