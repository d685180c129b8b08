// name_this_thread: the name the kernel shows for the thread, cut to 15 bytes.
#include "kube/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace kube {
namespace {

// The name a new thread reads back after naming itself `name`.
std::string seen_by_a_thread_named(const std::string& name) {
  std::string seen;
  std::thread([&] {
    name_this_thread(name);
    seen = this_thread_name();
  }).join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = this_thread_name();
  EXPECT_EQ(seen_by_a_thread_named("inf/pods"), "inf/pods");
  EXPECT_EQ(this_thread_name(), before);
}

TEST(ThreadName, LongNamesAreCutTo15Bytes) {
  EXPECT_EQ(seen_by_a_thread_named("inf/poddisruptionbudgets"), "inf/poddisrupti");
}

}  // namespace
}  // namespace kube
