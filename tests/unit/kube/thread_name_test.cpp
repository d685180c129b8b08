// name_this_thread: the name the kernel shows for the thread, cut to 15 bytes.
#include "kube/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace kube {
namespace {

std::string this_thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = this_thread_name();
  std::string seen;
  std::thread([&] {
    name_this_thread("inf/pods");
    seen = this_thread_name();
  }).join();
  EXPECT_EQ(seen, "inf/pods");
  EXPECT_EQ(this_thread_name(), before);
}

TEST(ThreadName, LongNamesAreCutTo15Bytes) {
  std::string seen;
  std::thread([&] {
    name_this_thread("inf/poddisruptionbudgets");
    seen = this_thread_name();
  }).join();
  EXPECT_EQ(seen, "inf/poddisrupti");
}

}  // namespace
}  // namespace kube
