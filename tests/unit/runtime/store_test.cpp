// The cache: lookups by key and namespace, the owner and label indexes kept
// in step with updates and deletes, immutable snapshots decoded from what is
// stored.
#include "runtime/store.h"

#include <gtest/gtest.h>

#include "kube/meta.h"

namespace runtime {
namespace {

using nlohmann::json;

Store::Object object(const std::string& ns, const std::string& name, json labels = json::object(),
                     const std::string& owner_uid = "") {
  json o = {{"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}}};
  if (!owner_uid.empty()) {
    o["metadata"]["ownerReferences"] = json::array(
        {{{"uid", "not-the-controller"}, {"kind", "Other"}, {"name", "x"}},
         {{"uid", owner_uid}, {"kind", "Sreracha"}, {"name", "web"}, {"controller", true}}});
  }
  return std::make_shared<const json>(std::move(o));
}

std::vector<std::string> keys(const std::vector<Store::Object>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(object_key(*o));
  return out;
}

TEST(Store, GetsAndListsByNamespaceWithoutMixingSimilarNames) {
  Store store;
  store.upsert(object("a", "x"));
  store.upsert(object("ab", "y"));
  store.upsert(object("a", "z"));
  store.upsert(object("", "cluster-scoped"));
  ASSERT_NE(store.get("a", "x"), nullptr);
  EXPECT_EQ(store.get("a", "y"), nullptr);
  EXPECT_NE(store.get("", "cluster-scoped"), nullptr);
  EXPECT_EQ(keys(store.list("a")), (std::vector<std::string>{"a/x", "a/z"}));
  EXPECT_EQ(keys(store.list("ab")), (std::vector<std::string>{"ab/y"}));
  EXPECT_EQ(store.list().size(), 4u);
  EXPECT_EQ(store.size(), 4u);
}

TEST(Store, UpsertReturnsTheReplacedObjectAndEraseTheRemovedOne) {
  Store store;
  EXPECT_EQ(store.upsert(object("a", "x")), nullptr);
  auto old = store.get("a", "x");
  auto replaced = store.upsert(object("a", "x", {{"v", "2"}}));
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(*replaced, *old);
  auto removed = store.erase("a/x");
  ASSERT_NE(removed, nullptr);
  EXPECT_EQ((*removed)["metadata"]["labels"]["v"], "2");
  EXPECT_EQ(store.erase("a/x"), nullptr);
  EXPECT_EQ(store.size(), 0u);
}

TEST(Store, UpsertCanGiveBackJustTheMetadataOfTheReplacedObject) {
  Store store;
  json whole = *object("a", "x", {{"app", "web"}}, "uid-1");
  whole["apiVersion"] = "apps/v1";
  whole["kind"] = "Deployment";
  whole["metadata"]["annotations"] = {{"note", "kept"}};
  // Members before and after "metadata" in the encoding's (sorted) order.
  whole["data"] = {{"k", "v"}};
  whole["spec"] = {{"replicas", 2}, {"template", {{"metadata", {{"name", "t"}}}}}};
  whole["status"] = {{"readyReplicas", 1}};
  store.upsert(std::make_shared<const json>(whole));

  auto replaced = store.upsert(object("a", "x", {{"app", "redis"}}), Store::Old::Metadata);
  ASSERT_NE(replaced, nullptr);
  EXPECT_EQ(
      *replaced,
      json({{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", whole["metadata"]}}));
  // The replaced object's index entries went with it.
  EXPECT_TRUE(store.list_by_label("app", "web").empty());
  EXPECT_TRUE(store.list_by_owner("uid-1").empty());
  EXPECT_EQ(keys(store.list_by_label("app", "redis")), (std::vector<std::string>{"a/x"}));

  store.upsert(std::make_shared<const json>(whole));
  EXPECT_EQ(*store.upsert(std::make_shared<const json>(whole), Store::Old::Whole), whole);
  EXPECT_EQ(keys(store.list_by_owner("uid-1")), (std::vector<std::string>{"a/x"}));
}

TEST(Store, ReadersKeepAnUnchangedSnapshotAcrossUpdates) {
  Store store;
  store.upsert(object("a", "x", {{"v", "1"}}));
  auto snapshot = store.get("a", "x");
  store.upsert(object("a", "x", {{"v", "2"}}));
  store.erase("a/x");
  EXPECT_EQ((*snapshot)["metadata"]["labels"]["v"], "1");
}

TEST(Store, ReadsGiveBackEveryValueAsStoredEachReaderItsOwnCopy) {
  Store store;
  const json stored = {
      {"metadata", {{"namespace", "a"}, {"name", "x"}, {"resourceVersion", "42"}}},
      {"spec",
       {{"replicas", 3},
        {"negative", -7},
        {"big", 18446744073709551615ULL},
        {"ratio", 0.25},
        {"on", true},
        {"none", nullptr},
        {"empty", json::object()},
        {"list", json::array({"é", 1, json::array(), json::object({{"k", "v"}})})}}}};
  store.upsert(std::make_shared<const json>(stored));
  auto first = store.get("a", "x");
  auto second = store.list("a").at(0);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(*first, stored);
  EXPECT_EQ(*second, stored);
  EXPECT_NE(first.get(), second.get());
  EXPECT_EQ((*first)["spec"]["negative"].get<std::int64_t>(), -7);
  EXPECT_EQ((*first)["spec"]["ratio"].get<double>(), 0.25);
}

TEST(Store, KeysAreSortedAndFollowErases) {
  Store store;
  store.upsert(object("b", "y"));
  store.upsert(object("a", "x"));
  store.upsert(object("", "cluster-scoped"));
  EXPECT_EQ(store.keys(), (std::vector<std::string>{"a/x", "b/y", "cluster-scoped"}));
  store.erase("a/x");
  EXPECT_EQ(store.keys(), (std::vector<std::string>{"b/y", "cluster-scoped"}));
}

TEST(Store, IndexesByControllerOwnerOnly) {
  Store store;
  store.upsert(object("a", "child-1", {}, "uid-1"));
  store.upsert(object("a", "child-2", {}, "uid-1"));
  store.upsert(object("a", "orphan"));
  EXPECT_EQ(keys(store.list_by_owner("uid-1")),
            (std::vector<std::string>{"a/child-1", "a/child-2"}));
  EXPECT_TRUE(store.list_by_owner("not-the-controller").empty());

  store.upsert(object("a", "child-1", {}, "uid-2"));  // re-parented
  EXPECT_EQ(keys(store.list_by_owner("uid-1")), (std::vector<std::string>{"a/child-2"}));
  EXPECT_EQ(keys(store.list_by_owner("uid-2")), (std::vector<std::string>{"a/child-1"}));
  store.erase("a/child-2");
  EXPECT_TRUE(store.list_by_owner("uid-1").empty());
}

TEST(Store, IndexesByLabelAndFollowsLabelChanges) {
  Store store;
  store.upsert(object("a", "x", {{"app", "web"}, {"tier", "front"}}));
  store.upsert(object("a", "y", {{"app", "web"}}));
  store.upsert(object("b", "z", {{"app", "redis"}}));
  EXPECT_EQ(keys(store.list_by_label("app", "web")), (std::vector<std::string>{"a/x", "a/y"}));
  EXPECT_EQ(keys(store.list_by_label("tier", "front")), (std::vector<std::string>{"a/x"}));

  store.upsert(object("a", "x", {{"app", "redis"}}));
  EXPECT_EQ(keys(store.list_by_label("app", "web")), (std::vector<std::string>{"a/y"}));
  EXPECT_EQ(keys(store.list_by_label("app", "redis")), (std::vector<std::string>{"a/x", "b/z"}));
  EXPECT_TRUE(store.list_by_label("tier", "front").empty());
}

TEST(ObjectHelpers, KeyAndControllerOwner) {
  auto o = object("ns", "name", {}, "uid-9");
  EXPECT_EQ(object_key(*o), "ns/name");
  const auto* owner = kube::meta::controller_ref(*o);
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ((*owner)["uid"], "uid-9");
  EXPECT_EQ(kube::meta::controller_ref(*object("ns", "n")), nullptr);
  EXPECT_EQ(kube::meta::controller_ref(json::object()), nullptr);
}

}  // namespace
}  // namespace runtime
