// The reconciler's pure helper: the mapping of pod events to their Sreracha.
#include "sreracha/reconciler.h"

#include <gtest/gtest.h>

namespace sreracha {
namespace {

using nlohmann::json;

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
