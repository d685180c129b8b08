// pod_view: what the stagger planner needs of a Pod, read from its JSON.
// Pure; every field a missing or odd value leaves at its default.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sreracha/stagger.h"

namespace sreracha {

// The app container is the one named "sreracha", else the first.
stagger::PodView pod_view(const nlohmann::json& pod);

// Why a pod cannot run, as the kubelet (a container's waiting reason) or the
// scheduler (Unschedulable) says it: what a user would otherwise find only
// in `kubectl describe pod`.
struct PodProblem {
  std::string pod;
  std::string reason;   // e.g. CreateContainerConfigError, ImagePullBackOff
  std::string message;  // theirs, e.g. "container has runAsNonRoot and image has non-numeric user"
};

// The problem of a pod that is not being deleted, or nothing: a container
// (init containers first) waiting for a reason that will not pass by itself,
// else the scheduler's Unschedulable.
std::optional<PodProblem> pod_problem(const nlohmann::json& pod);

// Trims a Pod to what the operator's cache keeps of it: metadata,
// spec.nodeName and status, all that pod_view, pod_problem and the
// reconciler read. The spec's containers, volumes and tolerations, the
// larger part of a pod, are dropped.
void trim_cached_pod(nlohmann::json& pod);

// The smallest gap between consecutive container starts of running pods, in
// seconds; nullopt with fewer than two.
std::optional<double> min_start_gap_seconds(const std::vector<stagger::PodView>& pods);

}  // namespace sreracha
