// pod_view: what the stagger planner needs of a Pod, read from its JSON.
// Pure; every field a missing or odd value leaves at its default.
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "sreracha/stagger.h"

namespace sreracha {

// The app container is the one named "sreracha", else the first.
stagger::PodView pod_view(const nlohmann::json& pod);

// The smallest gap between consecutive container starts of running pods, in
// seconds; nullopt with fewer than two.
std::optional<double> min_start_gap_seconds(const std::vector<stagger::PodView>& pods);

}  // namespace sreracha
