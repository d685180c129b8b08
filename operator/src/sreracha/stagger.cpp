#include "sreracha/stagger.h"

#include <algorithm>
#include <cmath>
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
  // Ready, and then settled: only then may the pod it replaces go.
  s.lead =
      std::clamp<Duration>(params.startup_allowance + kReadySettle, Duration::zero(), s.budget / 2);
  s.gap = (s.budget - s.lead) / desired;
  if (params.max_surge <= 0) {
    // Replacements start a gap apart and each holds its surge slot for about
    // lead plus the settle time: that many overlap, plus one so a crash need
    // not wait for a scheduled one.
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

bool is_marked(const PodView* pod) { return pod->deletion_cost == kRetireDeletionCost; }

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
    if (is_marked(pod)) {
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
  // The canary, while it serves, comes last: it has no due time and must not
  // hold up the others' replacements.
  auto waits = [&](const Candidate& c) { return c.urgency == 2 && c.pod->name == params.canary; };
  std::sort(order.begin(), order.end(), [&](const Candidate& a, const Candidate& b) {
    return std::tuple(waits(a), a.urgency, a.start, a.pod->name) <
           std::tuple(waits(b), b.urgency, b.start, b.pod->name);
  });

  // Due times, backwards from the last pod: each as late as its deadline
  // allows, but at least a gap before the next one. Bunched pods are thus
  // replaced early, one gap apart, and the new starts spread out (respread).
  std::optional<TimePoint> next_due;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (it->urgency < 2) {
      it->due = now;
    } else if (waits(*it)) {
      it->due.reset();
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

Action set_replicas(int replicas, int surge, Reason reason) {
  return {Action::Kind::SetReplicas, reason, replicas, surge, {}};
}
Action on_pod(Action::Kind kind, const PodView& pod, Reason reason) {
  return {kind, reason, 0, 0, pod.name};
}

// When the next Ready pod has been Ready for kReadySettle, if one has not.
std::optional<TimePoint> next_settle(const std::vector<const PodView*>& live, TimePoint now) {
  std::optional<TimePoint> first;
  for (const PodView* p : live) {
    if (!p->ready || !p->ready_since || *p->ready_since + kReadySettle <= now) continue;
    const TimePoint at = *p->ready_since + kReadySettle;
    if (!first || at < *first) first = at;
  }
  return first;
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

// Serving pods at or past their deadline: their replacement is late.
void late_pods(const std::vector<Candidate>& order, TimePoint now, const Schedule& schedule,
               Plan& out) {
  if (!schedule.enabled) return;
  for (const Candidate& c : order) {
    if (c.urgency == 2 && c.due && c.pod->container_running && c.pod->container_started &&
        now >= *c.pod->container_started + schedule.budget) {
      out.late_pods.push_back(c.pod->name);
    }
  }
}

// Nearest-rank quantile q of unsorted values.
Clock::duration quantile(std::vector<Clock::duration> values, double q) {
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
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
    case Reason::Rollout:
      return "rollout";
  }
  return "unknown";
}

Plan plan(const Observed& observed, TimePoint now, const Params& params) {
  Plan out;
  const int desired = std::max(0, params.desired_replicas);
  // A template rollout replaces every pod through the Deployment's own
  // rolling update, make before break; a second hand on replicas would
  // fight it. Its ReplicaSet removes the youngest old pod first, the one
  // that could serve longest: mark the one nearest its end instead.
  if (observed.rollout_in_progress) {
    out.requeue_after = kRolloutPollInterval;
    if (observed.template_hash.empty()) return out;
    std::vector<const PodView*> outdated;
    for (const PodView& pod : observed.pods) {
      if (!pod.terminating && pod.template_hash != observed.template_hash) outdated.push_back(&pod);
    }
    if (outdated.empty() || std::any_of(outdated.begin(), outdated.end(), is_marked)) return out;
    const auto order = retirement_order(outdated, now, params, schedule_for(params, desired));
    out.actions.push_back(
        on_pod(Action::Kind::MarkForDeletion, *order.front().pod, Reason::Rollout));
    return out;
  }
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
  // Ready long enough for the EndpointSlice (and so kube-proxy) to carry it:
  // a pod retired on its replacement's first Ready could leave the Service
  // short for as long as the endpoint controller lags, on a busy cluster
  // seconds.
  auto settled = [&](const PodView* p) {
    return p->ready && (!p->ready_since || now - *p->ready_since >= kReadySettle);
  };
  int ready = static_cast<int>(std::count_if(live.begin(), live.end(), settled));
  // Ready pods a retirement must leave. While starting up, the newest base
  // pod may still be starting: it never served, and waiting for it could let
  // the pod being retired reach its end (many replicas take longer than L).
  const int keep_ready = base < desired ? std::max(1, base - 1) : base;

  // 1. Retire the most urgent pods once their replacements are Ready: the
  //    first `surge` pods in order are the ones the surge replicas stand in for.
  std::optional<TimePoint> next_wake;
  auto wake_at = [&](TimePoint t) { next_wake = next_wake ? std::min(*next_wake, t) : t; };
  std::size_t first = 0;  // order[first..] are still serving
  int kept_surge = surge;
  while (kept_surge > 0 && first < order.size()) {
    const Candidate& x = order[first];
    const int others_ready = ready - (settled(x.pod) ? 1 : 0);
    if (!retirable(x) || others_ready < keep_ready) break;
    out.actions.push_back(on_pod(Action::Kind::EvictPod, *x.pod, x.reason));
    const std::size_t next = first + static_cast<std::size_t>(kept_surge);
    // Hand the surge replica over when the next pod is due as well: the
    // ReplicaSet replaces the evicted pod at once, and that fresh pod is
    // the next pod's replacement, on time. Otherwise give it back.
    if (next >= order.size() || !order[next].due || *order[next].due > now) --kept_surge;
    ready = others_ready;
    ++first;
  }
  if (kept_surge < surge) {
    out.actions.push_back(set_replicas(base + kept_surge, kept_surge, order.front().reason));
    out.requeue_after = kPollInterval;
    late_pods(order, now, schedule, out);
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
      out.actions.push_back(on_pod(Action::Kind::EvictPod, *c.pod, Reason::Crashed));
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
    if (!retirable(x)) {
      wake_at(*x.due);
    } else if (const auto settles = next_settle(live, now)) {
      wake_at(*settles);  // a replacement Ready but not settled: exactly then
    } else {
      wake_at(now);
    }
  }
  if (static_cast<int>(live.size()) - static_cast<int>(first) < new_base + new_surge) {
    wake_at(now);  // pods to be created
  }
  if (next_wake) out.requeue_after = until(*next_wake, now);
  late_pods(order, now, schedule, out);
  return out;
}

std::optional<Seconds> learn_lifetime(const std::vector<PodView>& pods,
                                      std::string_view template_hash) {
  std::vector<Seconds> runtimes;
  for (const PodView& pod : pods) {
    if (!template_hash.empty() && pod.template_hash != template_hash) continue;
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

std::string canary(const std::vector<PodView>& pods, std::string_view template_hash) {
  const PodView* oldest = nullptr;
  for (const PodView& pod : pods) {
    if (pod.terminating || pod.template_hash != template_hash || !pod.container_running ||
        !pod.container_started) {
      continue;
    }
    if (!oldest || std::tie(*pod.container_started, pod.name) <
                       std::tie(*oldest->container_started, oldest->name)) {
      oldest = &pod;
    }
  }
  return oldest ? oldest->name : std::string();
}

std::optional<std::string> unsafe_schedule(const Params& params) {
  if (!params.lifetime || *params.lifetime <= Seconds::zero() || params.desired_replicas < 2) {
    return std::nullopt;
  }
  const auto lead = params.startup_allowance;
  if (*params.lifetime > lead * params.desired_replicas) return std::nullopt;
  return "the app lives " + std::to_string(params.lifetime->count()) + " s and a new pod takes " +
         std::to_string(lead.count()) +
         " s to become Ready: " + std::to_string(params.desired_replicas) +
         " replicas cannot end at least a start-up apart, so one slow start can take two "
         "down; replacements overlap instead (fewer replicas, a faster start-up or a longer "
         "lifetime makes a safe plan)";
}

int StartupEstimator::observe(const std::vector<PodView>& pods, TimePoint now) {
  // Forget pods that are gone: their names are not seen again.
  std::erase_if(sampled_, [&](const std::string& name) {
    return std::none_of(pods.begin(), pods.end(),
                        [&](const PodView& pod) { return pod.name == name; });
  });
  int added = 0;
  for (const PodView& pod : pods) {
    if (!pod.ready || pod.restart_count > 0 || !pod.created || !pod.ready_since ||
        *pod.ready_since < *pod.created) {
      continue;
    }
    if (std::find(sampled_.begin(), sampled_.end(), pod.name) != sampled_.end()) continue;
    sampled_.push_back(pod.name);
    samples_.push_back({pod.name, now, *pod.ready_since - *pod.created});
    ++added;
  }
  if (samples_.size() > kMaxSamples) {
    samples_.erase(samples_.begin(), samples_.end() - static_cast<std::ptrdiff_t>(kMaxSamples));
  }
  return added;
}

void StartupEstimator::seed(Seconds startup, TimePoint now) {
  if (samples_.empty()) samples_.push_back({"", now, startup});
}

std::optional<Seconds> StartupEstimator::estimate(TimePoint now) const {
  std::vector<Clock::duration> fresh;
  for (const Sample& s : samples_) {
    if (now - s.at <= kSampleTtl) fresh.push_back(s.startup);
  }
  if (fresh.empty()) return std::nullopt;
  Clock::duration high = quantile(fresh, 0.9);
  const std::size_t recent = std::min(kRecentSamples, fresh.size());
  for (std::size_t i = fresh.size() - recent; i < fresh.size(); ++i)
    high = std::max(high, fresh[i]);
  return std::chrono::ceil<Seconds>(high);
}

}  // namespace sreracha::stagger
