// runtime::set_condition: as meta.SetStatusCondition, a condition that keeps
// its status keeps its lastTransitionTime.
#include "runtime/conditions.h"

#include <gtest/gtest.h>

namespace runtime {
namespace {

using nlohmann::json;

TEST(SetCondition, AddsThenUpdatesInPlace) {
  json conditions = json::array();
  set_condition(conditions, {"Ready", "False", "Starting", "0/2"}, 1, "2026-01-01T00:00:00Z");
  set_condition(conditions, {"Degraded", "False", "AsExpected", "ok"}, 1, "2026-01-01T00:00:00Z");
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[0]["type"], "Ready");
  EXPECT_EQ(conditions[0]["observedGeneration"], 1);

  set_condition(conditions, {"Ready", "True", "AllReady", "2/2"}, 2, "2026-01-01T00:01:00Z");
  ASSERT_EQ(conditions.size(), 2u) << "same type: replaced, not added";
  EXPECT_EQ(conditions[0]["status"], "True");
  EXPECT_EQ(conditions[0]["reason"], "AllReady");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2026-01-01T00:01:00Z");
}

TEST(SetCondition, KeepsTheTransitionTimeWhileTheStatusHolds) {
  json conditions = json::array();
  set_condition(conditions, {"Ready", "True", "AllReady", "2/2"}, 1, "2026-01-01T00:00:00Z");
  set_condition(conditions, {"Ready", "True", "AllReady", "3/3"}, 2, "2026-01-01T00:05:00Z");
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(conditions[0]["message"], "3/3");
  EXPECT_EQ(conditions[0]["observedGeneration"], 2);
  set_condition(conditions, {"Ready", "False", "Crashed", "1/3"}, 2, "2026-01-01T00:06:00Z");
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2026-01-01T00:06:00Z");
}

TEST(SetCondition, AConditionWithoutATimeGetsOne) {
  json conditions = {{{"type", "Ready"}, {"status", "True"}}};
  set_condition(conditions, {"Ready", "True", "AllReady", "ok"}, 1, "2026-01-01T00:00:00Z");
  EXPECT_EQ(conditions[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
}

}  // namespace
}  // namespace runtime
