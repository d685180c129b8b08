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
//
// Some of cpprestsdk's own handlers block until other handlers have run:
// read_line() waits for its buffer flush (lines over 16 KiB), the listener's
// close() for its open connections. Run by the only driver, such a handler
// would wait for itself, and every request, watch and probe of the process
// with it. So a watchdog posts a heartbeat to the io_service; when one has
// not run for a moment while the driver role is taken, it starts a rescuer
// thread that runs handlers beside the stuck one until heartbeats are run by
// the others again. A blocking handler then costs a delay, never a hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

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

// Runs `callback` on the I/O service at `when`, unless the Alarm is
// destroyed first. For the deadline of a request in flight: cpprestsdk fixes
// its timeout per http_client, and one client per deadline would defeat its
// connection pool. The callback runs on whichever thread runs the I/O, so it
// must be quick (cancel a token source, set a flag).
//
// Threading: create and destroy on any thread. A callback already due when
// the Alarm is destroyed may still run (once) afterwards: it must not use
// what the Alarm's owner destroys.
class Alarm {
 public:
  Alarm(std::chrono::steady_clock::time_point when, std::function<void()> callback);
  ~Alarm();
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Starts the background driver and the watchdog; called by set_io_threads(0).
void start_caller_driven();

// Rescuer threads the watchdog has started so far (for tests and metrics).
std::uint64_t rescues();

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

}  // namespace kube::io
