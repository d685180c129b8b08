// Conditions: metav1.Condition lists in status, set the way
// meta.SetStatusCondition does, so that every controller on runtime/ reports
// its state alike.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace runtime {

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
};

// Sets the condition of c.type in `conditions` (a JSON array), adding it if
// absent. lastTransitionTime becomes `now` (metav1.Time) only when the status
// changed, so a condition that keeps its status keeps its time.
void set_condition(nlohmann::json& conditions, const Condition& c, std::int64_t generation,
                   const std::string& now);

}  // namespace runtime
