// kube/io.h: with no pool, threads waiting for cpprestsdk tasks run the work
// themselves, one at a time, and a background thread runs what nobody waits
// for. Plain pplx tasks stand in for requests: they are posted to the same
// io_service as every step of a request.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include <pplx/threadpool.h>
#include <boost/asio/post.hpp>

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

struct Waits {
  int counted = 0;
  int on_caller = 0;
};

// Up to `n` quick waits on this thread, and how many of them ran here.
// The background thread may hold the role to begin with, and a wait whose
// task it has already finished never asks for it: on a busy machine every
// quick task then ran there (2 of 99 here). A task that finishes 5 ms later
// makes this thread follow, nudge, and take over first. From then the role
// is this thread's as long as it waits again within io.cpp's kQuiet (20 ms)
// of releasing it; one descheduled longer rightly finds the background
// driving again, so counting stops there.
Waits quick_waits(int n) {
  pplx::task_completion_event<int> later;
  // Each release comes after this: the task's end, then each wait's start.
  Clock::time_point before_release;
  std::thread finisher([later, &before_release] {
    std::this_thread::sleep_for(5ms);
    before_release = Clock::now();
    later.set(0);
  });
  kube::io::await(pplx::create_task(later));
  finisher.join();
  Waits waits;
  for (; waits.counted < n; ++waits.counted) {
    const auto start = Clock::now();
    if (start - before_release >= 20ms) break;
    before_release = start;
    if (kube::io::await(where_it_runs()) == std::this_thread::get_id()) ++waits.on_caller;
  }
  return waits;
}

TEST_F(CallerDrivenIo, ALoneCallerRunsItsOwnWorkOnItsOwnThread) {
  const auto rescues_before = kube::io::rescues();
  const auto [counted, on_caller] = quick_waits(100);
  if (counted < 20) GTEST_SKIP() << "the machine is busy: a gap of 20 ms after " << counted;
  // A machine too busy to run the watchdog's heartbeat in time starts a
  // rescuer, which then runs handlers too: not what this test is about.
  if (on_caller < counted * 9 / 10 && kube::io::rescues() != rescues_before) {
    GTEST_SKIP() << "a heartbeat was late (the machine is busy) and a rescuer ran handlers";
  }
  EXPECT_GE(on_caller, counted * 9 / 10) << "of " << counted << " waits";
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

// Runs `body` on a thread of its own; a hang aborts with `what` instead of
// hanging the test binary (the future would wait for the hung thread).
template <typename F>
void within(std::chrono::seconds limit, const char* what, F body) {
  auto finished = std::async(std::launch::async, std::move(body));
  if (finished.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "%s: hung for %lld s\n", what, static_cast<long long>(limit.count()));
    std::abort();
  }
  finished.get();
}

// A handler that blocks until another handler has run, as cpprestsdk's
// read_line() does for its buffer flush: with one driver it would wait for
// itself. A rescuer runs the other handler.
pplx::task<int> blocking_handler(int value) {
  return pplx::create_task([value] {
    return pplx::create_task([value] { return value; }).then([](int v) { return v + 1; }).get();
  });
}

TEST_F(CallerDrivenIo, AHandlerThatBlocksOnOtherHandlersIsRescued) {
  const auto rescues_before = kube::io::rescues();
  within(10s, "a blocking handler", [] { EXPECT_EQ(kube::io::await(blocking_handler(6)), 7); });
  EXPECT_GT(kube::io::rescues(), rescues_before);
  // After the rescue, waits run on their caller again.
  Waits waits;
  const auto rescues_after = kube::io::rescues();
  within(10s, "a wait after the rescue", [&waits] { waits = quick_waits(50); });
  const auto [counted, on_caller] = waits;
  if (counted < 20) GTEST_SKIP() << "the machine is busy: a gap of 20 ms after " << counted;
  // As in ALoneCallerRunsItsOwnWorkOnItsOwnThread: a late heartbeat on a busy
  // machine starts another rescuer, which is not the behaviour under test.
  if (on_caller < counted * 6 / 10 && kube::io::rescues() != rescues_after) {
    GTEST_SKIP() << "a heartbeat was late (the machine is busy) and a rescuer ran handlers";
  }
  // A rescue that never ended would leave ~0 here. The first few waits may
  // still meet the ending rescuer (38 of 50 seen under ASan on a busy
  // machine), so the bound is most of them, not nearly all.
  EXPECT_GE(on_caller, counted * 6 / 10) << "of " << counted << " waits";
}

TEST_F(CallerDrivenIo, SeveralBlockingHandlersAtOnceAllFinish) {
  within(20s, "blocking handlers on 4 threads", [] {
    std::vector<std::future<int>> answers;
    for (int i = 0; i < 4; ++i) {
      answers.push_back(std::async(std::launch::async, [i] {
        int sum = 0;
        for (int round = 0; round < 3; ++round) sum += kube::io::await(blocking_handler(i));
        return sum;
      }));
    }
    for (int i = 0; i < 4; ++i) EXPECT_EQ(answers[static_cast<std::size_t>(i)].get(), 3 * (i + 1));
  });
}

TEST_F(CallerDrivenIo, AThrowingHandlerDoesNotStopTheIo) {
  // pplx tasks keep their exceptions; a raw handler's escapes run_one().
  auto& service = crossplat::threadpool::shared_instance().service();
  for (int i = 0; i < 3; ++i) boost::asio::post(service, [] { throw std::runtime_error("boom"); });
  within(10s, "waits after a throwing handler", [] {
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(kube::io::await(pplx::create_task([i] { return i; })), i);
  });
  std::atomic<bool> ran{false};
  boost::asio::post(service, [&ran] { ran = true; });  // the background driver runs it
  const auto deadline = Clock::now() + 5s;
  while (!ran && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(ran);
}

}  // namespace
