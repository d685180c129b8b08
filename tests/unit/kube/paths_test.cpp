// REST paths, query strings and object descriptions (kube/paths.h).
#include <gtest/gtest.h>

#include "kube/client.h"
#include "kube/paths.h"

namespace {

namespace r = kube::resources;

TEST(Paths, CoreGroupsNamespacesAndClusterScope) {
  EXPECT_EQ(kube::collection_path(r::configmaps, "default"),
            "/api/v1/namespaces/default/configmaps");
  EXPECT_EQ(kube::collection_path(r::configmaps, ""), "/api/v1/configmaps");  // all namespaces
  EXPECT_EQ(kube::collection_path(r::deployments, "prod"),
            "/apis/apps/v1/namespaces/prod/deployments");
  EXPECT_EQ(kube::collection_path(r::namespaces, "ignored"), "/api/v1/namespaces");
  EXPECT_EQ(kube::object_path(r::customresourcedefinitions, "x", "srerachas.sreracha.io"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/srerachas.sreracha.io");
  EXPECT_EQ(kube::object_path(r::deployments, "prod", "web", "scale"),
            "/apis/apps/v1/namespaces/prod/deployments/web/scale");
  EXPECT_EQ(kube::object_path(r::pods, "prod", "web-1", "eviction"),
            "/api/v1/namespaces/prod/pods/web-1/eviction");
  const kube::Resource custom{"sreracha.io", "v1alpha1", "srerachas"};
  EXPECT_EQ(kube::object_path(custom, "a", "b", "status"),
            "/apis/sreracha.io/v1alpha1/namespaces/a/srerachas/b/status");
}

TEST(Paths, ApiVersion) {
  EXPECT_EQ(r::pods.api_version(), "v1");
  EXPECT_EQ(r::leases.api_version(), "coordination.k8s.io/v1");
  EXPECT_EQ(r::poddisruptionbudgets.api_version(), "policy/v1");
}

TEST(Paths, QueryStringEscapesAndSkipsEmptyValues) {
  EXPECT_EQ(kube::query_string({}), "");
  EXPECT_EQ(kube::query_string({{"a", ""}}), "");
  EXPECT_EQ(kube::query_string({{"labelSelector", "app in (a,b),tier!=db"}, {"limit", "500"}}),
            "?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Ddb&limit=500");
  EXPECT_EQ(kube::query_string({{"continue", "eyJ2Ijo+/="}}), "?continue=eyJ2Ijo%2B%2F%3D");
}

TEST(Paths, Describe) {
  EXPECT_EQ(kube::describe(r::deployments, "default", "web"), "deployments default/web");
  EXPECT_EQ(kube::describe(r::deployments, "default", "web", "scale"),
            "deployments/scale default/web");
  EXPECT_EQ(kube::describe(r::namespaces, "x", "t1"), "namespaces t1");
  EXPECT_EQ(kube::describe(r::configmaps, "default", ""), "configmaps in default");
  EXPECT_EQ(kube::describe(r::configmaps, "", ""), "configmaps in all namespaces");
  EXPECT_EQ(kube::describe(r::namespaces, "", ""), "namespaces");
}

}  // namespace
