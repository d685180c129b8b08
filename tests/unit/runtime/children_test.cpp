// The "does the cluster already have what we want" comparison that keeps
// converged reconciles free of writes, and the applied hash beside it.
#include "runtime/children.h"

#include <gtest/gtest.h>

#include "support/fake_client.h"

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
  EXPECT_FALSE(contains(json{{"n", "one"}}, json{{"n", 1}}));
}

// The API server writes quantities back in canonical form and omits empty
// values: neither is drift (or every reconcile would apply again).
TEST(Contains, QuantitiesCompareByValueAndZeroValuesMayBeOmitted) {
  auto cpu = [](json v) { return json{{"requests", {{"cpu", std::move(v)}}}}; };
  EXPECT_TRUE(contains(cpu("500m"), cpu(0.5)));
  EXPECT_TRUE(contains(cpu("500m"), cpu("0.5")));
  EXPECT_TRUE(contains(cpu("1"), cpu("1000m")));
  EXPECT_TRUE(contains(cpu("1"), cpu(1)));
  EXPECT_TRUE(contains(cpu("100m"), cpu("0.1")));
  EXPECT_TRUE(contains(cpu("1Gi"), cpu("1024Mi")));
  EXPECT_TRUE(contains(cpu("64Mi"), cpu(67108864)));
  EXPECT_TRUE(contains(cpu("1k"), cpu("1e3")));
  EXPECT_FALSE(contains(cpu("1"), cpu("1001m")));
  EXPECT_FALSE(contains(cpu("1G"), cpu("1Gi")));
  EXPECT_FALSE(contains(cpu("1Gi"), cpu("1Gx")));
  EXPECT_FALSE(contains(json{{"image", "app:1"}}, json{{"image", "app:1.0"}}));

  const json empty_env = json::parse(R"({"env": [{"name": "EMPTY", "value": ""}]})");
  const json omitted = json::parse(R"({"env": [{"name": "EMPTY"}]})");
  EXPECT_TRUE(contains(omitted, empty_env));
  EXPECT_TRUE(contains(json{{"x", json::object()}}, json{{"x", {{"readOnly", false}}}}));
  EXPECT_FALSE(contains(omitted, json::parse(R"({"env": [{"name": "EMPTY", "value": "x"}]})")));
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

// --- apply_and_prune ----------------------------------------------------------------

const ChildKey kConfig{kube::resources::configmaps, "ConfigMap", "config"};
const ChildKey kExtra{kube::resources::configmaps, "ConfigMap", "extra"};

json config_map(const std::string& name, json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "ns"}}},
          {"data", std::move(data)}};
}

class ApplyAndPrune : public ::testing::Test {
 protected:
  // One pass, with the fake's objects as the cache (all of them are ours).
  std::vector<ChildChange> pass(std::vector<std::pair<ChildKey, json>> desired) {
    api_.clear_requests();
    options_.apply.field_manager = "test";
    options_.hash_annotation = "example.com/applied-hash";
    return apply_and_prune(api_, "ns", std::move(desired), {kConfig, kExtra},
                           [this](const ChildKey& key) -> Store::Object {
                             auto object = api_.object(key.resource, "ns", key.name);
                             return object ? std::make_shared<const json>(*object) : nullptr;
                           },
                           options_, {});
  }

  support::FakeClient api_;
  ChildrenOptions options_;
};

TEST_F(ApplyAndPrune, CreatesThenLeavesAloneThenUpdatesThenDeletes) {
  auto changes = pass(
      {{kConfig, config_map("config", {{"a", "1"}})}, {kExtra, config_map("extra", {{"b", "2"}})}});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].action, ChildChange::Action::Created);
  EXPECT_EQ(api_.object(kube::resources::configmaps, "ns", "config")->at("data")["a"], "1");

  changes = pass(
      {{kConfig, config_map("config", {{"a", "1"}})}, {kExtra, config_map("extra", {{"b", "2"}})}});
  EXPECT_TRUE(changes.empty());
  EXPECT_TRUE(api_.writes().empty()) << "a child that contains what is desired costs nothing";

  // Dropping key "a" changes nothing contains() can see; the hash can.
  changes = pass({{kConfig, config_map("config", {{"c", "3"}})}});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].action, ChildChange::Action::Updated);
  EXPECT_EQ(changes[1].action, ChildChange::Action::Deleted);
  EXPECT_EQ(changes[1].key, kExtra);
  const json config = *api_.object(kube::resources::configmaps, "ns", "config");
  EXPECT_FALSE(config["data"].contains("a")) << "server-side apply drops what we gave up";
  EXPECT_EQ(config["data"]["c"], "3");
  EXPECT_FALSE(api_.object(kube::resources::configmaps, "ns", "extra").has_value());
}

TEST_F(ApplyAndPrune, DeletesOnlyTheObjectItSawInTheCache) {
  pass({{kExtra, config_map("extra", {})}});
  const json seen = *api_.object(kube::resources::configmaps, "ns", "extra");
  // Deleted and made anew by someone else since the cache saw it.
  api_.remove(kube::resources::configmaps, "ns", "extra");
  api_.put(kube::resources::configmaps, config_map("extra", {{"new", "yes"}}));
  EXPECT_THROW(apply_and_prune(api_, "ns", {}, {kExtra},
                               [&](const ChildKey&) { return std::make_shared<const json>(seen); },
                               options_, {}),
               kube::ApiError);
  EXPECT_TRUE(api_.object(kube::resources::configmaps, "ns", "extra").has_value());
}

TEST_F(ApplyAndPrune, AChildWithAnImmutableFieldChangedIsMadeAnew) {
  pass({{kConfig, config_map("config", {{"a", "1"}})}});
  const std::string uid =
      api_.object(kube::resources::configmaps, "ns", "config")->at("metadata").value("uid", "");
  api_.fail_next("apply", "configmaps",
                 kube::ApiError(422, "Invalid",
                                "ConfigMap \"config\" is invalid: data: Invalid value: field is "
                                "immutable",
                                "apply configmaps ns/config"));
  const auto changes = pass({{kConfig, config_map("config", {{"a", "2"}})}});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].action, ChildChange::Action::Deleted);
  EXPECT_EQ(changes[1].action, ChildChange::Action::Created);
  const json config = *api_.object(kube::resources::configmaps, "ns", "config");
  EXPECT_EQ(config["data"]["a"], "2");
  EXPECT_NE(config["metadata"].value("uid", ""), uid);
}

TEST_F(ApplyAndPrune, ARefusedChildIsNamedInTheError) {
  api_.fail_next("apply", "configmaps",
                 kube::ApiError(422, "Invalid", "data[a]: Invalid value", "apply configmaps"));
  try {
    pass({{kConfig, config_map("config", {{"a", "1"}})}});
    FAIL() << "no ChildError";
  } catch (const ChildError& e) {
    EXPECT_EQ(e.key(), kConfig);
    EXPECT_EQ(e.verb(), "apply");
    EXPECT_EQ(e.message(), "data[a]: Invalid value");
    EXPECT_TRUE(e.permanent());
  }
  api_.fail_next("apply", "configmaps",
                 kube::ApiError(409, "Conflict", "try again", "apply configmaps"));
  try {
    pass({{kConfig, config_map("config", {{"a", "1"}})}});
    FAIL() << "no ChildError";
  } catch (const ChildError& e) {
    EXPECT_FALSE(e.permanent()) << "a conflict is retried";
  }
}

}  // namespace
}  // namespace runtime
