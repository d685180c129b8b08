// A discrete-event simulation of one app Deployment on a cluster, for
// testing the stagger planner against the app's crash behaviour.
//
// Modelled, in simulated milliseconds:
//  - the app: crashes (exit != 0) `lifetime` +- `lifetime_jitter` after each
//    container start;
//  - the kubelet: a new pod is scheduled, its container started and Ready
//    after a start-up of startup_min..startup_max (or log-normal, heavy
//    tailed); after a crash the
//    container waits out CrashLoopBackOff (10 s doubling, capped at 300 s),
//    restarts and is Ready again after restart_ready_min..max;
//  - the Deployment and ReplicaSet controllers, each controller_latency
//    behind: the Deployment's spec.replicas reaches the ReplicaSet after
//    one hop more than a pod deletion does; the ReplicaSet creates pods up
//    to its replicas or deletes the surplus in its real order (unscheduled,
//    Pending, not Ready first; then the lower pod-deletion-cost; then ready
//    for less time, more restarts, newer);
//  - endpoints: a deleted pod leaves them at once and disappears from the
//    API after `termination`;
//  - the operator: plan() runs reconcile_latency after any pod change and at
//    every requeue_after, with the lead a StartupEstimator learns from the
//    pods; its actions are applied at once (evictions as deletions: no
//    budget is modelled). Timestamps it sees
//    are truncated to whole seconds, as the API reports them.
// Without the operator the Deployment simply runs `replicas` pods started
// together: the baseline.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sreracha/stagger.h"

namespace sreracha::stagger::sim {

using Millis = std::int64_t;  // simulated time since the start, in ms

struct Config {
  int replicas = 2;
  bool with_operator = true;
  // Passed to the planner as Params::lifetime; unset: learned from crashes.
  std::optional<Seconds> configured_lifetime = Seconds{30};
  double hours = 24;
  std::uint64_t seed = 1;

  Millis lifetime = 30'000;
  Millis lifetime_jitter = 1'000;
  Millis startup_min = 2'000;  // pod created -> Ready
  Millis startup_max = 5'000;
  // When set, start-ups are log-normal with this median and 99th percentile
  // instead (a heavy tail: slow image starts, a busy node), at most 60 s.
  Millis startup_median = 0;
  Millis startup_p99 = 0;
  // The lead as the reconciler sets it: learned from the pods' start-ups by
  // a StartupEstimator. Otherwise Params' default.
  bool learn_startup = true;
  Millis restart_ready_min = 1'000;  // container restarted -> Ready
  Millis restart_ready_max = 3'000;
  Millis reconcile_latency = 100;
  Millis controller_latency = 50;
  Millis termination = 1'000;
  // The "after warm-up" measures ignore the first minutes (start-up,
  // learning L, respreading).
  Millis warm_up = 10 * 60'000;
  // The operator is down (no reconciles) during [outage_start, outage_end).
  Millis outage_start = -1;
  Millis outage_end = -1;
};

struct Result {
  Millis duration = 0;
  Millis first_ready = -1;  // first moment with a Ready pod
  Millis all_ready = -1;    // end of start-up: first moment with `replicas` Ready pods
  Millis zero_ready = 0;    // time without a Ready pod, from first_ready
  Millis zero_ready_after_warm_up = 0;
  int min_ready_after_all_ready = 1 << 30;
  int min_ready_after_warm_up = 1 << 30;
  int crashes = 0;
  int crashes_after_warm_up = 0;
  int recycles = 0;              // pods the operator retired (evicted or marked)
  int late_replacements = 0;     // pods reported late by the planner, each once
  Seconds max_lead{0};           // the largest lead the operator planned with
  int plans_breaking_order = 0;  // a SetReplicas not last, or two of them
  int max_deployment_replicas = 0;
  std::vector<Millis> starts_after_warm_up;  // container starts, in order

  double zero_ready_fraction() const {
    const Millis window = first_ready < 0 ? duration : duration - first_ready;
    return window <= 0 ? 1.0 : static_cast<double>(zero_ready) / static_cast<double>(window);
  }
  std::vector<Millis> start_gaps() const {
    std::vector<Millis> gaps;
    for (std::size_t i = 1; i < starts_after_warm_up.size(); ++i) {
      gaps.push_back(starts_after_warm_up[i] - starts_after_warm_up[i - 1]);
    }
    std::sort(gaps.begin(), gaps.end());
    return gaps;
  }
  Millis min_start_gap() const {
    auto gaps = start_gaps();
    return gaps.empty() ? -1 : gaps.front();
  }
  Millis median_start_gap() const {
    auto gaps = start_gaps();
    return gaps.empty() ? -1 : gaps[gaps.size() / 2];
  }
};

class Simulation {
 public:
  explicit Simulation(Config config) : config_(config), rng_state_(config.seed) {}

  Result run() {
    const Millis end = static_cast<Millis>(config_.hours * 3600'000.0);
    result_.duration = end;
    if (config_.with_operator) {
      request_reconcile(0);
    } else {
      replicas_ = replicaset_replicas_ = config_.replicas;
      result_.max_deployment_replicas = replicas_;
      for (int i = 0; i < replicas_; ++i) create_pod();
    }
    while (!events_.empty() && events_.top().at <= end) {
      const Event event = events_.top();
      events_.pop();
      advance_to(event.at);
      handle(event);
    }
    advance_to(end);
    return result_;
  }

 private:
  enum class Kind {
    Scheduled,
    ContainerStart,
    Ready,
    Crash,
    Gone,
    DeploymentSync,
    ReplicaSetSync,
    Reconcile
  };
  struct Event {
    Millis at;
    std::uint64_t seq;  // FIFO among equal times: deterministic
    Kind kind;
    int pod;          // pod id, or -1
    int incarnation;  // container start the event belongs to
    bool operator>(const Event& other) const {
      return std::tie(at, seq) > std::tie(other.at, other.seq);
    }
  };
  struct Pod {
    int id = 0;
    Millis created = 0;
    Millis ready_at_first = 0;  // planned first Ready (start-up)
    bool scheduled = false;
    bool running = false;
    bool ready = false;
    bool terminating = false;
    Millis started = 0;
    Millis ready_since = 0;
    int restarts = 0;
    int incarnation = 0;
    std::optional<Millis> last_crash_runtime;
    std::optional<int> deletion_cost;
  };

  // Uniform in [lo, hi], from splitmix64: the same on every platform.
  Millis uniform(Millis lo, Millis hi) {
    std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return lo + static_cast<Millis>(z % static_cast<std::uint64_t>(hi - lo + 1));
  }

  void push(Millis at, Kind kind, int pod = -1, int incarnation = 0) {
    events_.push({at, seq_++, kind, pod, incarnation});
  }

  Pod* find(int id) {
    for (Pod& pod : pods_) {
      if (pod.id == id) return &pod;
    }
    return nullptr;
  }

  int ready_count() const {
    return static_cast<int>(std::count_if(pods_.begin(), pods_.end(),
                                          [](const Pod& p) { return p.ready && !p.terminating; }));
  }

  // Integrates the readiness measures over [now_, at).
  void advance_to(Millis at) {
    const int ready = ready_count();
    if (ready == 0 && result_.first_ready >= 0) {
      result_.zero_ready += at - now_;
      result_.zero_ready_after_warm_up += std::max<Millis>(0, at - std::max(now_, config_.warm_up));
    }
    if (at > config_.warm_up && at > now_) {
      result_.min_ready_after_warm_up = std::min(result_.min_ready_after_warm_up, ready);
    }
    now_ = at;
  }

  // Called after every change of pod state: measures and wakes the operator.
  void pod_changed() {
    const int ready = ready_count();
    if (ready > 0 && result_.first_ready < 0) result_.first_ready = now_;
    // Start-up is over once the base (replicas less surge) is complete and
    // Ready; without the operator, once all pods are Ready.
    const bool base_complete = !config_.with_operator || replicas_ - surge_ >= config_.replicas;
    if (ready >= config_.replicas && base_complete && result_.all_ready < 0) {
      result_.all_ready = now_;
    }
    if (result_.all_ready >= 0) {
      result_.min_ready_after_all_ready = std::min(result_.min_ready_after_all_ready, ready);
    }
    if (now_ >= config_.warm_up) {
      result_.min_ready_after_warm_up = std::min(result_.min_ready_after_warm_up, ready);
    }
    if (config_.with_operator) request_reconcile(now_ + config_.reconcile_latency);
  }

  void request_reconcile(Millis at) {
    if (next_reconcile_ && *next_reconcile_ <= at) return;
    next_reconcile_ = at;
    push(at, Kind::Reconcile);
  }

  // Standard normal, Box-Muller over two uniforms.
  double normal() {
    constexpr Millis kSteps = 1'000'000;
    const double u1 = (static_cast<double>(uniform(1, kSteps)) - 0.5) / kSteps;
    const double u2 = static_cast<double>(uniform(0, kSteps)) / kSteps;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
  }

  Millis startup() {
    if (config_.startup_median <= 0) return uniform(config_.startup_min, config_.startup_max);
    // p99 = median * exp(2.326 sigma)
    const double sigma = std::log(static_cast<double>(config_.startup_p99) /
                                  static_cast<double>(config_.startup_median)) /
                         2.326;
    const double value = static_cast<double>(config_.startup_median) * std::exp(sigma * normal());
    return std::clamp<Millis>(static_cast<Millis>(value), 500, 60'000);
  }

  void create_pod() {
    Pod pod;
    pod.id = next_pod_id_++;
    pod.created = now_;
    pod.ready_at_first = now_ + startup();
    push(now_ + uniform(50, 300), Kind::Scheduled, pod.id);
    pods_.push_back(pod);
    pod_changed();
  }

  void start_container(Pod& pod, Millis ready_at) {
    pod.running = true;
    pod.started = now_;
    ++pod.incarnation;
    if (now_ >= config_.warm_up) result_.starts_after_warm_up.push_back(now_);
    push(ready_at, Kind::Ready, pod.id, pod.incarnation);
    push(now_ + uniform(config_.lifetime - config_.lifetime_jitter,
                        config_.lifetime + config_.lifetime_jitter),
         Kind::Crash, pod.id, pod.incarnation);
    pod_changed();
  }

  void delete_pod(Pod& pod) {
    if (pod.terminating) return;
    pod.terminating = true;
    pod.ready = false;  // out of the endpoints at once
    push(now_ + config_.termination, Kind::Gone, pod.id);
    push(now_ + config_.controller_latency, Kind::ReplicaSetSync);
    pod_changed();
  }

  // The ReplicaSet's scale-down order (pkg/controller ActivePodsWithRanks),
  // less the criteria that cannot differ here.
  static bool deleted_before(const Pod& a, const Pod& b) {
    auto key = [](const Pod& p) {
      return std::make_tuple(p.scheduled, p.running || p.restarts > 0, p.ready,
                             p.deletion_cost.value_or(0), -p.ready_since, -p.restarts, -p.created,
                             -p.id);
    };
    return key(a) < key(b);
  }

  void replicaset_sync() {
    std::vector<Pod*> active;
    for (Pod& pod : pods_) {
      if (!pod.terminating) active.push_back(&pod);
    }
    const int diff = replicaset_replicas_ - static_cast<int>(active.size());
    if (diff > 0) {
      for (int i = 0; i < diff; ++i) create_pod();
    } else if (diff < 0) {
      std::sort(active.begin(), active.end(),
                [](const Pod* a, const Pod* b) { return deleted_before(*a, *b); });
      for (int i = 0; i < -diff; ++i) delete_pod(*active[static_cast<std::size_t>(i)]);
    }
  }

  TimePoint to_api_time(Millis t) const {
    // The API reports RFC 3339 seconds: truncate.
    return epoch_ + std::chrono::duration_cast<Seconds>(std::chrono::milliseconds{t});
  }

  void reconcile() {
    next_reconcile_.reset();
    if (now_ >= config_.outage_start && now_ < config_.outage_end) {
      return request_reconcile(config_.outage_end);  // the operator's first reconcile when back
    }
    Observed observed;
    observed.deployment_replicas = replicas_;
    observed.surge = surge_;
    for (const Pod& p : pods_) {
      PodView view;
      view.name = "pod-" + std::to_string(p.id);
      view.terminating = p.terminating;
      view.scheduled = p.scheduled;
      view.ready = p.ready;
      view.container_running = p.running;
      if (p.running) view.container_started = to_api_time(p.started);
      view.created = to_api_time(p.created);
      if (p.ready) view.ready_since = to_api_time(p.ready_since);
      view.restart_count = p.restarts;
      if (p.last_crash_runtime) {
        view.last_crash_runtime =
            std::chrono::duration_cast<Seconds>(std::chrono::milliseconds{*p.last_crash_runtime});
      }
      view.deletion_cost = p.deletion_cost;
      observed.pods.push_back(view);
    }
    Params params;
    params.desired_replicas = config_.replicas;
    params.lifetime = config_.configured_lifetime;
    if (!params.lifetime) {
      // What the reconciler does: learn, and remember the last value learned.
      if (auto learned = learn_lifetime(observed.pods)) remembered_lifetime_ = learned;
      params.lifetime = remembered_lifetime_;
    }
    const TimePoint now = epoch_ + std::chrono::milliseconds{now_};
    if (config_.learn_startup) {
      startups_.observe(observed.pods, now);
      params.startup_allowance =
          std::max(startups_.estimate(now).value_or(kDefaultStartup), Seconds{1});
    }
    result_.max_lead = std::max(result_.max_lead, params.startup_allowance);
    const Plan plan = stagger::plan(observed, now, params);
    for (const auto& name : plan.late_pods) {
      if (late_.insert(name).second) ++result_.late_replacements;
    }
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      if (plan.actions[i].kind == Action::Kind::SetReplicas && i + 1 != plan.actions.size()) {
        ++result_.plans_breaking_order;
      }
      apply(plan.actions[i]);
    }
    if (plan.requeue_after) request_reconcile(now_ + plan.requeue_after->count());
  }

  Pod* by_name(const std::string& name) {
    for (Pod& pod : pods_) {
      if ("pod-" + std::to_string(pod.id) == name) return &pod;
    }
    return nullptr;
  }

  void apply(const Action& action) {
    switch (action.kind) {
      case Action::Kind::SetReplicas:
        replicas_ = action.replicas;
        surge_ = action.surge;
        result_.max_deployment_replicas = std::max(result_.max_deployment_replicas, replicas_);
        push(now_ + config_.controller_latency, Kind::DeploymentSync);
        break;
      case Action::Kind::MarkForDeletion:
        if (Pod* pod = by_name(action.pod)) {
          pod->deletion_cost = kRetireDeletionCost;
          ++result_.recycles;
        }
        break;
      case Action::Kind::EvictPod:  // no budget modelled: plan() already keeps base Ready
        if (Pod* pod = by_name(action.pod)) {
          if (!pod->terminating) ++result_.recycles;
          delete_pod(*pod);
        }
        break;
    }
  }

  void handle(const Event& event) {
    if (event.kind == Kind::DeploymentSync) {
      replicaset_replicas_ = replicas_;
      return push(now_ + config_.controller_latency, Kind::ReplicaSetSync);
    }
    if (event.kind == Kind::ReplicaSetSync) return replicaset_sync();
    if (event.kind == Kind::Reconcile) {
      if (next_reconcile_ == event.at) reconcile();
      return;
    }
    Pod* pod = find(event.pod);
    if (!pod) return;
    switch (event.kind) {
      case Kind::Scheduled: {
        if (pod->terminating) return;
        pod->scheduled = true;
        const Millis container_at = now_ + uniform(300, 1'000);
        push(container_at, Kind::ContainerStart, pod->id, pod->incarnation);
        pod_changed();
        break;
      }
      case Kind::ContainerStart:
        if (pod->terminating || event.incarnation != pod->incarnation) return;
        if (pod->restarts == 0) {
          start_container(*pod, std::max(pod->ready_at_first, now_ + 500));
        } else {
          start_container(*pod,
                          now_ + uniform(config_.restart_ready_min, config_.restart_ready_max));
        }
        break;
      case Kind::Ready:
        if (pod->terminating || event.incarnation != pod->incarnation || !pod->running) return;
        pod->ready = true;
        pod->ready_since = now_;
        pod_changed();
        break;
      case Kind::Crash: {
        if (pod->terminating || event.incarnation != pod->incarnation || !pod->running) return;
        pod->running = false;
        pod->ready = false;
        pod->last_crash_runtime = now_ - pod->started;
        ++pod->restarts;
        ++result_.crashes;
        if (now_ >= config_.warm_up) ++result_.crashes_after_warm_up;
        // CrashLoopBackOff: 10 s, doubling, capped at 300 s.
        const Millis backoff =
            std::min<Millis>(10'000LL << std::min(pod->restarts - 1, 5), 300'000);
        push(now_ + backoff, Kind::ContainerStart, pod->id, pod->incarnation);
        pod_changed();
        break;
      }
      case Kind::Gone:
        pods_.erase(std::remove_if(pods_.begin(), pods_.end(),
                                   [&](const Pod& p) { return p.id == event.pod; }),
                    pods_.end());
        pod_changed();
        break;
      case Kind::DeploymentSync:
      case Kind::ReplicaSetSync:
      case Kind::Reconcile:
        break;
    }
  }

  Config config_;
  std::uint64_t rng_state_;
  const TimePoint epoch_ = TimePoint{} + std::chrono::hours{24 * 365 * 54};
  Millis now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Pod> pods_;
  int next_pod_id_ = 0;
  int replicas_ = 0;  // the Deployment's spec.replicas
  int surge_ = 0;     // ... and its surge annotation
  int replicaset_replicas_ = 0;
  std::optional<Millis> next_reconcile_;
  std::optional<Seconds> remembered_lifetime_;
  StartupEstimator startups_;
  std::set<std::string> late_;
  Result result_;
};

}  // namespace sreracha::stagger::sim
