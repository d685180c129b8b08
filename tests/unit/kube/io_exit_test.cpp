// kube/io.h at exit: the driver's threads log until its destructor joins
// them, so spdlog's registry must be destroyed after the driver even where a
// program's first log line comes after the driver was built. It was not: a
// rescuer started during exit logged through a freed logger (ASan:
// heap-use-after-free in start_rescuer; most likely the segfault the I/O
// unit tests showed once under load).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "kube/client.h"

namespace {

using namespace std::chrono_literals;

// Destroyed after spdlog's registry when built before it (statics die in the
// reverse order their construction ended): holds the exit in that window.
struct ExitPause {
  ~ExitPause() { std::this_thread::sleep_for(600ms); }
};

void exit_with_a_rescue_under_way() {
  kube::set_io_threads(0);  // builds the driver
  static ExitPause pause;
  spdlog::info("the first log line of this process");  // builds the registry, unless the driver did
  // Blocks whoever drives for 500 ms: the watchdog misses its heartbeat and
  // starts a rescuer, which logs, while the statics are being destroyed.
  boost::asio::post(crossplat::threadpool::shared_instance().service(),
                    [] { std::this_thread::sleep_for(500ms); });
  std::exit(0);
}

TEST(IoExit, ARescueDuringExitLogsThroughALiveLogger) {
  // A process of its own, re-executed: nothing here has built the driver or
  // the registry yet. Without the fix ASan reports the use after free and
  // exits 1 (an unsanitised build may or may not crash).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(exit_with_a_rescue_under_way(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
