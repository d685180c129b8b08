// The stagger planner on hand-made pod sets. Unless a test says otherwise:
// L = 30 s, m = 5 s, start-up allowance 5 s and kReadySettle 2 s (the lead:
// 7 s), so a pod's replacement is due 18 s after its container started and
// the gap is 18 s / N.
#include "sreracha/stagger.h"

#include <ostream>

#include <gtest/gtest.h>

namespace sreracha::stagger {

// Readable failures: gtest prints Actions with this.
void PrintTo(const Action& a, std::ostream* os) {
  static constexpr const char* kKinds[] = {"SetReplicas", "MarkForDeletion", "EvictPod"};
  *os << kKinds[static_cast<int>(a.kind)] << "(" << to_string(a.reason);
  if (a.kind == Action::Kind::SetReplicas) {
    *os << ", replicas=" << a.replicas << ", surge=" << a.surge;
  } else {
    *os << ", " << a.pod;
  }
  *os << ")";
}

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const TimePoint kNow = TimePoint{} + 1'700'000'000s;

// A pod whose container started `age` ago and is Ready.
PodView serving(const std::string& name, Seconds age) {
  PodView pod;
  pod.name = name;
  pod.scheduled = true;
  pod.ready = true;
  pod.container_running = true;
  pod.container_started = kNow - age;
  pod.created = kNow - age - 2s;
  return pod;
}

// A pod created `age` ago, scheduled, its container not started yet.
PodView starting(const std::string& name, Seconds age) {
  PodView pod;
  pod.name = name;
  pod.scheduled = true;
  pod.created = kNow - age;
  return pod;
}

// A pod whose container crashed after running `runtime`, now in back-off.
PodView crashed(const std::string& name, Seconds runtime) {
  PodView pod;
  pod.name = name;
  pod.scheduled = true;
  pod.restart_count = 1;
  pod.last_crash_runtime = runtime;
  pod.created = kNow - runtime - 10s;
  return pod;
}

Params params(int replicas, std::optional<Seconds> lifetime = 30s) {
  Params p;
  p.desired_replicas = replicas;
  p.lifetime = lifetime;
  return p;
}

Observed observed(std::vector<PodView> pods, int replicas, int surge = 0) {
  Observed o;
  o.pods = std::move(pods);
  o.deployment_replicas = replicas;
  o.surge = surge;
  return o;
}

Action set_replicas(int replicas, int surge, Reason reason) {
  return {Action::Kind::SetReplicas, reason, replicas, surge, {}};
}
Action mark(const std::string& pod, Reason reason) {
  return {Action::Kind::MarkForDeletion, reason, 0, 0, pod};
}
Action evict(const std::string& pod, Reason reason) {
  return {Action::Kind::EvictPod, reason, 0, 0, pod};
}

using Actions = std::vector<Action>;

// --- staggered start-up ------------------------------------------------------

TEST(StaggerStartUp, FirstReplicaAtOnce) {
  const Plan p = plan(observed({}, 0), kNow, params(3));
  EXPECT_EQ(p.actions, Actions{set_replicas(1, 0, Reason::StartUp)});
}

TEST(StaggerStartUp, NextReplicaWaitsUntilTheFirstPodIsSeen) {
  // Replicas already 1, its pod not in the cache yet (seen on the local
  // control plane: the reconcile after the Deployment's creation ran before
  // the pod's ADDED event and raised replicas to 2 at once).
  const Plan p = plan(observed({}, 1), kNow, params(3));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, kPollInterval);
}

TEST(StaggerStartUp, NextReplicaWaitsUntilTheNewestIsReady) {
  const Plan p = plan(observed({starting("a", 3s)}, 1), kNow, params(3));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, kPollInterval);
}

TEST(StaggerStartUp, NextReplicaWaitsForLOverNAfterTheNewestWasCreated) {
  // L / N = 10 s; the pod was created 6 s ago (started 4 s ago).
  const Plan p = plan(observed({serving("a", 4s)}, 1), kNow, params(3));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, milliseconds{4000});
}

TEST(StaggerStartUp, RaisesOneAtATime) {
  // b was created 10 s ago = L / N.
  const Plan p = plan(observed({serving("a", 12s), serving("b", 8s)}, 2), kNow, params(3));
  EXPECT_EQ(p.actions, Actions{set_replicas(3, 0, Reason::StartUp)});
}

TEST(StaggerStartUp, UsesTheStartIntervalWhenLIsUnknown) {
  Params unknown = params(3, std::nullopt);
  unknown.start_interval = 15s;
  const Plan early = plan(observed({serving("a", 10s)}, 1), kNow, unknown);  // created 12 s ago
  EXPECT_TRUE(early.actions.empty());
  EXPECT_EQ(early.requeue_after, milliseconds{3000});
  const Plan later = plan(observed({serving("a", 13s)}, 1), kNow, unknown);
  EXPECT_EQ(later.actions, Actions{set_replicas(2, 0, Reason::StartUp)});
}

TEST(StaggerStartUp, ScaleUpStaggersTheSameWay) {
  // Desired went from 2 to 4; the pods are spread and not due.
  const Plan p = plan(observed({serving("a", 15s), serving("b", 5s)}, 2), kNow, params(4));
  EXPECT_TRUE(p.actions.empty());  // b was created 7 s ago; L / N = 7.5 s
  EXPECT_EQ(p.requeue_after, milliseconds{500});
}

// --- replacement before the crash ---------------------------------------------

TEST(StaggerLifetime, AlreadySpreadPodsWaitForTheNextDueTime) {
  // Gap 9 s; a is due at 18 s of age, in 8 s.
  const Plan p = plan(observed({serving("a", 10s), serving("b", 0s)}, 2), kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, milliseconds{8'000});
}

TEST(StaggerLifetime, SurgesWhenThePodIsDue) {
  const Plan p = plan(observed({serving("a", 20s), serving("b", 10s)}, 2), kNow, params(2));
  EXPECT_EQ(p.actions, Actions{set_replicas(3, 1, Reason::Lifetime)});
  EXPECT_EQ(p.requeue_after, kPollInterval);  // until the surge pod is Ready
}

TEST(StaggerLifetime, WaitsWhileTheSurgePodStarts) {
  const Plan p = plan(observed({serving("a", 22s), serving("b", 12s), starting("c", 2s)}, 3, 1),
                      kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, kPollInterval);
}

TEST(StaggerLifetime, RetiresTheOldestOnceTheSurgePodIsReady) {
  // Through the Eviction API, then the surge is given back.
  const Plan p = plan(observed({serving("b", 14s), serving("a", 24s), serving("c", 1s)}, 3, 1),
                      kNow, params(2));
  EXPECT_EQ(p.actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(2, 0, Reason::Lifetime)}));
}

TEST(StaggerLifetime, AFreshlyReadyReplacementSettlesFirst) {
  // c turned Ready 1 s ago: its endpoint may not be published yet.
  PodView c = serving("c", 3s);
  c.ready_since = kNow - 1s;
  const Observed fresh = observed({serving("b", 14s), serving("a", 24s), c}, 3, 1);
  const Plan wait = plan(fresh, kNow, params(2));
  EXPECT_TRUE(wait.actions.empty());
  // Woken when c has settled, not a poll later: a is near its end.
  EXPECT_EQ(wait.requeue_after, milliseconds{1000});
  c.ready_since = kNow - 1500ms;
  EXPECT_EQ(plan(observed({serving("b", 14s), serving("a", 24s), c}, 3, 1), kNow, params(2))
                .requeue_after,
            milliseconds{500});
  EXPECT_EQ(plan(fresh, kNow + 1s, params(2)).actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(2, 0, Reason::Lifetime)}));
}

TEST(StaggerLifetime, RetiresWhileTheNewestStartUpPodStarts) {
  // N = 9 starting up (base 4 of 9): e, the newest base pod, has not been
  // Ready yet; s, a's replacement, is. Waiting for e as well could let a
  // reach its end: many replicas can take longer than L to start.
  const Plan p = plan(observed({serving("a", 24s), serving("b", 20s), serving("c", 16s),
                                serving("s", 3s), starting("e", 1s)},
                               5, 1),
                      kNow, params(9));
  ASSERT_FALSE(p.actions.empty());
  EXPECT_EQ(p.actions.front(), evict("a", Reason::Lifetime));
}

TEST(StaggerLifetime, TheCanaryRunsToItsEndWithoutHoldingUpTheOthers) {
  // a is the canary of a new template: past its due time, it is left alone,
  // and b, due as well, gets its replacement.
  Params p = params(2);
  p.canary = "a";
  const Observed o = observed({serving("a", 26s), serving("b", 21s)}, 2);
  EXPECT_EQ(plan(o, kNow, p).actions, (Actions{set_replicas(3, 1, Reason::Lifetime)}));
  EXPECT_TRUE(plan(o, kNow, p).late_pods.empty()) << "running to its end is no late replacement";
  // Once it crashed it is replaced like any other.
  p.canary = "c";
  const Plan crashed_canary = plan(observed({crashed("c", 29s), serving("b", 1s)}, 2), kNow, p);
  EXPECT_EQ(crashed_canary.actions, (Actions{set_replicas(3, 1, Reason::Crashed)}));
}

TEST(StaggerLifetime, TheCanaryIsTheLongestRunningPodOfTheTemplate) {
  PodView old_template = serving("a", 50s);
  old_template.template_hash = "old";
  PodView b = serving("b", 20s), c = serving("c", 10s), d = starting("d", 30s);
  b.template_hash = c.template_hash = d.template_hash = "new";
  EXPECT_EQ(canary({old_template, c, b, d}, "new"), "b");
  EXPECT_EQ(canary({old_template, d}, "new"), "") << "none runs yet";
}

TEST(StaggerLifetime, NeverLowersReadyReplicasBelowN) {
  // The surge pod is Ready but b is not (it restarted): retiring a would
  // leave one Ready replica of two.
  PodView b = serving("b", 3s);
  b.ready = false;
  const Plan p = plan(observed({serving("a", 24s), b, serving("c", 1s)}, 3, 1), kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
}

TEST(StaggerLifetime, EvictsThenScalesDownWhileAnotherSurgePodStarts) {
  // N = 4, gap 5 s, two surges: e is Ready, f still starting. a is evicted
  // (a mark would not do: the ReplicaSet removes the starting f first).
  const Plan p = plan(observed({serving("a", 24s), serving("b", 18s), serving("c", 12s),
                                serving("d", 7s), serving("e", 1s), starting("f", 1s)},
                               6, 2),
                      kNow, params(4));
  EXPECT_EQ(p.actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(5, 1, Reason::Lifetime)}));
}

TEST(StaggerLifetime, HandsTheSurgeOverWhenTheNextPodIsDue) {
  // b is due too: delete a and let the ReplicaSet's fresh pod replace b.
  const Plan p = plan(observed({serving("a", 24s), serving("b", 21s), serving("c", 1s)}, 3, 1),
                      kNow, params(2));
  EXPECT_EQ(p.actions, Actions{evict("a", Reason::Lifetime)});
}

TEST(StaggerLifetime, SingleReplicaSurgesThenRetires) {
  const Plan due = plan(observed({serving("a", 20s)}, 1), kNow, params(1));
  EXPECT_EQ(due.actions, Actions{set_replicas(2, 1, Reason::Lifetime)});

  const Plan ready = plan(observed({serving("a", 24s), serving("b", 1s)}, 2, 1), kNow, params(1));
  EXPECT_EQ(ready.actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(1, 0, Reason::Lifetime)}));
  EXPECT_EQ(ready.requeue_after, kPollInterval);
}

TEST(StaggerLifetime, WaitsForTheReplicaSetToRemoveTheMarkedPod) {
  PodView a = serving("a", 25s);
  a.deletion_cost = kRetireDeletionCost;
  const Plan p = plan(observed({a, serving("b", 15s), serving("c", 2s)}, 2), kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, kPollInterval);
}

TEST(StaggerLifetime, FinishesARetirementCutShortBeforeTheScaleDown) {
  // Marked (by a rollout, or an operator before evictions), not removed.
  PodView a = serving("a", 25s);
  a.deletion_cost = kRetireDeletionCost;
  const Plan p = plan(observed({a, serving("b", 15s), serving("c", 2s)}, 3, 1), kNow, params(2));
  EXPECT_EQ(p.actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(2, 0, Reason::Lifetime)}));
}

// --- keeping starts spread ------------------------------------------------------

TEST(StaggerRespread, SynchronizedPodsAreReplacedAGapApart) {
  // Three pods started together: due times 18 s, 12 s and 6 s of age, the
  // first two earlier than their deadlines ask.
  const Observed together = observed({serving("a", 0s), serving("b", 0s), serving("c", 0s)}, 3);
  const Plan p = plan(together, kNow, params(3));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, milliseconds{6000});

  const Plan later = plan(together, kNow + 7s, params(3));
  EXPECT_EQ(later.actions, Actions{set_replicas(4, 1, Reason::Respread)});
}

TEST(StaggerRespread, NoTwoSurgesInOneGapUnlessADeadlineForcesIt) {
  // Ages 21 s and 20 s: both at their own due time, no room to space them.
  const Plan forced =
      plan(observed({serving("a", 21s), serving("b", 20s), serving("c", 2s)}, 3), kNow, params(3));
  EXPECT_EQ(forced.actions, Actions{set_replicas(5, 2, Reason::Lifetime)});

  // Ages 15 s and 14 s: b is due in 6 s, so a a gap before that, now.
  const Plan spaced =
      plan(observed({serving("a", 15s), serving("b", 14s), serving("c", 2s)}, 3), kNow, params(3));
  EXPECT_EQ(spaced.actions, Actions{set_replicas(4, 1, Reason::Respread)});
}

TEST(StaggerRespread, SurgesStopAtTheLimit) {
  Params limited = params(3);
  limited.max_surge = 1;
  const Plan p =
      plan(observed({serving("a", 21s), serving("b", 20s), serving("c", 2s)}, 3), kNow, limited);
  EXPECT_EQ(p.actions, Actions{set_replicas(4, 1, Reason::Lifetime)});
  EXPECT_EQ(p.requeue_after, kPollInterval);
}

// --- crashed pods ------------------------------------------------------------

TEST(StaggerCrashed, CrashedPodGetsASurgeAtOnce) {
  const Plan p = plan(observed({crashed("a", 30s), serving("b", 5s)}, 2), kNow, params(2));
  EXPECT_EQ(p.actions, Actions{set_replicas(3, 1, Reason::Crashed)});
}

TEST(StaggerCrashed, CrashedPodIsRetiredWhenItsReplacementIsReady) {
  const Plan p = plan(observed({serving("b", 5s), crashed("a", 30s), serving("c", 1s)}, 3, 1), kNow,
                      params(2));
  EXPECT_EQ(p.actions, (Actions{evict("a", Reason::Crashed), set_replicas(2, 0, Reason::Crashed)}));
}

TEST(StaggerCrashed, BeyondTheSurgeLimitCrashedPodsAreEvicted) {
  Params limited = params(3);
  limited.max_surge = 1;
  const Plan p =
      plan(observed({crashed("a", 30s), crashed("b", 29s), serving("c", 5s)}, 3), kNow, limited);
  EXPECT_EQ(p.actions, (Actions{evict("b", Reason::Crashed), set_replicas(4, 1, Reason::Crashed)}));
}

TEST(StaggerCrashed, EarlyCrashIsLeftToTheBackOff) {
  // A crash 2 s after start is not the lifetime crash: a fresh pod would
  // likely crash as soon, and churn.
  const Plan p = plan(observed({crashed("a", 2s), serving("b", 5s)}, 2), kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
}

// --- scale-down ------------------------------------------------------------

TEST(StaggerScaleDown, MarksTheOldestAndLowersReplicas) {
  const Plan p =
      plan(observed({serving("c", 5s), serving("a", 15s), serving("d", 1s), serving("b", 10s)}, 4),
           kNow, params(2));
  EXPECT_EQ(p.actions, (Actions{mark("a", Reason::ScaleDown), mark("b", Reason::ScaleDown),
                                set_replicas(2, 0, Reason::ScaleDown)}));
}

TEST(StaggerScaleDown, RemovesPodsThatDoNotServeFirst) {
  // The ReplicaSet would remove the starting pod first anyway.
  const Plan p =
      plan(observed({serving("a", 15s), serving("b", 10s), starting("c", 1s)}, 3), kNow, params(2));
  EXPECT_EQ(p.actions,
            (Actions{mark("c", Reason::ScaleDown), set_replicas(2, 0, Reason::ScaleDown)}));
}

TEST(StaggerScaleDown, ToZero) {
  const Plan p = plan(observed({serving("a", 15s), serving("b", 1s)}, 3, 1), kNow, params(0));
  EXPECT_EQ(p.actions, (Actions{mark("a", Reason::ScaleDown), mark("b", Reason::ScaleDown),
                                set_replicas(0, 0, Reason::ScaleDown)}));
}

// --- unknown and learned lifetime -----------------------------------------------

TEST(StaggerLearn, MedianOfNonZeroExitRuntimes) {
  std::vector<PodView> pods = {crashed("a", 31s), crashed("b", 29s), crashed("c", 30s),
                               serving("d", 3s)};
  EXPECT_EQ(learn_lifetime(pods), 30s);
  pods.push_back(crashed("e", 2s));  // even count: the lower middle
  EXPECT_EQ(learn_lifetime(pods), 29s);
}

TEST(StaggerLearn, NothingToLearnWithoutCrashes) {
  EXPECT_EQ(learn_lifetime({serving("a", 3s), serving("b", 40s)}), std::nullopt);
  EXPECT_EQ(learn_lifetime({}), std::nullopt);
}

TEST(StaggerLearn, UnknownLifetimeMeansNoReplacements) {
  // Old pods, no crash seen: a stable app. Nothing to do, nothing to wake for.
  const Plan p =
      plan(observed({serving("a", 600s), serving("b", 500s)}, 2), kNow, params(2, std::nullopt));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, std::nullopt);

  const Plan zero =
      plan(observed({serving("a", 600s), serving("b", 500s)}, 2), kNow, params(2, Seconds{0}));
  EXPECT_TRUE(zero.actions.empty());
}

TEST(StaggerLearn, LearnedLifetimeDrivesReplacements) {
  const std::vector<PodView> pods = {crashed("a", 30s), serving("b", 10s)};
  const Params learned = params(2, learn_lifetime(pods));
  EXPECT_EQ(plan(observed(pods, 2), kNow, learned).actions,
            Actions{set_replicas(3, 1, Reason::Crashed)});
}

TEST(StaggerLearn, LeftoverSurgeIsGivenBackWithoutASchedule) {
  const Plan p = plan(observed({serving("a", 600s), serving("b", 500s), serving("c", 1s)}, 3, 1),
                      kNow, params(2, std::nullopt));
  EXPECT_EQ(p.actions,
            (Actions{evict("a", Reason::Lifetime), set_replicas(2, 0, Reason::Lifetime)}));
}

// --- playing well with others ------------------------------------------------------

TEST(StaggerOthers, NoFightingDuringARollout) {
  Observed rolling = observed({serving("a", 24s), crashed("b", 30s), starting("c", 1s)}, 2);
  rolling.rollout_in_progress = true;
  const Plan p = plan(rolling, kNow, params(4));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, kRolloutPollInterval);
}

PodView of_template(PodView pod, const std::string& hash) {
  pod.template_hash = hash;
  return pod;
}

TEST(StaggerRollout, PointsTheRollingUpdateAtTheOldPodNearestItsEnd) {
  // The ReplicaSet would remove the youngest old pod first (b): the one
  // that could serve longest. a is nearer its end; the new pod n is left be.
  Observed rolling =
      observed({of_template(serving("b", 5s), "old"), of_template(serving("a", 18s), "old"),
                of_template(serving("n", 1s), "new")},
               3);
  rolling.rollout_in_progress = true;
  rolling.template_hash = "new";
  const Plan p = plan(rolling, kNow, params(2));
  EXPECT_EQ(p.actions, Actions{mark("a", Reason::Rollout)});
  EXPECT_EQ(p.requeue_after, kRolloutPollInterval);

  // Marked already: nothing more until the ReplicaSet has removed it.
  rolling.pods[1].deletion_cost = kRetireDeletionCost;
  EXPECT_TRUE(plan(rolling, kNow, params(2)).actions.empty());
}

TEST(StaggerRollout, PodsWithoutAHashAreOld) {
  Observed rolling = observed({serving("a", 18s), of_template(serving("n", 1s), "new")}, 2);
  rolling.rollout_in_progress = true;
  rolling.template_hash = "new";
  EXPECT_EQ(plan(rolling, kNow, params(1)).actions, Actions{mark("a", Reason::Rollout)});
}

// --- late replacements, start-up times, safety ------------------------------------

TEST(StaggerLate, APodServingPastItsDeadlineIsLate) {
  // Deadline L - m = 25 s after the start; c's replacement is still starting.
  const Plan p = plan(observed({serving("a", 26s), serving("b", 12s), starting("c", 8s)}, 3, 1),
                      kNow, params(2));
  EXPECT_EQ(p.late_pods, std::vector<std::string>{"a"});
  EXPECT_TRUE(p.actions.empty()) << "still not retired before its replacement is Ready";
  const Plan on_time = plan(
      observed({serving("a", 24s), serving("b", 12s), starting("c", 3s)}, 3, 1), kNow, params(2));
  EXPECT_TRUE(on_time.late_pods.empty());
}

TEST(StaggerLate, ALongerLeadStartsReplacementsEarlier) {
  // Start-up 5 s: a (age 16 s) is due at 18 s. Start-up 8 s: due at 15 s, now.
  const Observed pods = observed({serving("a", 16s), serving("b", 6s)}, 2);
  EXPECT_TRUE(plan(pods, kNow, params(2)).actions.empty());
  Params slow = params(2);
  slow.startup_allowance = 8s;
  EXPECT_EQ(plan(pods, kNow, slow).actions, Actions{set_replicas(3, 1, Reason::Lifetime)});
}

TEST(StaggerSafety, LifetimeMustExceedLeadTimesReplicas) {
  Params p = params(3, 30s);
  p.startup_allowance = 9s;
  EXPECT_EQ(unsafe_schedule(p), std::nullopt);
  p.startup_allowance = 10s;  // 30 <= 10 x 3: two ends inside one start-up
  ASSERT_TRUE(unsafe_schedule(p).has_value());
  EXPECT_NE(unsafe_schedule(p)->find("30 s"), std::string::npos);
  EXPECT_EQ(unsafe_schedule(params(3, Seconds{0})), std::nullopt) << "a stable app";
  EXPECT_EQ(unsafe_schedule(params(3, std::nullopt)), std::nullopt) << "nothing planned yet";
  Params one = params(1, 30s);
  one.startup_allowance = 40s;
  EXPECT_EQ(unsafe_schedule(one), std::nullopt) << "one replica cannot end together";
}

// A pod that became Ready `startup` after its creation, `age` ago.
PodView started_in(const std::string& name, Seconds startup, Seconds age = 1s) {
  PodView pod = serving(name, age);
  pod.created = kNow - age - startup;
  pod.ready_since = kNow - age;
  return pod;
}

TEST(StaggerStartup, NoEstimateWithoutAReadyFirstStart) {
  StartupEstimator e;
  PodView restarted = started_in("a", 3s);
  restarted.restart_count = 1;  // Ready again after a crash: no start-up
  PodView unready = started_in("b", 3s);
  unready.ready = false;
  EXPECT_EQ(e.observe({restarted, unready, starting("c", 1s)}, kNow), 0);
  EXPECT_EQ(e.estimate(kNow), std::nullopt);
}

TEST(StaggerStartup, EachPodIsSampledOnce) {
  StartupEstimator e;
  EXPECT_EQ(e.observe({started_in("a", 2s), started_in("b", 4s)}, kNow), 2);
  EXPECT_EQ(e.observe({started_in("a", 2s), started_in("b", 4s)}, kNow + 1s), 0);
  EXPECT_EQ(e.samples(), 2u);
  EXPECT_EQ(e.estimate(kNow), 4s);
}

TEST(StaggerStartup, P90OfTheLastTwentyIgnoresOneOldOutlier) {
  StartupEstimator e;
  e.observe({started_in("slow", 15s)}, kNow);
  for (int i = 0; i < 19; ++i) e.observe({started_in("p" + std::to_string(i), 2s)}, kNow);
  // 20 samples, one of 15 s: the p90 (18th of 20) is 2 s.
  EXPECT_EQ(e.estimate(kNow), 2s);
  // Three slow ones among the last 20 (the 15 s one has dropped out) lift
  // it to the fastest of them, also once they are no longer recent.
  for (const auto& [name, startup] : {std::pair{"s9", 9s}, {"s7", 7s}, {"s8", 8s}}) {
    e.observe({started_in(name, startup)}, kNow);
    for (int i = 0; i < 3; ++i)
      e.observe({started_in(std::string(name) + std::to_string(i), 2s)}, kNow);
  }
  EXPECT_EQ(e.estimate(kNow), 7s);
}

TEST(StaggerStartup, ARecentSlowStartRaisesTheLeadAtOnce) {
  // A late replacement's own slow start moves the next ones earlier,
  // without waiting for a tenth of the samples to be slow.
  StartupEstimator e;
  for (int i = 0; i < 19; ++i) e.observe({started_in("p" + std::to_string(i), 2s)}, kNow);
  e.observe({started_in("late", 12s)}, kNow);
  EXPECT_EQ(e.estimate(kNow), 12s);
  for (int i = 0; i < 3; ++i) e.observe({started_in("q" + std::to_string(i), 2s)}, kNow);
  EXPECT_EQ(e.estimate(kNow), 2s) << "three quick starts later it is one outlier of 20";
}

TEST(StaggerStartup, SamplesExpireAndWholeSecondsRoundUp) {
  StartupEstimator e;
  PodView a = started_in("a", 2s);
  a.ready_since = *a.ready_since + std::chrono::milliseconds{300};
  e.observe({a}, kNow);
  EXPECT_EQ(e.estimate(kNow), 3s);
  EXPECT_EQ(e.estimate(kNow + StartupEstimator::kSampleTtl + 1s), std::nullopt);
}

TEST(StaggerStartup, SeedOnlyWithoutSamples) {
  StartupEstimator e;
  e.seed(6s, kNow);
  EXPECT_EQ(e.estimate(kNow), 6s);
  e.observe({started_in("a", 2s)}, kNow);
  e.seed(9s, kNow);
  EXPECT_EQ(e.samples(), 2u);
}

TEST(StaggerLearn, OnlyTheCurrentTemplateTeachesTheLifetime) {
  // After an image change the old app's crashes say nothing of the new one.
  const std::vector<PodView> pods = {of_template(crashed("a", 30s), "old"),
                                     of_template(serving("b", 3s), "new")};
  EXPECT_EQ(learn_lifetime(pods, "new"), std::nullopt);
  EXPECT_EQ(learn_lifetime(pods, "old"), 30s);
  EXPECT_EQ(learn_lifetime(pods), 30s);
}

TEST(StaggerOthers, TerminatingPodsAreIgnored) {
  PodView gone = serving("old", 26s);
  gone.terminating = true;
  // Not counted against replicas (no waiting), not a candidate for anything.
  const Plan p = plan(observed({gone, serving("a", 10s), serving("b", 0s)}, 2), kNow, params(2));
  EXPECT_TRUE(p.actions.empty());
  EXPECT_EQ(p.requeue_after, milliseconds{8'000});
}

TEST(StaggerOthers, ReasonsHaveNames) {
  EXPECT_EQ(to_string(Reason::StartUp), "startup");
  EXPECT_EQ(to_string(Reason::Lifetime), "lifetime");
  EXPECT_EQ(to_string(Reason::Crashed), "crashed");
  EXPECT_EQ(to_string(Reason::Respread), "respread");
  EXPECT_EQ(to_string(Reason::ScaleDown), "scaledown");
}

}  // namespace
}  // namespace sreracha::stagger
