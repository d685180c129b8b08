// The kube unit tests that make requests run them as the operator does, with
// kube::set_io_threads(kube::kDefaultIoThreads): no pool, the waiting threads
// run cpprestsdk's I/O. Once per process, before anything starts the pool
// (ctest runs each test in a process of its own).
#pragma once

#include <mutex>

#include "kube/client.h"

inline void use_caller_driven_io() {
  static std::once_flag once;
  std::call_once(once, [] { kube::set_io_threads(kube::kDefaultIoThreads); });
}

static_assert(kube::kDefaultIoThreads == 0, "the default is no pool: callers run the I/O");
