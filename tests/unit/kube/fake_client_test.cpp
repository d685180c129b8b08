// support::FakeClient keeps the API server's rules the reconciler tests rely
// on; if it did not, those tests would pass against a server that does not
// exist.
#include "support/fake_client.h"

#include <gtest/gtest.h>

namespace support {
namespace {

using nlohmann::json;
const kube::Resource& kMaps = kube::resources::configmaps;

json config_map(json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "c"}, {"namespace", "ns"}}},
          {"data", std::move(data)}};
}

kube::ListOptions labelled(std::string selector) {
  kube::ListOptions options;
  options.label_selector = std::move(selector);
  return options;
}

int code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const kube::ApiError& e) {
    return e.code();
  }
  return 0;
}

TEST(FakeClient, CreateGetAndTheErrorsOfAnApiServer) {
  FakeClient api;
  const json created = api.create(kMaps, "ns", config_map({{"a", "1"}}));
  EXPECT_FALSE(created["metadata"].value("uid", "").empty());
  EXPECT_EQ(api.get(kMaps, "ns", "c"), created);
  EXPECT_EQ(code_of([&] { api.create(kMaps, "ns", config_map({})); }), 409);
  EXPECT_EQ(code_of([&] { api.get(kMaps, "ns", "other"); }), 404);
  EXPECT_EQ(code_of([&] { api.merge_patch(kMaps, "ns", "other", json::object()); }), 404);
  api.remove(kMaps, "ns", "other");  // absent: fine, as with Client::remove
}

TEST(FakeClient, AStaleResourceVersionOrUidConflicts) {
  FakeClient api;
  json object = api.create(kMaps, "ns", config_map({{"a", "1"}}));
  json newer = object;
  newer["data"]["a"] = "2";
  api.replace(kMaps, "ns", "c", newer);
  object["data"]["a"] = "3";
  EXPECT_EQ(code_of([&] { api.replace(kMaps, "ns", "c", object); }), 409);
  EXPECT_EQ(code_of([&] {
              api.merge_patch(kMaps, "ns", "c", {{"metadata", {{"uid", "someone-else"}}}});
            }),
            409);
  kube::DeleteOptions remove;
  remove.precondition_uid = "someone-else";
  EXPECT_EQ(code_of([&] { api.remove(kMaps, "ns", "c", remove); }), 409);
  EXPECT_EQ(api.get(kMaps, "ns", "c")["data"]["a"], "2");
}

TEST(FakeClient, TheStatusSubresourceAndGeneration) {
  FakeClient api;
  const kube::Resource deployments = kube::resources::deployments;
  api.put(deployments,
          {{"metadata", {{"name", "d"}, {"namespace", "ns"}}}, {"spec", {{"replicas", 1}}}});
  api.merge_patch(deployments, "ns", "d",
                  {{"spec", {{"replicas", 5}}}, {"status", {{"replicas", 9}}}}, "status");
  json d = api.get(deployments, "ns", "d");
  EXPECT_EQ(d["spec"]["replicas"], 1) << "a status patch changes only status";
  EXPECT_EQ(d["status"]["replicas"], 9);
  EXPECT_EQ(d["metadata"]["generation"], 1) << "status is not the spec";
  api.merge_patch(deployments, "ns", "d", {{"spec", {{"replicas", 2}}}, {"status", nullptr}});
  d = api.get(deployments, "ns", "d");
  EXPECT_EQ(d["metadata"]["generation"], 2);
  EXPECT_EQ(d["status"]["replicas"], 9) << "the main resource does not write status";
}

TEST(FakeClient, ServerSideApplyDropsWhatTheManagerGaveUpAndKeepsOthersFields) {
  FakeClient api;
  kube::ApplyOptions apply;
  apply.field_manager = "op";
  api.apply(kMaps, "ns", "c", config_map({{"a", "1"}, {"b", "2"}}), apply);
  api.merge_patch(kMaps, "ns", "c", {{"data", {{"human", "x"}}}});
  api.apply(kMaps, "ns", "c", config_map({{"b", "3"}}), apply);
  const json data = api.get(kMaps, "ns", "c")["data"];
  EXPECT_FALSE(data.contains("a"));
  EXPECT_EQ(data["b"], "3");
  EXPECT_EQ(data["human"], "x");
  EXPECT_EQ(code_of([&] { api.apply(kMaps, "ns", "c", config_map({}), {}); }), 422)
      << "an apply without a field manager is invalid";
}

TEST(FakeClient, RecordsRequestsAndFailsOnRequest) {
  FakeClient api;
  api.fail_next("create", "configmaps", kube::ApiError(500, "InternalError", "boom", "create"));
  EXPECT_EQ(code_of([&] { api.create(kMaps, "ns", config_map({})); }), 500);
  api.create(kMaps, "ns", config_map({}));
  api.list(kMaps, "ns", labelled("a=b"));
  ASSERT_EQ(api.requests().size(), 3u);
  EXPECT_EQ(api.writes().size(), 2u);
  EXPECT_EQ(api.requests()[2].verb, "list");
}

TEST(FakeClient, AnEvictionIsOneRequestThatRemovesThePod) {
  FakeClient api;
  api.put(kube::resources::pods, {{"metadata", {{"name", "p"}, {"namespace", "ns"}}}});
  api.evict("ns", "p");
  ASSERT_EQ(api.requests().size(), 1u);
  EXPECT_EQ(api.requests()[0].verb, "evict");
  EXPECT_FALSE(api.object(kube::resources::pods, "ns", "p").has_value());
}

TEST(FakeClient, ListFiltersByNamespaceAndLabels) {
  FakeClient api;
  json tagged = config_map({});
  tagged["metadata"]["labels"] = {{"app", "x"}, {"tier", "web"}};
  api.put(kMaps, tagged);
  json other = config_map({});
  other["metadata"]["namespace"] = "elsewhere";
  api.put(kMaps, other);
  EXPECT_EQ(api.list(kMaps, "ns")["items"].size(), 1u);
  EXPECT_EQ(api.list(kMaps, "")["items"].size(), 2u);
  EXPECT_EQ(api.list(kMaps, "", labelled("app=x,tier=web"))["items"].size(), 1u);
  EXPECT_EQ(api.list(kMaps, "", labelled("app=y"))["items"].size(), 0u);
  EXPECT_EQ(api.list(kMaps, "", labelled("tier"))["items"].size(), 1u);
}

TEST(FakeClient, ACancelledContextSendsNothing) {
  FakeClient api;
  kube::CancelToken token;
  token.cancel();
  EXPECT_THROW(api.create(kMaps, "ns", config_map({}), {}, kube::Context(token)), kube::Cancelled);
  EXPECT_TRUE(api.requests().empty());
}

}  // namespace
}  // namespace support
