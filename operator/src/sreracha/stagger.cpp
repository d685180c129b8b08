#include "sreracha/stagger.h"

#include <algorithm>
#include <tuple>

namespace sreracha::stagger {
namespace {

using Duration = Clock::duration;
using std::chrono::milliseconds;

// The numbers planned replacements follow; enabled only when L > m.
struct Schedule {
  bool enabled = false;
  Duration budget{};  // L - m: how long a container may run
  Duration lead{};    // started this long before a deadline, a surge pod is Ready by it
  Duration gap{};     // wanted spacing between replacement starts
  int max_surge = 1;
};

Schedule schedule_for(const Params& params, int desired) {
  Schedule s;
  if (params.max_surge > 0) s.max_surge = params.max_surge;
  if (!params.lifetime || *params.lifetime <= params.margin || desired < 1) return s;
  s.enabled = true;
  s.budget = *params.lifetime - params.margin;
  // A lead over half the budget would replace pods younger than it takes to
  // start one: endless churn for no gain.
  s.lead = std::clamp<Duration>(params.startup_allowance, Duration::zero(), s.budget / 2);
  s.gap = (s.budget - s.lead) / desired;
  if (params.max_surge <= 0) {
    // Replacements start a gap apart and each takes about lead: that many
    // overlap, plus one so a crash need not wait for a scheduled one.
    const auto overlapping = (s.lead + s.gap - Duration{1}) / s.gap;
    s.max_surge = static_cast<int>(std::max<Duration::rep>(overlapping, 1)) + 1;
  }
  return s;
}

bool phase_running(const PodView& pod) {
  return pod.container_running || pod.container_started || pod.restart_count > 0;
}

// The ReplicaSet's first scale-down criteria, in its order: unscheduled,
// then Pending, then not Ready pods go first. Only among equals does the
// deletion cost decide, so a mark alone does not choose the pod.
std::tuple<bool, bool, bool> replicaset_rank(const PodView& pod) {
  return {pod.scheduled, phase_running(pod), pod.ready};
}

bool is_marked(const PodView& pod) { return pod.deletion_cost == kRetireDeletionCost; }

// A crash at the end of the app's life (it ran at least L / 2): a fresh pod
// brings the replica back without the kubelet's back-off. A pod that crashed
// sooner is left to the back-off, or a broken app would churn pods.
bool crashed_at_end_of_life(const PodView& pod, const Params& params) {
  if (pod.container_running || pod.restart_count == 0 || !pod.last_crash_runtime) return false;
  if (!params.lifetime || *params.lifetime <= Seconds::zero()) return false;
  return *pod.last_crash_runtime * 2 >= *params.lifetime;
}

// A live pod in retirement order.
struct Candidate {
  const PodView* pod = nullptr;
  int urgency = 2;  // 0 marked by an earlier plan, 1 crashed, 2 serving or starting
  TimePoint start;  // container start, or when it is expected to start
  // When its replacement must start; unset: never (no schedule).
  std::optional<TimePoint> due;
  Reason reason = Reason::Lifetime;
};

std::vector<Candidate> retirement_order(const std::vector<const PodView*>& live, TimePoint now,
                                        const Params& params, const Schedule& schedule) {
  std::vector<Candidate> order;
  for (const PodView* pod : live) {
    Candidate c;
    c.pod = pod;
    if (is_marked(*pod)) {
      c.urgency = 0;
    } else if (crashed_at_end_of_life(*pod, params)) {
      c.urgency = 1;
      c.reason = Reason::Crashed;
    }
    if (pod->container_running && pod->container_started) {
      c.start = *pod->container_started;
    } else if (pod->restart_count > 0) {
      c.start = now;  // waiting out a back-off: it starts again later
    } else {
      c.start = pod->created.value_or(now);  // not started yet: assume soon
    }
    order.push_back(c);
  }
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.urgency, a.start, a.pod->name) < std::tie(b.urgency, b.start, b.pod->name);
  });

  // Due times, backwards from the last pod: each as late as its deadline
  // allows, but at least a gap before the next one. Bunched pods are thus
  // replaced early, one gap apart, and the new starts spread out (respread).
  std::optional<TimePoint> next_due;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (it->urgency < 2) {
      it->due = now;
    } else if (schedule.enabled) {
      const TimePoint latest = it->start + schedule.budget - schedule.lead;
      it->due = next_due ? std::min(latest, *next_due - schedule.gap) : latest;
      // Respread only while its own deadline would still let it wait.
      if (now < latest && *it->due < latest) it->reason = Reason::Respread;
    }
    next_due = it->due;
  }
  return order;
}

// Whether the ReplicaSet, scaled down by one, removes `pod` (marked) and no
// other: every other live pod ranks at least as high on the criteria that
// come before the deletion cost.
bool replicaset_would_pick(const PodView& pod, const std::vector<const PodView*>& live) {
  const auto rank = replicaset_rank(pod);
  return std::all_of(live.begin(), live.end(), [&](const PodView* other) {
    return other == &pod || replicaset_rank(*other) >= rank;
  });
}

Action set_replicas(int replicas, int surge, Reason reason) {
  return {Action::Kind::SetReplicas, reason, replicas, surge, {}};
}
Action on_pod(Action::Kind kind, const PodView& pod, Reason reason) {
  return {kind, reason, 0, 0, pod.name};
}

milliseconds until(TimePoint when, TimePoint now) {
  if (when <= now) return kPollInterval;  // overdue but blocked (e.g. surge limit)
  return std::chrono::ceil<milliseconds>(when - now);
}

// Fewer replicas desired: remove the pods the ReplicaSet would remove anyway
// (unscheduled, Pending, not Ready), then the oldest, and mark exactly those.
Plan scale_down(const std::vector<Candidate>& order, int desired, int surge) {
  Plan out;
  const int new_surge = desired == 0 ? 0 : surge;
  const int new_replicas = desired + new_surge;
  std::vector<const Candidate*> by_rank;
  for (const Candidate& c : order) by_rank.push_back(&c);
  std::stable_sort(by_rank.begin(), by_rank.end(), [](const Candidate* a, const Candidate* b) {
    return replicaset_rank(*a->pod) < replicaset_rank(*b->pod);
  });
  // Pods not created yet are the ReplicaSet's first to drop.
  const int removals = std::max(0, static_cast<int>(order.size()) - new_replicas);
  for (int i = 0; i < removals; ++i) {
    out.actions.push_back(on_pod(Action::Kind::MarkForDeletion,
                                 *by_rank[static_cast<std::size_t>(i)]->pod, Reason::ScaleDown));
  }
  out.actions.push_back(set_replicas(new_replicas, new_surge, Reason::ScaleDown));
  out.requeue_after = kPollInterval;
  return out;
}

}  // namespace

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::StartUp:
      return "startup";
    case Reason::Lifetime:
      return "lifetime";
    case Reason::Crashed:
      return "crashed";
    case Reason::Respread:
      return "respread";
    case Reason::ScaleDown:
      return "scaledown";
  }
  return "unknown";
}

Plan plan(const Observed& observed, TimePoint now, const Params& params) {
  Plan out;
  // A template rollout replaces every pod through the Deployment's own
  // surge; a second hand on replicas would fight it.
  if (observed.rollout_in_progress) {
    out.requeue_after = kRolloutPollInterval;
    return out;
  }
  const int desired = std::max(0, params.desired_replicas);
  const int replicas = std::max(0, observed.deployment_replicas);
  const int surge = std::clamp(observed.surge, 0, replicas);
  const int base = replicas - surge;

  std::vector<const PodView*> live;
  for (const PodView& pod : observed.pods) {
    if (!pod.terminating) live.push_back(&pod);
  }
  // The ReplicaSet has not removed what the last scale-down asked for yet;
  // acting now could stack a second choice on top of the first.
  if (static_cast<int>(live.size()) > replicas) {
    out.requeue_after = kPollInterval;
    return out;
  }

  const Schedule schedule = schedule_for(params, desired);
  const std::vector<Candidate> order = retirement_order(live, now, params, schedule);
  if (base > desired || (desired == 0 && replicas > 0)) return scale_down(order, desired, surge);

  auto retirable = [&](const Candidate& c) { return !c.due || *c.due <= now; };
  int ready = static_cast<int>(
      std::count_if(live.begin(), live.end(), [](const PodView* p) { return p->ready; }));

  // 1. Retire the most urgent pods once their replacements are Ready: the
  //    first `surge` pods in order are the ones the surge replicas stand in for.
  std::optional<TimePoint> next_wake;
  auto wake_at = [&](TimePoint t) { next_wake = next_wake ? std::min(*next_wake, t) : t; };
  std::size_t first = 0;  // order[first..] are still serving
  int kept_surge = surge;
  while (kept_surge > 0 && first < order.size()) {
    const Candidate& x = order[first];
    const int others_ready = ready - (x.pod->ready ? 1 : 0);
    if (!retirable(x) || others_ready < base) break;
    const std::size_t next = first + static_cast<std::size_t>(kept_surge);
    if (next < order.size() && order[next].due && *order[next].due <= now) {
      // Hand the surge replica over: the ReplicaSet replaces the deleted pod
      // at once, and that fresh pod is the next pod's replacement, on time.
      out.actions.push_back(on_pod(Action::Kind::DeletePod, *x.pod, x.reason));
    } else if (out.actions.empty() && replicaset_would_pick(*x.pod, live)) {
      // Give the surge replica back the ReplicaSet's way: it removes the
      // marked pod when scaled down, as no other pod ranks below it.
      out.actions.push_back(on_pod(Action::Kind::MarkForDeletion, *x.pod, x.reason));
      out.actions.push_back(set_replicas(replicas - 1, surge - 1, x.reason));
      out.requeue_after = kPollInterval;  // until the ReplicaSet has removed it
      return out;
    } else {
      // A starting pod ranks below this one, so a mark would not choose it:
      // delete it, then scale down. Should the ReplicaSet replace it before
      // it sees the lower count, the replacement is the newest, unready pod,
      // and the one it removes again.
      out.actions.push_back(on_pod(Action::Kind::DeletePod, *x.pod, x.reason));
      --kept_surge;
    }
    ready = others_ready;
    ++first;
  }
  if (kept_surge < surge) {
    out.actions.push_back(set_replicas(base + kept_surge, kept_surge, order.front().reason));
    out.requeue_after = kPollInterval;
    return out;
  }

  // 2. Open surges for the pods now due, most urgent first, up to the limit.
  //    A crashed pod beyond the limit is deleted: it serves nothing, and the
  //    ReplicaSet's fresh pod starts without back-off.
  int new_surge = surge;
  std::optional<Reason> surge_reason;
  for (std::size_t i = first + static_cast<std::size_t>(surge); i < order.size(); ++i) {
    const Candidate& c = order[i];
    if (!c.due) break;
    if (*c.due > now) {
      if (new_surge < schedule.max_surge) wake_at(*c.due);
      break;
    }
    if (new_surge < schedule.max_surge) {
      ++new_surge;
      if (!surge_reason) surge_reason = c.reason;
    } else if (c.urgency == 1) {
      out.actions.push_back(on_pod(Action::Kind::DeletePod, *c.pod, Reason::Crashed));
    } else {
      wake_at(now);  // due but at the limit: look again soon
      break;
    }
  }

  // 3. Staggered start-up: one more base replica once the newest pod is
  //    Ready and the start interval has passed since it was created.
  int new_base = base;
  if (base < desired) {
    const PodView* newest = nullptr;
    for (const PodView* pod : live) {
      if (!newest || pod->created.value_or(now) > newest->created.value_or(now)) newest = pod;
    }
    const Duration interval =
        schedule.enabled ? Duration{*params.lifetime} / desired : Duration{params.start_interval};
    const bool all_created = static_cast<int>(live.size()) == replicas && first == 0;
    if (replicas == 0) {
      new_base = 1;
    } else if (!newest) {
      // Pods asked for but not seen yet: the ReplicaSet has not made them,
      // or our cache has not caught up. Counting them as missing would raise
      // replicas again, and the pods would start together.
      wake_at(now);
    } else if (all_created && newest->ready) {
      const TimePoint next_step = newest->created.value_or(now) + interval;
      if (next_step <= now) {
        new_base = base + 1;
      } else {
        wake_at(next_step);
      }
    } else {
      wake_at(now);
    }
  }
  if (new_base != base || new_surge != surge) {
    const Reason reason =
        new_base != base ? Reason::StartUp : surge_reason.value_or(Reason::Lifetime);
    out.actions.push_back(set_replicas(new_base + new_surge, new_surge, reason));
  }

  // 4. Wake-ups: a covered pod waiting for its replacement to become Ready
  //    (poll; its Ready event also wakes us) or for its due time.
  if (new_surge > 0 && first < order.size()) {
    const Candidate& x = order[first];
    wake_at(retirable(x) ? now : *x.due);
  }
  if (static_cast<int>(live.size()) - static_cast<int>(first) < new_base + new_surge) {
    wake_at(now);  // pods to be created
  }
  if (next_wake) out.requeue_after = until(*next_wake, now);
  return out;
}

std::optional<Seconds> learn_lifetime(const std::vector<PodView>& pods) {
  std::vector<Seconds> runtimes;
  for (const PodView& pod : pods) {
    if (pod.last_crash_runtime && *pod.last_crash_runtime > Seconds::zero()) {
      runtimes.push_back(*pod.last_crash_runtime);
    }
  }
  if (runtimes.empty()) return std::nullopt;
  // Lower middle: with an even count the shorter of the two, so an error
  // replaces pods early rather than late.
  const auto middle = runtimes.begin() + static_cast<std::ptrdiff_t>((runtimes.size() - 1) / 2);
  std::nth_element(runtimes.begin(), middle, runtimes.end());
  return *middle;
}

}  // namespace sreracha::stagger
