#include "runtime/conditions.h"

namespace runtime {

void set_condition(nlohmann::json& conditions, const Condition& c, std::int64_t generation,
                   const std::string& now) {
  nlohmann::json next = {{"type", c.type},
                         {"status", c.status},
                         {"reason", c.reason},
                         {"message", c.message},
                         {"observedGeneration", generation},
                         {"lastTransitionTime", now}};
  for (auto& existing : conditions) {
    if (existing.value("type", "") != c.type) continue;
    if (existing.value("status", "") == c.status && existing.contains("lastTransitionTime")) {
      next["lastTransitionTime"] = existing["lastTransitionTime"];
    }
    existing = next;
    return;
  }
  conditions.push_back(next);
}

}  // namespace runtime
