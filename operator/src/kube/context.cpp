#include "kube/context.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <string>

#include "kube/errors.h"
#include "kube/mutex.h"

namespace kube {

struct CancelToken::State {
  Mutex mu;
  std::condition_variable changed;  // notified by cancel()
  bool cancelled GUARDED_BY(mu) = false;
  std::uint64_t next_id GUARDED_BY(mu) = 1;
  std::map<std::uint64_t, std::function<void()>> callbacks GUARDED_BY(mu);
};

CancelToken::CancelToken() : state_(std::make_shared<State>()) {}

void CancelToken::cancel() noexcept {
  MutexLock lock(state_->mu);
  if (state_->cancelled) return;
  state_->cancelled = true;
  for (auto& [id, callback] : state_->callbacks) {
    try {
      callback();
    } catch (...) {  // cancel() must not throw; a failed abort only delays the call's end
    }
  }
  state_->callbacks.clear();
  state_->changed.notify_all();
}

bool CancelToken::cancelled() const noexcept {
  MutexLock lock(state_->mu);
  return state_->cancelled;
}

bool CancelToken::wait_until(std::chrono::steady_clock::time_point until) const {
  MutexLock lock(state_->mu);
  return !state_->changed.wait_until(lock.native(), until,
                                     [this]() REQUIRES(state_->mu) { return state_->cancelled; });
}

void CancelToken::on_cancel(std::function<void()> callback) const {
  add_callback(std::move(callback));
}

std::uint64_t CancelToken::add_callback(std::function<void()> callback) const {
  MutexLock lock(state_->mu);
  if (state_->cancelled) {
    callback();
    return 0;
  }
  const auto id = state_->next_id++;
  state_->callbacks.emplace(id, std::move(callback));
  return id;
}

void CancelToken::remove_callback(std::uint64_t id) const {
  MutexLock lock(state_->mu);
  state_->callbacks.erase(id);
}

Context Context::with_deadline(Clock::time_point deadline) const {
  Context context = *this;
  if (!context.deadline_ || deadline < *context.deadline_) context.deadline_ = deadline;
  return context;
}

Context::Clock::duration Context::remaining(Clock::duration cap) const {
  if (!deadline_) return cap;
  return std::clamp<Clock::duration>(*deadline_ - Clock::now(), Clock::duration::zero(), cap);
}

void Context::check(std::string_view what) const {
  if (cancelled()) throw Cancelled(false, std::string(what));
  if (expired()) throw Cancelled(true, std::string(what));
}

void Context::sleep_for(Clock::duration duration, std::string_view what) const {
  const auto until = Clock::now() + duration;
  if (deadline_ && until > *deadline_) throw Cancelled(true, std::string(what));
  if (!token_.wait_until(until)) throw Cancelled(false, std::string(what));
}

}  // namespace kube
