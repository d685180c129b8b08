// stagger: staggered pod lifetimes for an app that crashes about L seconds
// after each start.
//
// plan() is a pure function: observed pods + the app Deployment's replicas +
// now -> a few actions and the time of the next deadline. It keeps no memory;
// the little state it needs lives on the Deployment (spec.replicas and the
// annotation kSurgeAnnotation) and on the pods (kDeletionCostAnnotation), so
// any reconcile, after any restart, reaches the same decision.
//
// Vocabulary (N desired replicas, L lifetime, m margin, lead = how long a
// new pod takes from creation to Ready, learned by StartupEstimator, plus
// kReadySettle, after which the pod it replaces may go):
//   base      the replicas that serve steadily: spec.replicas - surge.
//   surge     extra replicas whose pods stand in for the pods being replaced
//             (make before break): the first `surge` pods in retirement order.
//   deadline  container start + L - m: the pod must be gone by then.
//   due       when the pod's replacement starts: deadline - lead, or earlier
//             so that due times stay a gap apart (respread).
//   gap       (L - m - lead) / N. The S = L / N cannot be kept: a pod
//             may serve only L - m and its successor needs lead to be Ready,
//             so replacements come every (L - m - lead) / N on average.
//
// A replacement: surge (spec.replicas + 1) when a pod is due; once the surge
// pod is Ready, retire the pod it stands in for through the Eviction API (so
// PodDisruptionBudgets and tools that watch evictions see it), in one of two
// ways:
//   give back  EvictPod + SetReplicas(-1). Should the ReplicaSet replace the
//              evicted pod before it sees the lower count, the replacement
//              is the newest, unready pod, and the one it removes again.
//   hand over  EvictPod alone, when the next pod is due as well: the
//              ReplicaSet's fresh pod is that pod's replacement.
// A pod is only retired while the others hold `base` Ready replicas: never
// before its replacement is Ready. A PodDisruptionBudget's refusal (429)
// stops the plan there; the next reconcile plans again.
// A crashed pod (it ran >= L / 2, then crashed) is due at once; beyond the
// surge limit it is evicted outright (the budget admits unhealthy pods).
// A late replacement (a pod still serving at its deadline, L - m after its
// start) is reported in Plan::late_pods; its slow start-up raises the lead
// of the next replacements (StartupEstimator keeps the most recent ones).
// During a template rollout the Deployment's own rolling update (max surge
// 1, none unavailable) replaces pods make-before-break; plan() only points
// the ReplicaSet at the old pod nearest its end (MarkForDeletion), which it
// would otherwise keep longest (it removes the youngest first). After the
// change, the lifetime learned for the old template is kept while one pod of
// the new one, the canary, runs to its end to show whether it still holds.
// Start-up and scale-up raise the base by one once the newest pod is Ready
// and L / N (start_interval while L is unknown) has passed since its
// creation.
//
// Protocol the reconciler implements (it reads and writes nothing else):
//   read   Deployment spec.replicas                  -> Observed::deployment_replicas
//          Deployment annotation sreracha.io/surge   -> Observed::surge (absent = 0)
//          pod annotation ...pod-deletion-cost       -> PodView::deletion_cost
//   write  SetReplicas      spec.replicas = replicas and annotation
//                           sreracha.io/surge = "<surge>" in ONE write of the
//                           Deployment, so the two never disagree.
//          MarkForDeletion  pod annotation controller.kubernetes.io/pod-deletion-cost
//                           = "-2147483648".
//          EvictPod         POST pods/<name>/eviction; 404 = done, 429 (the
//                           PodDisruptionBudget has no room yet: its status
//                           lags the surge pod's Ready) = stop, plan again.
// Actions are ordered, with at most one SetReplicas, always last (so it can
// ride on the Deployment apply after the pod writes). Execute them in order,
// stop at the first failure and let the next reconcile re-plan from what it
// observes: every prefix of a plan leaves a state plan() continues from.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sreracha::stagger {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Seconds = std::chrono::seconds;

inline constexpr std::string_view kSurgeAnnotation = "sreracha.io/surge";
// On the app's pod template: a hash of the template itself, so a pod tells
// which template it was made from (rollouts, resetting the learned lifetime).
inline constexpr std::string_view kTemplateHashAnnotation = "sreracha.io/template-hash";
inline constexpr std::string_view kDeletionCostAnnotation =
    "controller.kubernetes.io/pod-deletion-cost";
// The lowest cost the API accepts (int32), so no user-set cost ranks below a
// pod we retire. Also how plan() recognises its own marks.
inline constexpr int kRetireDeletionCost = std::numeric_limits<std::int32_t>::min();

// One pod of the app Deployment, as observed.
struct PodView {
  std::string name;
  bool terminating = false;        // metadata.deletionTimestamp set: ignored for counting
  bool scheduled = false;          // spec.nodeName set
  bool ready = false;              // Ready condition True
  bool container_running = false;  // app container state.running present
  std::optional<TimePoint> container_started;  // state.running.startedAt
  std::optional<TimePoint> created;            // metadata.creationTimestamp
  std::optional<TimePoint> ready_since;        // Ready condition's lastTransitionTime, when Ready
  std::string template_hash;                   // kTemplateHashAnnotation ("" when absent)
  int restart_count = 0;
  // lastState.terminated finishedAt - startedAt, only when exitCode != 0.
  std::optional<Seconds> last_crash_runtime;
  std::optional<int> deletion_cost;  // kDeletionCostAnnotation, when it parses as an int
};

// The lead before any start-up has been observed.
inline constexpr Seconds kDefaultStartup{5};

struct Params {
  int desired_replicas = 1;  // N
  // L, from spec.stagger.appLifetimeSeconds or learn_lifetime(); unset or 0:
  // a stable app, staggered start-up only, no replacements.
  std::optional<Seconds> lifetime;
  Seconds margin{5};           // m, spec.stagger.recycleMarginSeconds
  Seconds start_interval{10};  // start-up spacing when L is unknown
  // The lead: creation -> Ready of a new pod (schedule, start, readiness
  // probe), from StartupEstimator or spec.stagger.startupSeconds. Too small
  // and the old pod reaches its deadline first (the margin m absorbs some);
  // too large and pods are replaced early. Capped at (L - m) / 2.
  Seconds startup_allowance{kDefaultStartup};
  // Most surge replicas at once; 0 = ceil(lead / gap) + 1: replacements start
  // a gap apart and take about lead each, plus one so a crash need not wait.
  // While gap >= lead (N <= 4 at L = 30 s) scheduled replacements do not
  // overlap: one in flight. Beyond that one at a time cannot keep up.
  int max_surge = 0;
  // A pod that runs to its end instead of being replaced on schedule: while
  // `lifetime` was learned for an earlier template, it shows whether the
  // new one still crashes (canary()). Replaced like any other once it crashes.
  std::string canary;
};

struct Observed {
  std::vector<PodView> pods;    // the app Deployment's pods, any order
  int deployment_replicas = 0;  // spec.replicas of the app Deployment
  int surge = 0;                // annotation kSurgeAnnotation (absent = 0)
  // The Deployment is rolling out a template change: pods of an older
  // template exist, status.updatedReplicas < status.replicas. Not compared
  // with spec.replicas or metadata.generation: plan()'s own replica changes
  // move those ahead of the status for a moment, which is no rollout.
  bool rollout_in_progress = false;
  // kTemplateHashAnnotation of the template as rendered now: pods with
  // another hash are of an older template. "" = unknown.
  std::string template_hash;
};

// Why an action is taken; for events (PodRecycled) and metrics labels.
enum class Reason {
  StartUp,    // staggered start-up or scale-up
  Lifetime,   // the pod reached its due time (deadline - lead)
  Crashed,    // the pod's container crashed at the end of its life
  Respread,   // replaced before its deadline to keep starts a gap apart
  ScaleDown,  // fewer replicas desired
  Rollout,    // an old-template pod pointed out to a rolling update
};
std::string_view to_string(Reason reason);

struct Action {
  enum class Kind { SetReplicas, MarkForDeletion, EvictPod };
  Kind kind = Kind::SetReplicas;
  Reason reason = Reason::StartUp;
  int replicas = 0;  // SetReplicas: spec.replicas
  int surge = 0;     // SetReplicas: annotation kSurgeAnnotation
  std::string pod;   // MarkForDeletion, EvictPod

  bool operator==(const Action&) const = default;
};

struct Plan {
  std::vector<Action> actions;
  // Reconcile again after this long (the next deadline); unset: only when
  // something changes. Short (kPollInterval) while waiting for a pod to become
  // Ready or for the ReplicaSet to act: pod events also trigger reconciles.
  std::optional<std::chrono::milliseconds> requeue_after;
  // Pods still serving at or past their deadline (L - m after their start):
  // their replacement is late. Reported every plan while it lasts.
  std::vector<std::string> late_pods;
};

inline constexpr std::chrono::milliseconds kPollInterval{1000};
// How long a replacement must have been Ready (by its Ready condition's
// lastTransitionTime, whole seconds) before the pod it stands in for is
// retired: the endpoint controller needs a moment to publish it.
inline constexpr Seconds kReadySettle{2};
inline constexpr std::chrono::milliseconds kRolloutPollInterval{5000};

// The plan for now. Invariants of what it returns:
//  - ready pods never drop below base because of these actions (a pod is
//    retired only when the others hold base ready replicas);
//  - a plan that lowers spec.replicas raises nothing, and while more pods
//    live than spec.replicas asks for (the ReplicaSet has yet to remove
//    one) plan() only waits;
//  - during a rollout it returns at most one MarkForDeletion, on a pod of
//    an older template.
Plan plan(const Observed& observed, TimePoint now, const Params& params);

// L learned from crashes: the median (lower middle) of the pods' last
// non-zero-exit runtimes; unset when no pod shows one. The reconciler keeps
// the last learned value in status.stagger.observedLifetimeSeconds and uses it
// while no pod shows a crash, which is the normal state once plan() replaces
// pods before they crash.
// Only pods of `template_hash` count (all when it is "").
std::optional<Seconds> learn_lifetime(const std::vector<PodView>& pods,
                                      std::string_view template_hash = {});

// After a template change, the lifetime learned for the old template is kept
// for the new one's pods until one of them shows whether it still holds: the
// pod of `template_hash` running longest, which plan() lets run to its end
// (Params::canary). Empty when no such pod runs.
std::string canary(const std::vector<PodView>& pods, std::string_view template_hash);

// A canary that ran this many lifetimes without crashing shows a fixed app:
// the old lifetime is forgotten and nothing is recycled until a crash.
inline constexpr int kCanaryLifetimes = 2;

// Whether the schedule can keep replicas from ending together: with
// lifetime <= lead x N two replicas reach their end inside one lead window,
// and a late start takes both. Returns why not, or nothing (also when there
// is no schedule: no lifetime, or 0).
std::optional<std::string> unsafe_schedule(const Params& params);

// How long new pods take from creation to Ready, learned from the pods an
// instance shows over time. A value type; the reconciler keeps one per
// Sreracha and feeds it every pass.
//
// A sample is a pod's creation -> Ready, taken once per pod, the first time
// it is seen Ready on its first container start (timestamps in whole
// seconds, as the API gives them). estimate() is the higher of the p90
// (nearest rank) of the last kMaxSamples samples and the largest of the
// last kRecentSamples: robust to one slow start among many, yet a late
// replacement's slow start moves the next replacements earlier at once.
// Samples older than kSampleTtl are dropped: the cluster's speed changes.
class StartupEstimator {
 public:
  static constexpr std::size_t kMaxSamples = 20;
  static constexpr std::size_t kRecentSamples = 3;
  static constexpr std::chrono::minutes kSampleTtl{30};

  // Takes a sample from each pod not sampled before. Returns how many.
  int observe(const std::vector<PodView>& pods, TimePoint now);
  // One sample of `startup` (e.g. status.stagger.observedStartupSeconds
  // after an operator restart), only while there is none.
  void seed(Seconds startup, TimePoint now);
  // Whole seconds, rounded up; unset without samples.
  std::optional<Seconds> estimate(TimePoint now) const;
  std::size_t samples() const { return samples_.size(); }

 private:
  struct Sample {
    std::string pod;
    TimePoint at;
    Clock::duration startup;
  };
  std::vector<Sample> samples_;       // oldest first
  std::vector<std::string> sampled_;  // pods sampled that still exist
};

}  // namespace sreracha::stagger
