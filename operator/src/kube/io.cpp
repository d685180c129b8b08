#include "kube/io.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <pplx/threadpool.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace kube::io {

namespace {

using Clock = std::chrono::steady_clock;

// How long the role stays free before the background thread takes it: long
// enough that a caller's next request, a few microseconds after its last,
// finds it free; short enough for a probe that arrives while no one waits.
constexpr auto kQuiet = std::chrono::milliseconds(20);
// How often a driver looks up although no handler ran. Every wait posts a
// handler when its task is done, so this is only a safety net.
constexpr auto kBackstop = std::chrono::seconds(1);

std::atomic<bool> caller_driven{false};
thread_local bool this_thread_drives = false;

boost::asio::io_context& service() { return crossplat::threadpool::shared_instance().service(); }

// Runs handlers on this thread until stop(), looking at least every `period`.
template <typename Rep, typename Period>
void run_until(const std::function<bool()>& stop, std::chrono::duration<Rep, Period> period) {
  while (!stop()) service().run_one_for(period);
}

class Driver {
 public:
  static Driver& instance() {
    static Driver driver;
    return driver;
  }

  ~Driver() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    background_cv_.notify_all();
    nudge();
    background_.join();
    // Run what is still queued (the wake-up of the last wait, at least): a
    // pplx task posted and never run is never freed.
    while (service().poll() > 0) {
    }
  }

  void wait(const std::function<bool()>& done,
            const std::function<void(std::function<void()>)>& subscribe) {
    // Runs as a handler once the task is done, whoever finished it: running
    // makes the driver's run_one_for() return, and a follower hears the cv.
    subscribe([this] {
      std::lock_guard lock(mu_);
      if (followers_ > 0) followers_cv_.notify_all();
    });
    if (this_thread_drives) {
      // A handler on the driving thread waits: no one else runs the I/O.
      run_until(done, kBackstop);
      return;
    }
    std::unique_lock lock(mu_);
    bool following = false;
    while (!done()) {
      if (!driving_) {
        drive(lock, done);
        break;
      }
      if (!following) {
        following = true;
        ++followers_;
        if (background_driving_) nudge();  // make it give way
        continue;
      }
      followers_cv_.wait(lock);
    }
    if (following && --followers_ == 0 && !driving_ && background_waits_for_release_) {
      background_cv_.notify_all();  // it waited for the followers, which are gone
    }
  }

 private:
  Driver() : work_(service().get_executor()), background_([this] { run_background(); }) {}

  // Runs the io_service until done(); `lock` is held on entry and exit.
  void drive(std::unique_lock<std::mutex>& lock, const std::function<bool()>& done) {
    driving_ = true;
    this_thread_drives = true;
    lock.unlock();
    run_until(done, kBackstop);
    lock.lock();
    release();
  }

  // REQUIRES: mu_ held.
  void release() {
    driving_ = false;
    this_thread_drives = false;
    released_at_ = Clock::now();
    if (followers_ > 0) followers_cv_.notify_all();
    // The background thread needs to hear once, to start its quiet timer.
    if (background_waits_for_release_) background_cv_.notify_all();
  }

  void run_background() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (driving_ || followers_ > 0) {
        background_waits_for_release_ = true;
        background_cv_.wait(lock);
        background_waits_for_release_ = false;
        continue;
      }
      if (const auto until = released_at_ + kQuiet; Clock::now() < until) {
        background_cv_.wait_until(lock, until);
        continue;
      }
      driving_ = true;
      background_driving_ = true;
      this_thread_drives = true;
      lock.unlock();
      // A follower that wants the role nudges; give way after that handler.
      run_until([this] { return should_give_way(); }, kBackstop);
      lock.lock();
      background_driving_ = false;
      release();
    }
  }

  bool should_give_way() {
    std::lock_guard lock(mu_);
    return stop_ || followers_ > 0;
  }

  std::mutex mu_;
  std::condition_variable followers_cv_;       // the role is free, or a task is done
  std::condition_variable background_cv_;      // the role is free, or stop
  bool driving_ = false;                       // REQUIRES: mu_ held
  bool background_driving_ = false;            // REQUIRES: mu_ held
  bool background_waits_for_release_ = false;  // REQUIRES: mu_ held
  int followers_ = 0;                          // REQUIRES: mu_ held; waiting while others drive
  bool stop_ = false;                          // REQUIRES: mu_ held
  Clock::time_point released_at_{};            // REQUIRES: mu_ held
  // Without pool threads nothing else keeps the io_service from running out
  // of work, and run_one_for() would return at once instead of waiting.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread background_;
};

}  // namespace

bool callers_drive() { return caller_driven.load(std::memory_order_acquire); }

void wait(const std::function<bool()>& done,
          const std::function<void(std::function<void()>)>& subscribe) {
  Driver::instance().wait(done, subscribe);
}

void nudge() {
  if (callers_drive()) boost::asio::post(service(), [] {});
}

void extra_driver_until(const std::function<bool()>& done) {
  // Not a driver in the sense above: it may finish a task whose waiter then
  // sleeps on until the safety net wakes it. Rare, and only while this runs.
  std::thread extra([&done] {
    this_thread_drives = true;  // a handler here that waits runs the I/O itself
    run_until(done, std::chrono::milliseconds(10));
  });
  extra.join();
}

void start_caller_driven() {
  Driver::instance();
  caller_driven.store(true, std::memory_order_release);
}

}  // namespace kube::io
