// What bounds one call, as Go's context.Context does: a token that cancels it
// from another thread and a deadline after which it gives up. Every
// kube::Interface call takes one; reconcile() gets one from its controller
// (the manager's shutdown token and the reconcile timeout), and passes it on.
//
// A call that ends because of its context throws kube::Cancelled (errors.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace kube {

// Cancels whatever holds a copy of it (watches, waits, calls), from any
// thread. Copies share one state: a copy cancels the same calls.
class CancelToken {
 public:
  CancelToken();  // out of line: State is only complete in context.cpp
  void cancel() noexcept;
  bool cancelled() const noexcept;
  // Sleeps until `until` or until cancelled; false when cancelled.
  bool wait_until(std::chrono::steady_clock::time_point until) const;
  // Internal: lets a call register a callback run by cancel().
  void on_cancel(std::function<void()> callback) const;
  // Internal: on_cancel that can be undone, for a token shared by many
  // calls over time (e.g. one shutdown token). Runs `callback` at once and
  // returns 0 if already cancelled. Callbacks run under the token's lock:
  // they must not call back into the token.
  std::uint64_t add_callback(std::function<void()> callback) const;
  void remove_callback(std::uint64_t id) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

class Context {
 public:
  using Clock = std::chrono::steady_clock;

  // Never cancelled (nobody else holds its token), no deadline.
  Context() = default;
  // Implicit on purpose: a token alone is a context without a deadline.
  Context(CancelToken token) : token_(std::move(token)) {}  // NOLINT(google-explicit-constructor)

  // The same token with a deadline no later than `deadline`.
  Context with_deadline(Clock::time_point deadline) const;
  Context with_timeout(Clock::duration timeout) const {
    return with_deadline(Clock::now() + timeout);
  }

  const CancelToken& token() const { return token_; }
  const std::optional<Clock::time_point>& deadline() const { return deadline_; }
  bool cancelled() const { return token_.cancelled(); }
  bool expired() const { return deadline_ && Clock::now() >= *deadline_; }
  bool done() const { return cancelled() || expired(); }
  // Time left before the deadline, at most `cap` (also without a deadline).
  Clock::duration remaining(Clock::duration cap) const;

  // Throws Cancelled when done(); `what` names the call ("get pods ns/x").
  void check(std::string_view what) const;
  // Sleeps `duration`; throws Cancelled if the context ends first (or would
  // end during the sleep: waiting past the deadline only to fail is worse).
  void sleep_for(Clock::duration duration, std::string_view what) const;

 private:
  CancelToken token_;
  std::optional<Clock::time_point> deadline_;
};

}  // namespace kube
