// kube::set_io_threads: once, before cpprestsdk's thread pool starts. The
// pool is process-wide and other tests in this binary start it, so the check
// runs in a fresh process (a "threadsafe" death test re-executes the binary).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "kube/client.h"

namespace {

[[noreturn]] void check_in_fresh_process() {
  kube::set_io_threads(kube::kDefaultIoThreads);
  try {
    kube::set_io_threads(4);
    std::fputs("a second set_io_threads was accepted\n", stderr);
    std::exit(2);
  } catch (const kube::Error& e) {
    if (std::string(e.what()).find("too late") == std::string::npos) {
      std::fprintf(stderr, "unexpected message: %s\n", e.what());
      std::exit(3);
    }
  }
  std::exit(0);
}

TEST(IoThreadsDeathTest, SetOnceBeforeThePoolStarts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(check_in_fresh_process(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
