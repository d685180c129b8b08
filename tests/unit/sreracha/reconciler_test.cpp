// The reconciler's pure helpers: the "does the cluster already have what we
// want" comparison that keeps converged reconciles free of writes, and the
// mapping of pod events to their Sreracha.
#include "sreracha/reconciler.h"

#include <gtest/gtest.h>

namespace sreracha {
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

TEST(PodOwnerRequests, AppPodsMapToTheirInstance) {
  json pod = {
      {"metadata",
       {{"namespace", "shop"},
        {"labels",
         {{"app.kubernetes.io/instance", "web"}, {"app.kubernetes.io/component", "app"}}}}}};
  auto requests = pod_owner_requests(pod);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].key(), "shop/web");
}

TEST(PodOwnerRequests, RedisPodsAndUnlabelledPodsMapToNothing) {
  json redis = {
      {"metadata",
       {{"namespace", "shop"},
        {"labels",
         {{"app.kubernetes.io/instance", "web"}, {"app.kubernetes.io/component", "redis"}}}}}};
  EXPECT_TRUE(pod_owner_requests(redis).empty());
  EXPECT_TRUE(pod_owner_requests(json{{"metadata", {{"name", "x"}}}}).empty());
}

}  // namespace
}  // namespace sreracha
