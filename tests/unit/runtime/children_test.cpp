// The "does the cluster already have what we want" comparison that keeps
// converged reconciles free of writes, and the applied hash beside it.
#include "runtime/children.h"

#include <gtest/gtest.h>

namespace runtime {
namespace {

using nlohmann::json;

TEST(Contains, FieldsTheServerAddsAreIgnored) {
  json desired = {{"spec", {{"replicas", 2}, {"template", {{"labels", {{"a", "b"}}}}}}}};
  json observed = {{"spec",
                    {{"replicas", 2},
                     {"progressDeadlineSeconds", 600},
                     {"template", {{"labels", {{"a", "b"}}}}}}},
                   {"status", {{"readyReplicas", 2}}}};
  EXPECT_TRUE(contains(observed, desired));
}

TEST(Contains, AChangedValueIsDrift) {
  json desired = {{"spec", {{"path", "/?q=healthz"}}}};
  json observed = {{"spec", {{"path", "/"}}}};
  EXPECT_FALSE(contains(observed, desired));
}

TEST(Contains, AMissingFieldIsDrift) {
  json desired = {{"metadata", {{"annotations", {{"sreracha.io/applied-hash", "1"}}}}}};
  json observed = {{"metadata", {{"name", "x"}}}};
  EXPECT_FALSE(contains(observed, desired));
}

TEST(Contains, ListsCompareElementwiseAndByLength) {
  json desired = {{"ports", {{{"port", 80}}}}};
  EXPECT_TRUE(contains(json{{"ports", {{{"port", 80}, {"protocol", "TCP"}}}}}, desired));
  EXPECT_FALSE(contains(json{{"ports", {{{"port", 80}}, {{"port", 81}}}}}, desired));
  EXPECT_FALSE(contains(json{{"ports", {{{"port", 81}}}}}, desired));
}

TEST(Contains, NumbersCompareByValueAndEmptyCollectionsMayBeOmitted) {
  EXPECT_TRUE(contains(json{{"n", 1.0}}, json{{"n", 1}}));
  EXPECT_TRUE(
      contains(json{{"spec", json::object()}}, json{{"spec", {{"podSelector", json::object()}}}}));
  EXPECT_FALSE(contains(json{{"n", "1"}}, json{{"n", 1}}));
}

TEST(AppliedHash, IsStableAndSeesEveryField) {
  const json a = {{"metadata", {{"name", "x"}}}, {"spec", {{"replicas", 2}}}};
  EXPECT_EQ(applied_hash(a), applied_hash(json::parse(a.dump())));
  EXPECT_EQ(applied_hash(a).size(), 16u);
  json b = a;
  b["spec"]["replicas"] = 3;
  EXPECT_NE(applied_hash(a), applied_hash(b));
  json c = a;
  c["metadata"]["labels"] = {{"k", "v"}};
  EXPECT_NE(applied_hash(a), applied_hash(c));
}

}  // namespace
}  // namespace runtime
