#include "kube/io.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <thread>
#include <vector>

#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kube/mutex.h"
#include "kube/thread_name.h"

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
// While a rescue runs, a task may be finished by the rescuer while its
// waiter drives: the waiter looks up this often instead.
constexpr auto kRescuePoll = std::chrono::milliseconds(2);
// The watchdog's heartbeat: one every kBeatPeriod; one not run within kStall
// means no thread is running handlers (the driver is blocked inside one).
// kStall is far above any handler's normal run time and the kQuiet gap.
constexpr auto kBeatPeriod = std::chrono::milliseconds(250);
constexpr auto kStall = std::chrono::milliseconds(100);
// More rescuers than this would mean handlers that block one another in a
// chain; past it the watchdog only logs.
constexpr std::size_t kMaxRescuers = 8;

std::atomic<bool> caller_driven{false};
std::atomic<bool> rescue_active{false};
std::atomic<std::uint64_t> rescue_count{0};
thread_local bool this_thread_drives = false;
thread_local bool this_thread_rescues = false;

boost::asio::io_context& service() { return crossplat::threadpool::shared_instance().service(); }

// Runs handlers on this thread until stop(). A handler that throws is a bug
// elsewhere, but must not leave the driver role taken for good (every later
// wait would sleep forever): it is logged and the loop goes on.
void run_until(const std::function<bool()>& stop) {
  while (!stop()) {
    try {
      service().run_one_for(rescue_active.load(std::memory_order_relaxed) ? kRescuePoll
                                                                          : kBackstop);
    } catch (const std::exception& e) {
      spdlog::error("kube/io: an I/O handler threw: {}", e.what());
    } catch (...) {
      spdlog::error("kube/io: an I/O handler threw a non-standard exception");
    }
  }
}

class Driver {
 public:
  static Driver& instance() {
    static Driver driver;
    return driver;
  }

  ~Driver() {
    {
      MutexLock lock(mu_);
      stop_ = true;
    }
    background_cv_.notify_all();
    watchdog_cv_.notify_all();
    nudge();
    watchdog_.join();
    rescue_active = false;
    std::vector<Rescuer> rescuers;
    {
      MutexLock lock(mu_);  // the watchdog is gone, but rescuers_ is still under mu_
      rescuers.swap(rescuers_);
    }
    for (auto& rescuer : rescuers) rescuer.thread.join();
    background_.join();
    // Run what is still queued (the wake-up of the last wait, at least): a
    // pplx task posted and never run is never freed.
    while (service().poll() > 0) {
    }
  }

  void wait(const std::function<bool()>& done,
            const std::function<void(std::function<void()>)>& subscribe) {
    // Runs as a handler once the task is done, whoever finished it: running
    // makes the driver's run_one_for() return, and wakes this waiter if it
    // follows. Only this one: waking every follower on every completion
    // (a shared condition variable) cost more CPU in context switches than
    // the requests themselves, with a dozen watches waiting.
    auto me = std::make_shared<std::condition_variable>();
    subscribe([this, me] {
      MutexLock lock(mu_);
      me->notify_one();
    });
    if (this_thread_drives) {
      // A handler on a driving thread waits: it runs the I/O itself.
      run_until(done);
      return;
    }
    MutexLock lock(mu_);
    bool following = false;
    while (!done()) {
      if (!driving_) {
        if (following) {
          std::erase(followers_, me.get());
          following = false;
        }
        drive(done);
        break;
      }
      if (!following) {
        following = true;
        followers_.push_back(me.get());
        if (background_driving_) nudge();  // make it give way
        continue;
      }
      me->wait(lock.native());
    }
    if (!following) return;
    std::erase(followers_, me.get());
    if (driving_) return;
    // Woken to take the free role but done meanwhile: hand it on.
    if (!followers_.empty()) {
      followers_.front()->notify_one();
    } else if (background_waits_for_release_) {
      background_cv_.notify_all();  // it waited for the followers, which are gone
    }
  }

 private:
  struct Rescuer {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };

  Driver() : work_(service().get_executor()) {
    // The threads may log until ~Driver joins them, so spdlog's registry (a
    // function-local static, as this is) must outlive this: statics die in
    // the reverse order their construction ended, and a program's first log
    // line may come after this is built (the unit tests' did).
    spdlog::default_logger_raw();
    background_ = std::thread([this] { run_background(); });
    watchdog_ = std::thread([this] { run_watchdog(); });
  }

  // Runs the io_service until done(); mu_ is held on entry and exit, not
  // while it runs.
  void drive(const std::function<bool()>& done) REQUIRES(mu_) {
    driving_ = true;
    this_thread_drives = true;
    {
      MutexUnlock unlock(mu_);
      run_until(done);
    }
    release();
  }

  void release() REQUIRES(mu_) {
    driving_ = false;
    this_thread_drives = false;
    released_at_ = Clock::now();
    if (!followers_.empty()) followers_.front()->notify_one();  // one of them drives next
    // The background thread needs to hear once, to start its quiet timer.
    if (background_waits_for_release_) background_cv_.notify_all();
  }

  void run_background() {
    name_this_thread("kube-io");
    MutexLock lock(mu_);
    while (!stop_) {
      if (driving_ || !followers_.empty()) {
        background_waits_for_release_ = true;
        background_cv_.wait(lock.native());
        background_waits_for_release_ = false;
        continue;
      }
      if (const auto until = released_at_ + kQuiet; Clock::now() < until) {
        background_cv_.wait_until(lock.native(), until);
        continue;
      }
      driving_ = true;
      background_driving_ = true;
      this_thread_drives = true;
      lock.unlock();
      // A follower that wants the role nudges; give way after that handler.
      run_until([this] { return should_give_way(); });
      lock.lock();
      background_driving_ = false;
      release();
    }
  }

  bool should_give_way() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return stop_ || !followers_.empty();
  }

  // Posts heartbeats; starts a rescuer when one is not run in time, and ends
  // the rescue once a thread other than a rescuer runs one again.
  void run_watchdog() {
    name_this_thread("kube-io-dog");
    MutexLock lock(mu_);
    std::uint64_t posted = 0;
    bool warned_at_limit = false;
    while (!stop_) {
      const auto beat = ++posted;
      boost::asio::post(service(), [this, beat] {
        MutexLock beat_lock(mu_);
        beat_ran_ = beat;
        beat_ran_on_rescuer_ = this_thread_rescues;
        watchdog_cv_.notify_all();
      });
      const bool ran = watchdog_cv_.wait_for(
          lock.native(), kStall, [&]() REQUIRES(mu_) { return stop_ || beat_ran_ >= beat; });
      if (stop_) break;
      join_finished_rescuers();
      if (ran && !beat_ran_on_rescuer_) {
        rescue_active = false;  // the drivers run handlers again: rescuers stop
        warned_at_limit = false;
        watchdog_cv_.wait_for(lock.native(), kBeatPeriod, [this]() REQUIRES(mu_) { return stop_; });
        continue;
      }
      if (ran) continue;  // only a rescuer ran it: the stuck handler may still be stuck
      if (rescuers_.size() >= kMaxRescuers) {
        if (!warned_at_limit) {
          spdlog::error("kube/io: {} I/O handlers are blocked at once; not starting more threads",
                        rescuers_.size());
          warned_at_limit = true;
        }
        continue;
      }
      start_rescuer();
    }
  }

  void start_rescuer() REQUIRES(mu_) {
    rescue_active = true;
    rescue_count.fetch_add(1);
    auto finished = std::make_shared<std::atomic<bool>>(false);
    spdlog::debug("kube/io: no I/O handler ran for {} ms; starting rescuer {}", kStall.count(),
                  rescuers_.size() + 1);
    rescuers_.push_back({std::thread([finished] {
                           name_this_thread("kube-io-rescue");
                           this_thread_drives = true;  // a nested wait runs the I/O itself
                           this_thread_rescues = true;
                           run_until([] { return !rescue_active.load(); });
                           finished->store(true);
                         }),
                         finished});
  }

  void join_finished_rescuers() REQUIRES(mu_) {
    std::erase_if(rescuers_, [](Rescuer& rescuer) {
      if (!rescuer.finished->load()) return false;
      rescuer.thread.join();
      return true;
    });
  }

  Mutex mu_;
  std::condition_variable background_cv_;  // the role is free, or stop
  std::condition_variable watchdog_cv_;    // a heartbeat ran, or stop
  bool driving_ GUARDED_BY(mu_) = false;
  bool background_driving_ GUARDED_BY(mu_) = false;
  bool background_waits_for_release_ GUARDED_BY(mu_) = false;
  // Waiting while others drive, each on its own condition variable: woken
  // when its task is done, or (the first) when the role is free.
  std::vector<std::condition_variable*> followers_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  Clock::time_point released_at_ GUARDED_BY(mu_) = {};
  std::uint64_t beat_ran_ GUARDED_BY(mu_) = 0;  // the last heartbeat run
  bool beat_ran_on_rescuer_ GUARDED_BY(mu_) = false;
  std::vector<Rescuer> rescuers_ GUARDED_BY(mu_);  // only the watchdog's thread
  // Without pool threads nothing else keeps the io_service from running out
  // of work, and run_one_for() would return at once instead of waiting.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread background_;
  std::thread watchdog_;
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

struct Alarm::State {
  explicit State(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

Alarm::Alarm(std::chrono::steady_clock::time_point when, std::function<void()> callback)
    : state_(std::make_shared<State>(service())) {
  state_->timer.expires_at(when);
  state_->timer.async_wait(
      [callback = std::move(callback)](const boost::system::error_code& error) {
        if (!error) callback();  // operation_aborted: the Alarm was destroyed first
      });
}

Alarm::~Alarm() {
  // A timer is not safe to touch from two threads at once, and a driver may
  // be running its handler now: cancel it on the I/O service.
  boost::asio::post(service(), [state = state_] { state->timer.cancel(); });
}

void start_caller_driven() {
  Driver::instance();
  caller_driven.store(true, std::memory_order_release);
}

std::uint64_t rescues() { return rescue_count.load(); }

}  // namespace kube::io
