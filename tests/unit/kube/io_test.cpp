// kube/io.h: with no pool, threads waiting for cpprestsdk tasks run the work
// themselves, one at a time, and a background thread runs what nobody waits
// for. Plain pplx tasks stand in for requests: they are posted to the same
// io_service as every step of a request.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "kube/io.h"
#include "unit/kube/caller_driven_io.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class CallerDrivenIo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { use_caller_driven_io(); }
};

pplx::task<std::thread::id> where_it_runs() {
  return pplx::create_task([] { return std::this_thread::get_id(); })
      .then([](std::thread::id first) {
        // Both steps ran on one thread, or this says "nobody".
        return first == std::this_thread::get_id() ? first : std::thread::id{};
      });
}

TEST_F(CallerDrivenIo, ALoneCallerRunsItsOwnWorkOnItsOwnThread) {
  // The first wait may find the background thread running the I/O and take
  // over after it; after that the caller finds the role free each time.
  int on_caller = 0;
  for (int i = 0; i < 100; ++i) {
    if (kube::io::await(where_it_runs()) == std::this_thread::get_id()) ++on_caller;
  }
  EXPECT_GE(on_caller, 90);
}

TEST_F(CallerDrivenIo, ManyThreadsWaitingAtOnceAllGetTheirAnswers) {
  constexpr int kThreads = 8;
  constexpr int kTasks = 300;
  std::atomic<long> sum{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTasks; ++i) {
        const int value = t * kTasks + i;
        sum += kube::io::await(
            pplx::create_task([value] { return value; }).then([](int v) { return v + 1; }));
      }
      ++finished;
    });
  }
  const auto deadline = Clock::now() + 60s;
  while (finished < kThreads && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  if (finished < kThreads) {
    // A lost wake-up leaves threads asleep for good: report and end here.
    std::fprintf(stderr, "only %d of %d threads finished within 60 s\n", finished.load(), kThreads);
    std::abort();
  }
  for (auto& thread : threads) thread.join();
  const long n = kThreads * kTasks;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2 + n);
}

TEST_F(CallerDrivenIo, WorkNobodyWaitsForStillRuns) {
  std::atomic<bool> ran{false};
  pplx::create_task([&ran] { ran = true; });  // as a listener's request arrives: no waiter
  const auto deadline = Clock::now() + 5s;
  while (!ran && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(ran);
}

TEST_F(CallerDrivenIo, ATaskFinishedOutsideAnyHandlerWakesItsWaiterAtOnce) {
  pplx::task_completion_event<int> event;
  std::thread finisher([event] {
    std::this_thread::sleep_for(50ms);
    event.set(42);
  });
  const auto start = Clock::now();
  EXPECT_EQ(kube::io::await(pplx::create_task(event)), 42);
  // Without a wake-up the driver would only look again after its 1 s safety net.
  EXPECT_LT(Clock::now() - start, 600ms);
  finisher.join();
}

TEST_F(CallerDrivenIo, AWaitInsideAHandlerFinishes) {
  const int answer = kube::io::await(
      pplx::create_task([] { return kube::io::await(pplx::create_task([] { return 6; })) + 1; }));
  EXPECT_EQ(answer, 7);
}

}  // namespace
