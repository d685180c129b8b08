// Who runs cpprestsdk's work, for kube/'s client and runtime/'s HTTP
// listener alike.
//
// cpprestsdk posts every step of a request (the send, each read, each task
// continuation) to one process-wide boost::asio io_service. Run by a pool of
// threads, the steps of one GET land on several of them and the caller is
// woken from yet another: about nine context switches per GET on a two-CPU
// machine (one for curl), and ~10 % fewer GETs per second. With
// set_io_threads(0) there is no pool: a thread that waits for an answer runs
// the io_service itself meanwhile, so a lone caller's request runs start to
// finish on its own thread, as curl's does.
//
// One thread at a time runs the io_service (the driver): a waiter whose task
// another thread finished would otherwise sleep on inside the io_service with
// no one to wake it. The other waiters sleep until their task is done (a
// continuation, run by the driver, wakes them) or the driver role is free. A
// background thread drives when no waiter has for a moment, so that work
// nobody waits for (the probe and metrics listener, closing idle pooled
// connections) still runs; it gives way as soon as a waiter comes.
#pragma once

#include <functional>

#include <pplx/pplxtasks.h>

namespace kube::io {

// True once set_io_threads(0) made waiting threads run the io_service.
bool callers_drive();

// Runs the io_service on this thread, or sleeps, until done() is true.
// subscribe(wake) must arrange for wake() to run once done() has become true.
void wait(const std::function<bool()>& done,
          const std::function<void(std::function<void()>)>& subscribe);

// Wakes the thread running the io_service: after something changed outside
// a handler that it should look at (a connection closed from another thread).
void nudge();

// Runs the io_service on one more thread until done() is true. For a task
// whose own body blocks until other I/O has finished, as cpprestsdk's
// listener close() does (it waits for its open connections to end): run by
// the driver, it would wait for itself.
void extra_driver_until(const std::function<bool()>& done);

// Starts the background driver; called by set_io_threads(0).
void start_caller_driven();

// The result of `task`, waited for as described above.
template <typename T>
T await(const pplx::task<T>& task) {
  if (callers_drive() && !task.is_done()) {
    wait([&task] { return task.is_done(); },
         [&task](std::function<void()> wake) {
           task.then([wake = std::move(wake)](pplx::task<T>) { wake(); });
         });
  }
  return task.get();
}

// The result of `task`, whose body blocks until other I/O has finished.
template <typename T>
T await_blocking(const pplx::task<T>& task) {
  if (callers_drive()) extra_driver_until([&task] { return task.is_done(); });
  return task.get();
}

}  // namespace kube::io
