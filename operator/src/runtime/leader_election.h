// Leader election on a coordination.k8s.io/v1 Lease, with client-go's
// semantics: the leader writes holderIdentity, acquireTime, renewTime,
// leaseDurationSeconds and leaseTransitions; every write is a PUT carrying
// the resourceVersion that was read, so of two candidates racing for the
// same Lease exactly one wins (the other gets 409 Conflict).
//
// Timing (defaults 15 s / 10 s / 2 s):
// - candidates try every retry_period (plus up to 10 % jitter), and at the
//   moment the observed lease expires;
// - the leader renews every retry_period and gives up leading when no renew
//   succeeded for renew_deadline; since renew_deadline < lease_duration, it
//   stops before anyone else may take over;
// - every attempt (each one a get and a create or replace) runs under a
//   Context: for a candidate, renew_deadline from its start; for the leader,
//   until renew_deadline after the start of its last successful renew, the
//   moment it would stop leading anyway. The client gives up (no more
//   retries) at that deadline, so a hung API server cannot keep an attempt,
//   or a leader that believes it still leads, past the lease (client-go's
//   renewDeadline: renewal retried within one RenewDeadline context);
// - a renew counts from the moment it was sent (the renewTime it writes),
//   not from when its answer came back, for the same reason;
// - on stop() the attempt in flight is cancelled; a leader then releases the
//   Lease (holder cleared, duration 1 s) so a candidate takes over at its
//   next try instead of waiting for expiry, as client-go's ReleaseOnCancel.
//   So does a candidate whose cancelled acquire had been sent: the API
//   server may have written it, and the successor must not wait out a lease
//   nobody holds (with client-go it does). The release is conditional on the
//   record it read holding our identity, and gives up when our own renew
//   deadline passes: we release nothing we do not hold.
//
// When does a lease held by another expire? client-go trusts only its own
// clock: expiry = when it first saw the current record + leaseDuration,
// which can make a takeover late by up to one retry period. Here the
// record's renewTime is used instead when it lies within the last
// retry_period * 1.1 before our observation (the window in which the renew
// can have happened anyway), so a clock skew can shift the expiry by at most
// that window, which is less than lease_duration - renew_deadline: the old
// leader has still stopped before the takeover.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/interface.h"
#include "kube/mutex.h"

namespace runtime {

class Gauge;
class MetricsRegistry;

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per process
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

// Threading: start(), stop() from one thread; is_leader() from any.
class LeaderElector {
 public:
  // With `metrics`, exports leader_election_master_status{name=<lease name>}.
  // Throws std::invalid_argument unless lease_duration > renew_deadline > retry_period * 1.2.
  LeaderElector(kube::Interface& client, LeaderElectionConfig config,
                MetricsRegistry* metrics = nullptr);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns on a thread of its own. `on_started_leading` runs once when
  // the lease is acquired; `on_stopped_leading` runs once if leadership is
  // lost (renew deadline passed), not after stop(). Both run on the
  // elector's thread and must return quickly.
  void start(std::function<void()> on_started_leading, std::function<void()> on_stopped_leading);
  // Stops campaigning (cancelling an attempt in flight); a leader releases
  // the Lease. Returns once done: at the latest when the leader's renew
  // deadline passes, however slow the API server.
  void stop();

  // Leading and the last successful renew is within renew_deadline. Turns
  // false by itself when renewing hangs (a blocked API call cannot keep it
  // true).
  bool is_leader() const;
  const LeaderElectionConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;

  void run();
  // One attempt to create, take over or renew the Lease, bounded by `ctx`;
  // true on success.
  bool try_acquire_or_renew(const kube::Context& ctx);
  // Runs `write` (a create or replace of the Lease sent at `sent`), keeping
  // unanswered_write_ set until it returns or throws an API error.
  nlohmann::json write_lease(Clock::time_point sent, const std::function<nlohmann::json()>& write);
  void release();
  // The end of leading unless a renew succeeds first: the start of the last
  // successful write + renew_deadline.
  Clock::time_point leading_until() const;
  // Sleeps until `until` or stop(); false when stopping.
  bool sleep_until(Clock::time_point until);
  Clock::duration jittered_retry() const;
  void set_leading(bool leading);

  kube::Interface& client_;
  const LeaderElectionConfig config_;
  Gauge* master_status_ = nullptr;

  std::function<void()> on_started_;
  std::function<void()> on_stopped_;

  // Touched by the elector thread only (and by stop() after joining it).
  std::string observed_version_;        // resourceVersion of the record last seen
  std::string observed_holder_;         // its holderIdentity
  Clock::time_point observed_renew_{};  // our clock's estimate of its renewTime
  Clock::time_point observed_expiry_{};
  // When our last create or replace of the Lease was sent, if no reply has
  // come since: the API server may have written it, so the Lease may be ours.
  std::optional<Clock::time_point> unanswered_write_;

  std::atomic<bool> leading_{false};
  std::atomic<Clock::rep> last_renew_{0};  // Clock ticks: when the last successful write was sent

  mutable kube::Mutex mu_;
  std::condition_variable wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  kube::CancelToken stop_token_;  // cancelled by stop(): ends an attempt in flight
  std::thread thread_;
};

}  // namespace runtime
