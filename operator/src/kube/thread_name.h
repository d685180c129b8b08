// Names the calling thread (what `top -H`, perf and /proc/PID/task/*/comm
// show), so that the operator's CPU can be told apart by role: the I/O
// driver, each informer, the workers. Linux keeps 15 bytes; the rest is cut.
#pragma once

#include <string>

#include <pthread.h>

namespace kube {

inline void name_this_thread(std::string name) {
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
}

// What the kernel shows for the calling thread.
inline std::string this_thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

}  // namespace kube
