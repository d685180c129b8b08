// stagger: staggered pod lifetimes for an app that crashes about L seconds
// after each start.
//
// plan() is a pure function: observed pods + the app Deployment's replicas +
// now -> a few actions and the time of the next deadline. It keeps no memory;
// the little state it needs lives on the Deployment (spec.replicas and the
// annotation kSurgeAnnotation) and on the pods (kDeletionCostAnnotation), so
// any reconcile, after any restart, reaches the same decision.
//
// Vocabulary (N desired replicas, L lifetime, m margin, lead = start-up
// allowance):
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
// pod is Ready, retire the pod it stands in for, in one of three ways:
//   give back  MarkForDeletion + SetReplicas(-1): the ReplicaSet removes the
//              marked pod. Only when no other pod ranks below it in the
//              ReplicaSet's order (not Ready and Pending pods go before any
//              deletion cost is looked at).
//   delete     DeletePod + SetReplicas(-1), when a starting pod would rank
//              below it. Should the ReplicaSet replace the deleted pod before
//              it sees the lower count, it removes that newest pod again.
//   hand over  DeletePod alone, when the next pod is due as well: the
//              ReplicaSet's fresh pod is that pod's replacement.
// A pod is only retired while the others hold `base` Ready replicas.
// A crashed pod (it ran >= L / 2, then crashed) is due at once; beyond the
// surge limit it is deleted outright. Start-up and scale-up raise the base
// by one once the newest pod is Ready and L / N (start_interval while L is
// unknown) has passed since its creation.
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
//          DeletePod        plain DELETE of the pod; 404 = done. Not an
//                           eviction: the PDB counts the starting surge pod
//                           as unavailable and would refuse, while plan() has
//                           already checked that Ready pods stay >= base.
// Actions are ordered, with at most one SetReplicas, always last (so it can
// ride on the Deployment apply after the pod writes). Execute them in order,
// stop at the first failure and let the next reconcile re-plan from what it
// observes: every prefix of a plan leaves a state plan() continues from.
#pragma once

#include <chrono>
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
  int restart_count = 0;
  // lastState.terminated finishedAt - startedAt, only when exitCode != 0.
  std::optional<Seconds> last_crash_runtime;
  std::optional<int> deletion_cost;  // kDeletionCostAnnotation, when it parses as an int
};

struct Params {
  int desired_replicas = 1;  // N
  // L, from spec.stagger.appLifetimeSeconds or learn_lifetime(); unset or 0:
  // a stable app, staggered start-up only, no replacements.
  std::optional<Seconds> lifetime;
  Seconds margin{5};           // m, spec.stagger.recycleMarginSeconds
  Seconds start_interval{10};  // start-up spacing when L is unknown
  // Creation -> Ready of a new pod (schedule, start, readiness probe). Too
  // small and the old pod reaches its deadline first (the margin absorbs a
  // little); too large and pods are replaced early. Capped at (L - m) / 2.
  Seconds startup_allowance{5};
  // Most surge replicas at once; 0 = ceil(lead / gap) + 1: replacements start
  // a gap apart and take about lead each, plus one so a crash need not wait.
  // While gap >= lead (N <= 4 at L = 30 s) scheduled replacements do not
  // overlap: one in flight. Beyond that one at a time cannot keep up.
  int max_surge = 0;
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
};

// Why an action is taken; for events (PodRecycled) and metrics labels.
enum class Reason {
  StartUp,    // staggered start-up or scale-up
  Lifetime,   // the pod reached its due time (deadline - lead)
  Crashed,    // the pod's container crashed at the end of its life
  Respread,   // replaced before its deadline to keep starts a gap apart
  ScaleDown,  // fewer replicas desired
};
std::string_view to_string(Reason reason);

struct Action {
  enum class Kind { SetReplicas, MarkForDeletion, DeletePod };
  Kind kind = Kind::SetReplicas;
  Reason reason = Reason::StartUp;
  int replicas = 0;  // SetReplicas: spec.replicas
  int surge = 0;     // SetReplicas: annotation kSurgeAnnotation
  std::string pod;   // MarkForDeletion, DeletePod

  bool operator==(const Action&) const = default;
};

struct Plan {
  std::vector<Action> actions;
  // Reconcile again after this long (the next deadline); unset: only when
  // something changes. Short (kPollInterval) while waiting for a pod to become
  // Ready or for the ReplicaSet to act: pod events also trigger reconciles.
  std::optional<std::chrono::milliseconds> requeue_after;
};

inline constexpr std::chrono::milliseconds kPollInterval{1000};
inline constexpr std::chrono::milliseconds kRolloutPollInterval{5000};

// The plan for now. Invariants of what it returns:
//  - ready pods never drop below base because of these actions (a pod is
//    retired only when the others hold base ready replicas);
//  - a plan that lowers spec.replicas raises nothing, and while more pods
//    live than spec.replicas asks for (the ReplicaSet has yet to remove
//    one) plan() only waits;
//  - during a rollout it returns no actions.
Plan plan(const Observed& observed, TimePoint now, const Params& params);

// L learned from crashes: the median (lower middle) of the pods' last
// non-zero-exit runtimes; unset when no pod shows one. The reconciler keeps
// the last learned value in status.stagger.observedLifetimeSeconds and uses it
// while no pod shows a crash, which is the normal state once plan() replaces
// pods before they crash.
std::optional<Seconds> learn_lifetime(const std::vector<PodView>& pods);

}  // namespace sreracha::stagger
