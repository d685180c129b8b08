// The reconciler against support::FakeClient: what reconcile() writes, and
// what it leaves alone, for each path through it; and the mapping of pod
// events to their Sreracha.
#include "sreracha/reconciler.h"

#include <algorithm>
#include <atomic>
#include <string_view>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "sreracha/stagger.h"
#include "support/fake_client.h"

namespace sreracha {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

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

// --- reconcile() ------------------------------------------------------------------------

const Clock::time_point kNow = Clock::from_time_t(1'800'000'000);  // 2027-01-15T08:00:00Z

std::string rfc3339(Clock::time_point t) { return kube::meta::format_time(t); }

const json kSpec = {{"image", "sreracha:1"}, {"replicas", 2}};

// The caches as the operator's informers hold them, the fake API server
// behind them, and the reconciler on top.
class Reconcile : public ::testing::Test {
 protected:
  Reconcile() {
    caches_.srerachas = &stores_[0];
    caches_.deployments = &stores_[1];
    caches_.services = &stores_[2];
    caches_.endpointslices = &stores_[3];
    caches_.networkpolicies = &stores_[4];
    caches_.poddisruptionbudgets = &stores_[5];
    caches_.ingresses = &stores_[6];
    caches_.pods = &stores_[7];
    caches_.persistentvolumeclaims = &stores_[8];
    caches_.secrets = &stores_[9];
    for (const auto* resource : kChildResources) {
      caches_.unmanaged[resource->resource] = &unmanaged_[resource->resource];
    }
    caches_.ingressclasses = &ingressclasses_;
    restart_reconciler();
  }

  // Refills every cache from the fake: the Srerachas, and the children
  // carrying the managed-by label (main.cpp's informer selector).
  void sync() {
    const std::vector<std::pair<const kube::Resource*, bool>> resources = {
        {&kSrerachas, false},
        {&kube::resources::deployments, true},
        {&kube::resources::services, true},
        {&kube::resources::endpointslices, true},
        {&kube::resources::networkpolicies, true},
        {&kube::resources::poddisruptionbudgets, true},
        {&kube::resources::ingresses, true},
        {&kube::resources::pods, true},
        {&kube::resources::persistentvolumeclaims, true},
        {&kube::resources::secrets, false}};
    for (std::size_t i = 0; i < resources.size(); ++i) {
      auto& store = stores_[i];
      for (const auto& object : store.list()) store.erase(runtime::object_key(*object));
      for (auto& object : api_.objects(*resources[i].first)) {
        if (resources[i].second &&
            object["metadata"]
                    .value("labels", json::object())
                    .value("app.kubernetes.io/managed-by", "") != "sreracha-operator") {
          continue;
        }
        if (resources[i].first == &kube::resources::secrets &&
            object["metadata"].value("labels", json::object()).value(kWatchedSecretLabel, "") !=
                "true") {
          continue;
        }
        store.upsert(std::make_shared<const json>(std::move(object)));
      }
    }
    // The rest of each child kind, as main.cpp's metadata-only informers
    // hold them.
    for (const auto* resource : kChildResources) {
      auto& store = unmanaged_[resource->resource];
      for (const auto& object : store.list()) store.erase(runtime::object_key(*object));
      for (const auto& object : api_.objects(*resource)) {
        if (object["metadata"]
                .value("labels", json::object())
                .value("app.kubernetes.io/managed-by", "") == "sreracha-operator") {
          continue;
        }
        store.upsert(std::make_shared<const json>(json{{"apiVersion", "meta.k8s.io/v1"},
                                                       {"kind", "PartialObjectMetadata"},
                                                       {"metadata", object["metadata"]}}));
      }
    }
  }

  // One reconcile of apps/web on freshly synced caches; the requests it
  // sent are in writes() after it.
  runtime::Result reconcile(const kube::Context& ctx = {}) {
    sync();
    api_.clear_requests();
    auto result = reconciler_->reconcile({"apps", "web"}, ctx);
    return result;
  }

  json put_sreracha(json spec) {
    return api_.put(kSrerachas, {{"apiVersion", "sreracha.io/v1alpha1"},
                                 {"kind", "Sreracha"},
                                 {"metadata", {{"name", "web"}, {"namespace", "apps"}}},
                                 {"spec", std::move(spec)}});
  }

  json status() const { return api_.object(kSrerachas, "apps", "web")->value("status", json()); }

  json condition(const std::string& type) const {
    for (const auto& c : status().value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return json();
  }

  // Writes other than Events (those go out from the recorder's thread).
  std::vector<std::string> writes() const {
    std::vector<std::string> out;
    for (const auto& w : api_.writes()) {
      if (w.resource == "events") continue;
      out.push_back(w.verb + " " + w.resource + " " + w.name +
                    (w.subresource.empty() ? "" : "/" + w.subresource));
    }
    return out;
  }

  // "Type Reason: message" of every Event sent so far.
  std::vector<std::string> events() {
    EXPECT_TRUE(events_.flush(5s));
    std::vector<std::string> out;
    for (const auto& e : api_.objects(kube::resources::events)) {
      out.push_back(e.value("type", "") + " " + e.value("reason", "") + ": " +
                    e.value("message", ""));
    }
    return out;
  }

  // How many Events sent so far start with `prefix` ("Type Reason: ...").
  long events_starting_with(std::string_view prefix) {
    const auto all = events();
    return std::count_if(all.begin(), all.end(),
                         [prefix](const std::string& e) { return e.starts_with(prefix); });
  }

  json deployment(const std::string& name) const {
    return api_.object(kube::resources::deployments, "apps", name).value_or(json());
  }

  // What the Deployment controller and the kubelet would report.
  void deployment_ready(const std::string& name, int replicas) {
    api_.patch(
        kube::resources::deployments, "apps", name,
        {{"status",
          {{"replicas", replicas}, {"readyReplicas", replicas}, {"updatedReplicas", replicas}}}});
  }

  // Both replicas of the app up and ready (staggering started them one
  // after the other); the test then says when each pod started.
  // Unset lifetime: learned.
  void two_ready_replicas_with_lifetime(std::optional<int> lifetime_seconds) {
    json spec = kSpec;
    spec["stagger"] = {{"recycleMarginSeconds", 5}};
    if (lifetime_seconds) spec["stagger"]["appLifetimeSeconds"] = *lifetime_seconds;
    put_sreracha(spec);
    reconcile();
    deployment_ready("web-redis", 1);
    api_.patch(kube::resources::deployments, "apps", "web", {{"spec", {{"replicas", 2}}}});
    deployment_ready("web", 2);
  }

  // An app pod created 2 s before its container started; when ready, Ready
  // 1 s after the start (a 3 s start-up).
  void put_pod(const std::string& name, Clock::time_point started, bool ready = true) {
    api_.put(kube::resources::pods,
             {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", name},
                {"namespace", "apps"},
                {"creationTimestamp", rfc3339(started - 2s)},
                {"labels",
                 {{"app.kubernetes.io/managed-by", "sreracha-operator"},
                  {"app.kubernetes.io/instance", "web"},
                  {"app.kubernetes.io/component", "app"}}}}},
              {"spec", {{"nodeName", "node-1"}}},
              {"status",
               {{"conditions", json::array({{{"type", "Ready"},
                                             {"status", ready ? "True" : "False"},
                                             {"lastTransitionTime", rfc3339(started + 1s)}}})},
                {"containerStatuses",
                 json::array({{{"name", "sreracha"},
                               {"restartCount", 0},
                               {"state", {{"running", {{"startedAt", rfc3339(started)}}}}}}})}}}});
  }

  // A new Reconciler: nothing remembered from earlier passes.
  void restart_reconciler(redis_check::RedisChecker* redis_checker = nullptr) {
    ReconcilerOptions options;
    options.field_manager = "test-operator";
    options.now = [this] { return now_; };
    options.redis_checker = redis_checker;
    reconciler_ = std::make_unique<Reconciler>(api_, caches_, events_, metrics_, options);
  }

  // Pods as of the template the reconciler renders now.
  void mark_current_template(const std::vector<std::string>& pods) {
    const json hash = deployment("web")["spec"]["template"]["metadata"]["annotations"]
                                       [std::string(stagger::kTemplateHashAnnotation)];
    for (const auto& pod : pods) {
      api_.patch(kube::resources::pods, "apps", pod,
                 {{"metadata",
                   {{"annotations", {{std::string(stagger::kTemplateHashAnnotation), hash}}}}}});
    }
  }

  support::FakeClient api_;
  runtime::Store stores_[10];
  static constexpr const kube::Resource* kChildResources[] = {
      &kube::resources::deployments,           &kube::resources::services,
      &kube::resources::endpointslices,        &kube::resources::networkpolicies,
      &kube::resources::poddisruptionbudgets,  &kube::resources::ingresses,
      &kube::resources::persistentvolumeclaims};
  std::map<std::string, runtime::Store> unmanaged_;
  runtime::Store ingressclasses_;
  Caches caches_;
  runtime::EventRecorder events_{api_};
  runtime::MetricsRegistry metrics_;
  Clock::time_point now_ = kNow;
  std::unique_ptr<Reconciler> reconciler_;
};

TEST_F(Reconcile, ANewSrerachaGetsEveryChildOnceAndAStatus) {
  const json cr = put_sreracha(kSpec);
  const auto result = reconcile();

  const Instance inst = parse_instance(cr);
  std::vector<std::string> expected;
  for (const auto& child : render(inst)) {
    expected.push_back("apply " + ref_of(child).resource + " " + ref_of(child).name);
  }
  expected.push_back("patch srerachas web/status");
  EXPECT_EQ(writes(), expected);

  const json app = deployment("web");
  ASSERT_TRUE(app.is_object());
  EXPECT_EQ(app["spec"]["replicas"], 1) << "staggering starts the first replica alone";
  EXPECT_EQ(app["metadata"]["ownerReferences"][0]["uid"], cr["metadata"]["uid"]);
  EXPECT_EQ(app["metadata"]["annotations"][kAppliedHashAnnotation].get<std::string>().size(), 16u);
  EXPECT_TRUE(deployment("web-redis").is_object());

  EXPECT_EQ(status()["observedGeneration"], 1);
  EXPECT_EQ(status()["readyReplicas"], 0);
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "NotReady");
  EXPECT_EQ(condition("Degraded")["status"], "False");
  EXPECT_EQ(condition("RedisReady")["reason"], "LocalRedisNotReady");
  // One Event naming every child created.
  const auto sent = events();
  ASSERT_EQ(sent.size(), 1u);
  const std::string prefix = "Normal Created: ", suffix = " created";
  ASSERT_TRUE(sent[0].starts_with(prefix) && sent[0].ends_with(suffix)) << sent[0];
  std::set<std::string> children;
  std::string list = sent[0].substr(prefix.size(), sent[0].size() - prefix.size() - suffix.size());
  for (std::size_t at = 0, comma = 0; comma != std::string::npos; at = comma + 2) {
    comma = list.find(", ", at);
    children.insert(list.substr(at, comma - at));
  }
  EXPECT_EQ(children,
            (std::set<std::string>{"Deployment web", "Deployment web-redis", "Service web",
                                   "Service web-redis", "NetworkPolicy web-redis",
                                   "PodDisruptionBudget web"}));
  EXPECT_TRUE(result.requeue_after.has_value()) << "the next replica's start is due later";
}

TEST_F(Reconcile, AConvergedSrerachaCostsNoWrite) {
  put_sreracha(kSpec);
  reconcile();
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{});
}

TEST_F(Reconcile, StatusIsWrittenOnlyWhenItChanges) {
  put_sreracha({{"image", "sreracha:1"}, {"replicas", 1}});
  reconcile();
  deployment_ready("web", 1);
  deployment_ready("web-redis", 1);
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{"patch srerachas web/status"});
  EXPECT_EQ(condition("Ready")["status"], "True");
  EXPECT_EQ(condition("Ready")["message"], "1/1 replicas ready");
  EXPECT_EQ(condition("RedisReady")["status"], "True");
  const std::string ready_since = condition("Ready")["lastTransitionTime"];

  now_ += 1h;  // a later pass that finds the same: no write, the same transition time
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{});
  EXPECT_EQ(condition("Ready")["lastTransitionTime"], ready_since);
}

TEST_F(Reconcile, AStaleCacheDoesNotUndoTheStatusJustWritten) {
  put_sreracha({{"image", "sreracha:1"}, {"replicas", 1}});
  reconcile();
  // The Sreracha in the cache still has no status (the watch event of the
  // status write has not arrived): the pass builds on the status it wrote.
  json stale = *api_.object(kSrerachas, "apps", "web");
  stale.erase("status");
  sync();
  stores_[0].upsert(std::make_shared<const json>(stale));
  api_.clear_requests();
  reconciler_->reconcile({"apps", "web"}, {});
  EXPECT_EQ(writes(), std::vector<std::string>{});
}

TEST_F(Reconcile, DriftInAChildIsAppliedBack) {
  put_sreracha(kSpec);
  reconcile();
  api_.patch(
      kube::resources::deployments, "apps", "web",
      {{"spec",
        {{"template",
          {{"spec",
            {{"containers", json::array({{{"name", "sreracha"}, {"image", "evil:1"}}})}}}}}}}});
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{"apply deployments web"});
  EXPECT_EQ(deployment("web")["spec"]["template"]["spec"]["containers"][0]["image"], "sreracha:1");
  EXPECT_THAT(events(), ::testing::Contains("Normal Updated: Deployment web updated to the spec"));
}

TEST_F(Reconcile, ChildrenTheSpecNoLongerWantsAreDeleted) {
  put_sreracha(kSpec);
  reconcile();
  ASSERT_TRUE(api_.object(kube::resources::poddisruptionbudgets, "apps", "web").has_value());
  json spec = kSpec;
  spec["podDisruptionBudget"] = {{"enabled", false}};
  put_sreracha(spec);
  reconcile();
  EXPECT_THAT(writes(), ::testing::Contains("delete poddisruptionbudgets web"));
  EXPECT_FALSE(api_.object(kube::resources::poddisruptionbudgets, "apps", "web").has_value());
  EXPECT_EQ(status()["observedGeneration"], 2);
  EXPECT_THAT(events(),
              ::testing::Contains(
                  "Normal Deleted: PodDisruptionBudget web deleted (no longer in the spec)"));
}

TEST_F(Reconcile, PersistentLocalRedisKeepsItsDataOnAClaim) {
  json spec = kSpec;
  spec["redis"] = {{"local", {{"persistence", {{"size", "1Gi"}, {"storageClassName", "fast"}}}}}};
  const json cr = put_sreracha(spec);
  reconcile();
  const auto claim = api_.object(kube::resources::persistentvolumeclaims, "apps", "web-redis-data");
  ASSERT_TRUE(claim.has_value()) << ::testing::PrintToString(writes());
  EXPECT_EQ((*claim)["spec"]["resources"]["requests"]["storage"], "1Gi");
  EXPECT_EQ((*claim)["spec"]["storageClassName"], "fast");
  EXPECT_EQ((*claim)["metadata"]["ownerReferences"][0]["uid"], cr["metadata"]["uid"]);
  const json pod = deployment("web-redis")["spec"]["template"]["spec"];
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "web-redis-data");
  EXPECT_THAT(pod["containers"][0]["command"][2].get<std::string>(), HasSubstr("appendonly yes"));

  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{}) << "a bound claim is not applied again";

  spec["redis"] = json::object();
  put_sreracha(spec);
  reconcile();
  EXPECT_THAT(writes(), ::testing::Contains("delete persistentvolumeclaims web-redis-data"));
  EXPECT_TRUE(
      deployment("web-redis")["spec"]["template"]["spec"]["volumes"][0].contains("emptyDir"));
}

TEST_F(Reconcile, AChildSomeoneElseMadeIsLeftAloneAndReported) {
  put_sreracha(kSpec);
  api_.put(kube::resources::deployments, {{"apiVersion", "apps/v1"},
                                          {"kind", "Deployment"},
                                          {"metadata", {{"name", "web"}, {"namespace", "apps"}}},
                                          {"spec", {{"replicas", 7}}}});
  const auto result = reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{"patch srerachas web/status"});
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 7);
  EXPECT_EQ(condition("Degraded")["status"], "True");
  EXPECT_EQ(condition("Degraded")["reason"], "ChildNotOwned");
  EXPECT_THAT(condition("Degraded")["message"].get<std::string>(),
              HasSubstr("Deployment apps/web exists and is not controlled by this Sreracha"));
  EXPECT_EQ(result.requeue_after, std::chrono::milliseconds(30000));
  EXPECT_THAT(events(),
              ::testing::Contains(HasSubstr("Warning ChildNotOwned: Deployment apps/web")));
}

// Another Sreracha's child (labelled as ours) whose name this one wants: its
// Redis Deployment "web" would be our app Deployment. Left alone.
TEST_F(Reconcile, AnotherSrerachasChildOfTheSameNameIsLeftAlone) {
  put_sreracha(kSpec);
  api_.put(kube::resources::deployments,
           {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata",
             {{"name", "web"},
              {"namespace", "apps"},
              {"labels", {{"app.kubernetes.io/managed-by", "sreracha-operator"}}},
              {"ownerReferences",
               {{{"apiVersion", "sreracha.io/v1alpha1"},
                 {"kind", "Sreracha"},
                 {"name", "we"},
                 {"uid", "uid-of-we"},
                 {"controller", true}}}}}},
            {"spec", {{"replicas", 7}}}});
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{"patch srerachas web/status"});
  EXPECT_EQ(condition("Degraded")["reason"], "ChildNotOwned");
  EXPECT_THAT(condition("Degraded")["message"].get<std::string>(),
              HasSubstr("Deployment apps/web exists and is not controlled by this Sreracha"));
}

// The first reconcile of an instance finds its children missing from the
// managed caches, and their names free in the metadata caches of the rest:
// it reads nothing from the API server.
TEST_F(Reconcile, ANewInstanceIsCreatedWithoutAnyGet) {
  put_sreracha(kSpec);
  reconcile();
  EXPECT_THAT(writes(), ::testing::Contains("apply deployments web"));
  for (const auto& request : api_.requests()) {
    EXPECT_NE(request.verb, "get") << request.resource << " " << request.name;
  }
}

TEST_F(Reconcile, AChildOfOursThatLostItsLabelIsTakenBack) {
  put_sreracha(kSpec);
  reconcile();
  auto web = deployment("web");
  web["metadata"]["labels"].erase("app.kubernetes.io/managed-by");
  api_.put(kube::resources::deployments, web);
  reconcile();
  EXPECT_THAT(writes(), ::testing::Contains("apply deployments web"));
  EXPECT_EQ(deployment("web")["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "sreracha-operator");
  EXPECT_NE(condition("Degraded")["reason"], "ChildNotOwned");
}

TEST_F(Reconcile, AnInvalidSpecIsReportedAndNothingIsApplied) {
  put_sreracha({{"image", "sreracha:1"}, {"replicas", -1}});
  const auto result = reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{"patch srerachas web/status"});
  EXPECT_EQ(condition("Degraded")["reason"], "InvalidSpec");
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_THAT(condition("Ready")["message"].get<std::string>(), HasSubstr("replicas"));
  EXPECT_FALSE(result.requeue_after.has_value()) << "the next spec change reconciles again";
  EXPECT_THAT(events(), ::testing::Contains(HasSubstr("Warning InvalidSpec:")));
}

TEST_F(Reconcile, AMissingSecretOrKeyBlocksUntilItExists) {
  json spec = kSpec;
  spec["redis"] = {{"authSecretRef", {{"name", "auth"}, {"key", "password"}}}};
  put_sreracha(spec);
  EXPECT_EQ(reconcile().requeue_after, std::chrono::milliseconds(30000));
  EXPECT_EQ(writes(), std::vector<std::string>{"patch srerachas web/status"});
  EXPECT_EQ(condition("Degraded")["reason"], "SecretMissing");

  api_.put(kube::resources::secrets, {{"apiVersion", "v1"},
                                      {"kind", "Secret"},
                                      {"metadata", {{"name", "auth"}, {"namespace", "apps"}}},
                                      {"data", {{"other", "eA=="}}}});
  reconcile();
  EXPECT_EQ(condition("Degraded")["reason"], "SecretKeyMissing");
  EXPECT_THAT(condition("Degraded")["message"].get<std::string>(), HasSubstr("\"password\""));

  api_.patch(kube::resources::secrets, "apps", "auth", {{"data", {{"password", "cHc="}}}});
  reconcile();
  EXPECT_TRUE(deployment("web").is_object());
  EXPECT_EQ(condition("Degraded")["status"], "False");
}

// --- the auth Secret ---

json auth_secret(const std::string& password_base64, bool watched) {
  json meta = {{"name", "auth"}, {"namespace", "apps"}};
  if (watched) meta["labels"] = {{kWatchedSecretLabel, "true"}};
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", meta},
          {"data", {{"password", password_base64}}}};
}

std::string auth_annotation(const json& deployment) {
  return deployment["spec"]["template"]["metadata"]
      .value("annotations", json::object())
      .value(std::string(kAuthChecksumAnnotation), "");
}

json with_auth(json spec) {
  spec["redis"] = {{"authSecretRef", {{"name", "auth"}, {"key", "password"}}}};
  return spec;
}

TEST_F(Reconcile, AWatchedSecretIsReadFromTheCacheAndItsChecksumIsOnBothTemplates) {
  const json secret = api_.put(kube::resources::secrets, auth_secret("cHc=", true));
  put_sreracha(with_auth(kSpec));
  reconcile();
  for (const auto& request : api_.requests()) {
    EXPECT_NE(request.resource, "secrets") << request.verb << " of a cached Secret";
  }
  const std::string checksum = auth_checksum(secret["metadata"]["uid"].get<std::string>(), "cHc=");
  EXPECT_EQ(auth_annotation(deployment("web-redis")), checksum);
  EXPECT_EQ(auth_annotation(deployment("web")), checksum);
  EXPECT_EQ(checksum.size(), 64u);
  EXPECT_EQ(checksum.find("cHc="), std::string::npos);
  EXPECT_THAT(events(), Not(Contains(HasSubstr("AuthSecretNotWatched"))));
}

TEST_F(Reconcile, ANewPasswordRollsRedisFirstThenTheApp) {
  api_.put(kube::resources::secrets, auth_secret("b2xk", true));
  put_sreracha(with_auth(kSpec));
  reconcile();
  deployment_ready("web-redis", 1);
  const std::string old_checksum = auth_annotation(deployment("web"));
  ASSERT_FALSE(old_checksum.empty());

  api_.patch(kube::resources::secrets, "apps", "auth", {{"data", {{"password", "bmV3"}}}});
  reconcile();
  const std::string new_checksum = auth_annotation(deployment("web-redis"));
  EXPECT_NE(new_checksum, old_checksum);
  EXPECT_EQ(auth_annotation(deployment("web")), old_checksum)
      << "the app keeps its password until Redis has the new one";

  // The Deployment controller has seen the new template, the old pod is
  // gone, the new one not Ready yet: the app still waits.
  const json generation = deployment("web-redis")["metadata"]["generation"];
  api_.patch(kube::resources::deployments, "apps", "web-redis",
             {{"status",
               {{"observedGeneration", generation},
                {"replicas", 1},
                {"updatedReplicas", 1},
                {"readyReplicas", 0}}}});
  reconcile();
  EXPECT_EQ(auth_annotation(deployment("web")), old_checksum);

  api_.patch(kube::resources::deployments, "apps", "web-redis",
             {{"status", {{"readyReplicas", 1}}}});
  reconcile();
  EXPECT_EQ(auth_annotation(deployment("web")), new_checksum);
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{}) << "converged";
}

TEST_F(Reconcile, OutsideLocalModeTheAppTakesANewPasswordAtOnce) {
  api_.put(kube::resources::secrets, auth_secret("b2xk", true));
  json spec = with_auth(kSpec);
  spec["redis"]["mode"] = "External";
  spec["redis"]["host"] = "primary.example.cache.amazonaws.com";
  put_sreracha(spec);
  reconcile();
  const std::string old_checksum = auth_annotation(deployment("web"));
  api_.patch(kube::resources::secrets, "apps", "auth", {{"data", {{"password", "bmV3"}}}});
  reconcile();
  EXPECT_NE(auth_annotation(deployment("web")), old_checksum);
  EXPECT_FALSE(auth_annotation(deployment("web")).empty());
}

TEST_F(Reconcile, AnUncheckedExternalRedisLeavesReadyToTheReplicas) {
  json spec = kSpec;
  spec["redis"] = {{"mode", "External"}, {"host", "primary.example.cache.amazonaws.com"}};
  put_sreracha(spec);
  reconcile();
  deployment_ready("web", 2);
  reconcile();
  EXPECT_EQ(condition("RedisReady")["status"], "Unknown");
  EXPECT_EQ(condition("RedisReady")["reason"], "NotChecked");
  EXPECT_THAT(condition("RedisReady")["message"].get<std::string>(),
              HasSubstr("--redis-check=false"));
  EXPECT_EQ(condition("Ready")["status"], "True");
}

// The check's result comes from the checker's thread: Checking until then,
// the key woken when it lands, and the failure in RedisReady and Ready.
// (Nothing listens on the port: connect() is refused at once, no server.)
TEST_F(Reconcile, TheRedisCheckDecidesRedisReadyAndWakesTheKey) {
  std::atomic<int> wakes = 0;
  redis_check::CheckerOptions checker_options;
  checker_options.min_backoff = 1h;  // one check is enough here
  redis_check::RedisChecker checker(checker_options, [&](const std::string& key) {
    EXPECT_EQ(key, "apps/web");
    ++wakes;
  });
  restart_reconciler(&checker);
  api_.put(kube::resources::secrets, auth_secret("cHc=", true));
  json spec = with_auth(kSpec);
  spec["redis"]["mode"] = "Endpoints";
  spec["redis"]["addresses"] = {"127.0.0.1"};
  spec["redis"]["port"] = 1;  // privileged, and nobody's
  put_sreracha(spec);
  reconcile();
  EXPECT_EQ(condition("RedisReady")["reason"], "Checking");
  EXPECT_EQ(condition("Ready")["status"], "False");

  for (int i = 0; i < 500 && wakes == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(wakes, 1);
  deployment_ready("web", 2);
  reconcile();
  EXPECT_EQ(condition("RedisReady")["status"], "False");
  EXPECT_EQ(condition("RedisReady")["reason"], "Unreachable");
  EXPECT_THAT(condition("RedisReady")["message"].get<std::string>(),
              HasSubstr("cannot connect to 127.0.0.1:1"));
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_THAT(condition("Ready")["message"].get<std::string>(), HasSubstr("127.0.0.1:1"));
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{}) << "the same result writes nothing";
  restart_reconciler();  // before the checker it points at goes
}

TEST_F(Reconcile, AnUnlabelledSecretIsReadFromTheApiPolledAndWarnedAboutOnce) {
  api_.put(kube::resources::secrets, auth_secret("cHc=", false));
  put_sreracha(with_auth(kSpec));
  const auto result = reconcile();
  ASSERT_TRUE(result.requeue_after.has_value()) << "nothing would tell of a new password";
  EXPECT_LE(*result.requeue_after, std::chrono::milliseconds(30000));
  EXPECT_FALSE(auth_annotation(deployment("web")).empty());
  reconcile();
  EXPECT_EQ(events_starting_with("Warning AuthSecretNotWatched:"), 1);
  EXPECT_THAT(events(), Contains(HasSubstr("sreracha.io/watch=true")));
}

TEST_F(Reconcile, APodTheKubeletCannotStartIsNamedInReadyAndOneEvent) {
  put_sreracha(kSpec);
  reconcile();
  deployment_ready("web-redis", 1);
  put_pod("web-a", kNow - 10s, false);
  api_.patch(kube::resources::pods, "apps", "web-a",
             {{"status",
               {{"containerStatuses",
                 {{{"name", "sreracha"},
                   {"restartCount", 0},
                   {"state",
                    {{"waiting",
                      {{"reason", "CreateContainerConfigError"},
                       {"message",
                        "container has runAsNonRoot and image has non-numeric "
                        "user (www), cannot verify user is non-root"}}}}}}}}}}});
  reconcile();
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "CreateContainerConfigError");
  EXPECT_THAT(condition("Ready")["message"].get<std::string>(),
              HasSubstr("pod web-a: container sreracha: container has runAsNonRoot"));
  reconcile();
  EXPECT_EQ(events_starting_with("Warning CreateContainerConfigError: pod web-a"), 1);
}

TEST(AuthSecretReferrers, MapsASecretToTheSrerachasOfItsNamespaceThatNameIt) {
  runtime::Store srerachas;
  auto put = [&](const std::string& ns, const std::string& name, const std::string& secret) {
    json cr = {{"metadata", {{"namespace", ns}, {"name", name}}}, {"spec", json::object()}};
    if (!secret.empty()) cr["spec"]["redis"]["authSecretRef"]["name"] = secret;
    srerachas.upsert(std::make_shared<const json>(cr));
  };
  put("apps", "a", "auth");
  put("apps", "b", "other");
  put("apps", "c", "");
  put("elsewhere", "d", "auth");
  const auto requests =
      auth_secret_referrers(srerachas)({{"metadata", {{"namespace", "apps"}, {"name", "auth"}}}});
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].ns, "apps");
  EXPECT_EQ(requests[0].name, "a");
}

TEST_F(Reconcile, ADeletedOrDeletingSrerachaIsNotTouched) {
  EXPECT_FALSE(reconcile().requeue_after.has_value());
  EXPECT_EQ(writes(), std::vector<std::string>{});
  put_sreracha(kSpec);
  api_.patch(kSrerachas, "apps", "web", {{"metadata", {{"deletionTimestamp", rfc3339(kNow)}}}});
  reconcile();
  EXPECT_EQ(writes(), std::vector<std::string>{});
}

TEST_F(Reconcile, StaggeringWakesUpBeforeTheNextReplacementIsDue) {
  two_ready_replicas_with_lifetime(60);
  put_pod("web-a", kNow - 30s);
  put_pod("web-b", kNow - 1s);
  const auto result = reconcile();
  // web-a dies at +30 s; its replacement must be ready 5 s before, and
  // takes 3 s to start (learned from the pods): the reconciler looks again
  // by +22 s.
  ASSERT_TRUE(result.requeue_after.has_value());
  EXPECT_GT(*result.requeue_after, 0ms);
  EXPECT_LE(*result.requeue_after, 22s);
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2) << "nothing is due yet";
  EXPECT_EQ(status()["stagger"]["effectiveLifetimeSeconds"], 60);
}

TEST_F(Reconcile, AReplicaNearItsEndIsReplacedBeforeBreak) {
  two_ready_replicas_with_lifetime(60);
  put_pod("web-a", kNow - 52s);  // dies at +8 s
  put_pod("web-b", kNow - 20s);
  reconcile();
  // Make before break: one more replica now, the surge on record.
  const json app = deployment("web");
  EXPECT_EQ(app["spec"]["replicas"], 3);
  EXPECT_EQ(app["metadata"]["annotations"][std::string(stagger::kSurgeAnnotation)], "1");
  EXPECT_TRUE(api_.object(kube::resources::pods, "apps", "web-a").has_value())
      << "the old pod stays until its replacement is ready";
}

// The surge pod c is Ready: a, near its end, goes through the Eviction API
// and the surge is given back in the same pass.
TEST_F(Reconcile, AReplacedPodIsRetiredThroughTheEvictionApi) {
  two_ready_replicas_with_lifetime(60);
  api_.patch(kube::resources::deployments, "apps", "web",
             {{"metadata", {{"annotations", {{std::string(stagger::kSurgeAnnotation), "1"}}}}},
              {"spec", {{"replicas", 3}}}});
  put_pod("web-a", kNow - 52s);
  put_pod("web-b", kNow - 20s);
  put_pod("web-c", kNow - 4s);
  reconcile();
  EXPECT_THAT(writes(), ::testing::Contains("evict pods web-a/eviction"));
  EXPECT_FALSE(api_.object(kube::resources::pods, "apps", "web-a").has_value());
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2);
  EXPECT_EQ(status()["stagger"]["recycles"], 1);
  EXPECT_THAT(events(), ::testing::Contains("Normal PodRecycled: pod web-a replaced (lifetime)"));
}

TEST_F(Reconcile, ABudgetThatRefusesTheEvictionKeepsThePodAndTriesAgainSoon) {
  two_ready_replicas_with_lifetime(60);
  api_.patch(kube::resources::deployments, "apps", "web",
             {{"metadata", {{"annotations", {{std::string(stagger::kSurgeAnnotation), "1"}}}}},
              {"spec", {{"replicas", 3}}}});
  put_pod("web-a", kNow - 52s);
  put_pod("web-b", kNow - 20s);
  put_pod("web-c", kNow - 4s);
  api_.fail_next("evict", "pods",
                 kube::ApiError(429, "TooManyRequests",
                                "Cannot evict pod as it would violate the pod's disruption budget.",
                                "evict pods apps/web-a"));
  const auto result = reconcile();
  EXPECT_TRUE(api_.object(kube::resources::pods, "apps", "web-a").has_value());
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 3) << "the surge stays while a serves";
  EXPECT_EQ(result.requeue_after, 2s);
  EXPECT_EQ(status()["stagger"].value("recycles", 0), 0);

  reconcile();  // the budget has caught up
  EXPECT_FALSE(api_.object(kube::resources::pods, "apps", "web-a").has_value());
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2);
}

TEST_F(Reconcile, ADeletedSrerachasMetricSeriesGoWithIt) {
  two_ready_replicas_with_lifetime(60);
  put_pod("web-a", kNow - 30s);
  put_pod("web-b", kNow - 1s);
  reconcile();
  ASSERT_THAT(metrics_.expose(),
              HasSubstr("sreracha_ready_replicas{namespace=\"apps\",name=\"web\"}"));
  ASSERT_THAT(metrics_.expose(), HasSubstr("sreracha_observed_startup_seconds{namespace=\"apps\""));
  api_.remove(kSrerachas, "apps", "web");
  reconcile();
  EXPECT_THAT(metrics_.expose(), Not(HasSubstr("name=\"web\"")));
}

TEST_F(Reconcile, StartUpTimesAreLearnedAndLeadTheReplacements) {
  two_ready_replicas_with_lifetime(60);
  put_pod("web-a", kNow - 30s);
  put_pod("web-b", kNow - 1s);
  reconcile();
  EXPECT_EQ(status()["stagger"]["observedStartupSeconds"], 3);
  EXPECT_EQ(status()["stagger"]["startupSeconds"], 3);
  EXPECT_EQ(condition("Staggered")["status"], "True");
  EXPECT_EQ(condition("Staggered")["reason"], "Planned");
  EXPECT_THAT(metrics_.expose(),
              HasSubstr("sreracha_observed_startup_seconds{namespace=\"apps\",name=\"web\"} 3"));

  // The spec's start-up wins over the learned one.
  json spec = kSpec;
  spec["stagger"] = {
      {"appLifetimeSeconds", 60}, {"recycleMarginSeconds", 5}, {"startupSeconds", 9}};
  put_sreracha(spec);
  reconcile();
  EXPECT_EQ(status()["stagger"]["startupSeconds"], 9);
  EXPECT_EQ(status()["stagger"]["observedStartupSeconds"], 3);
}

TEST_F(Reconcile, ALifetimeTooShortForItsReplicasIsReportedOnce) {
  // 3 replicas, 3 s start-ups: a lifetime of 9 s lets two end inside one
  // start-up. Still planned (overlapping), reported as not safe.
  json spec = kSpec;
  spec["replicas"] = 3;
  spec["stagger"] = {{"appLifetimeSeconds", 9}, {"recycleMarginSeconds", 1}, {"startupSeconds", 3}};
  put_sreracha(spec);
  reconcile();
  EXPECT_EQ(condition("Staggered")["status"], "False");
  EXPECT_EQ(condition("Staggered")["reason"], "LifetimeTooShort");
  EXPECT_THAT(condition("Staggered")["message"].get<std::string>(), HasSubstr("9 s"));
  now_ += 1s;
  reconcile();
  EXPECT_EQ(events_starting_with("Warning LifetimeTooShort:"), 1);
}

TEST_F(Reconcile, ALateReplacementIsCountedOnce) {
  two_ready_replicas_with_lifetime(60);
  api_.patch(kube::resources::deployments, "apps", "web",
             {{"metadata", {{"annotations", {{std::string(stagger::kSurgeAnnotation), "1"}}}}},
              {"spec", {{"replicas", 3}}}});
  put_pod("web-a", kNow - 56s);  // past its deadline (L - m = 55 s)
  put_pod("web-b", kNow - 20s);
  put_pod("web-c", kNow - 5s, false);  // its replacement, not Ready yet
  reconcile();
  EXPECT_EQ(status()["stagger"]["lateReplacements"], 1);
  EXPECT_TRUE(api_.object(kube::resources::pods, "apps", "web-a").has_value())
      << "never retired before its replacement is Ready";
  now_ += 1s;
  reconcile();
  EXPECT_EQ(status()["stagger"]["lateReplacements"], 1);
  EXPECT_THAT(events(), ::testing::Contains(HasSubstr("Warning LateReplacement: pod web-a")));
}

TEST_F(Reconcile, ALifetimeLearnedForAnotherTemplateIsCheckedByACanary) {
  two_ready_replicas_with_lifetime(std::nullopt);
  api_.patch(
      kSrerachas, "apps", "web",
      {{"status",
        {{"stagger", {{"observedLifetimeSeconds", 30}, {"observedLifetimeTemplate", "x"}}}}}});
  restart_reconciler();          // an operator restarted after the image changed
  put_pod("web-a", kNow - 24s);  // due at 20 s with L = 30 s: the canary instead
  put_pod("web-b", kNow - 1s);
  mark_current_template({"web-a", "web-b"});
  reconcile();
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2) << "the canary is not replaced on schedule";
  EXPECT_EQ(status()["stagger"]["effectiveLifetimeSeconds"], 30);
  EXPECT_EQ(status()["stagger"]["observedLifetimeTemplate"], "x") << "kept until checked";
  EXPECT_EQ(condition("Staggered")["reason"], "CheckingLifetime");
  EXPECT_NE(condition("Staggered")["message"].get<std::string>().find("web-a"), std::string::npos);
}

TEST_F(Reconcile, ACanaryOutlivingTheOldLifetimeShowsAFixedApp) {
  two_ready_replicas_with_lifetime(std::nullopt);
  api_.patch(
      kSrerachas, "apps", "web",
      {{"status",
        {{"stagger", {{"observedLifetimeSeconds", 30}, {"observedLifetimeTemplate", "x"}}}}}});
  restart_reconciler();
  put_pod("web-a", kNow - 61s);  // more than two old lifetimes, no crash
  put_pod("web-b", kNow - 1s);
  mark_current_template({"web-a", "web-b"});
  reconcile();
  EXPECT_FALSE(status()["stagger"].contains("observedLifetimeSeconds"));
  EXPECT_FALSE(status()["stagger"].contains("effectiveLifetimeSeconds"));
  EXPECT_EQ(condition("Staggered")["reason"], "LearningLifetime");
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2);
}

TEST_F(Reconcile, LifetimeZeroIsAStableAppNeverRecycled) {
  json spec = kSpec;
  spec["stagger"] = {{"appLifetimeSeconds", 0}};
  put_sreracha(spec);
  reconcile();
  deployment_ready("web-redis", 1);
  api_.patch(kube::resources::deployments, "apps", "web", {{"spec", {{"replicas", 2}}}});
  deployment_ready("web", 2);
  put_pod("web-a", kNow - 3600s);
  put_pod("web-b", kNow - 1800s);
  const auto result = reconcile();
  EXPECT_EQ(deployment("web")["spec"]["replicas"], 2);
  EXPECT_EQ(condition("Staggered")["reason"], "StableApp");
  EXPECT_FALSE(result.requeue_after.has_value());
}

TEST_F(Reconcile, ACancelledContextEndsThePassBeforeItWrites) {
  put_sreracha(kSpec);
  kube::CancelToken token;
  token.cancel();
  EXPECT_THROW(reconcile(kube::Context(token)), kube::Cancelled);
  EXPECT_EQ(writes(), std::vector<std::string>{});
}

TEST_F(Reconcile, AFailedApplyIsThrownForTheRetryAndLeavesStatusAlone) {
  put_sreracha(kSpec);
  api_.fail_next(
      "apply", "deployments",
      kube::ApiError(500, "InternalError", "etcd is down", "apply deployments apps/web"));
  EXPECT_THROW(reconcile(), kube::ApiError);
  EXPECT_TRUE(status().is_null()) << "no status from a pass that did not finish";
  reconcile();
  EXPECT_TRUE(deployment("web").is_object());
}

// A child the API refuses for good (here: requests above limits, which the
// CRD cannot see) is named in Degraded and Ready and an event; the key is not
// retried with back-off, and the next spec change tries again.
TEST_F(Reconcile, AChildTheApiRefusesIsNamedInDegradedAndReadyAndNotRetried) {
  put_sreracha(kSpec);
  api_.fail_next("apply", "deployments",
                 kube::ApiError(422, "Invalid",
                                "Deployment.apps \"web-redis\" is invalid: spec.template.spec."
                                "containers[0].resources.requests: Invalid value: \"2\": must be "
                                "less than or equal to cpu limit of 1",
                                "apply deployments apps/web-redis"));
  const auto result = reconcile();
  EXPECT_FALSE(result.requeue_after.has_value()) << "terminal until something changes";
  EXPECT_EQ(condition("Degraded")["status"], "True");
  EXPECT_EQ(condition("Degraded")["reason"], "ApplyFailed");
  const std::string message = condition("Degraded")["message"];
  EXPECT_THAT(message,
              HasSubstr("apply Deployment web-redis refused by the API server (422 Invalid)"));
  EXPECT_THAT(message, HasSubstr("must be less than or equal to cpu limit"));
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "ApplyFailed");
  EXPECT_EQ(events_starting_with("Warning ApplyFailed:"), 1);

  json spec = kSpec;
  spec["replicas"] = 1;
  put_sreracha(spec);
  reconcile();
  EXPECT_TRUE(deployment("web").is_object());
  EXPECT_EQ(condition("Degraded")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "NotReady");
}

TEST_F(Reconcile, AStaggeredReplacementsSurgePodIsNotProgress) {
  put_sreracha(kSpec);
  reconcile();
  deployment_ready("web", 2);
  deployment_ready("web-redis", 1);
  reconcile();
  ASSERT_EQ(condition("Progressing")["status"], "False");
  const json since = condition("Progressing")["lastTransitionTime"];
  now_ += 1min;
  // The successor of a pod near its end: three pods, two of them Ready.
  api_.patch(kube::resources::deployments, "apps", "web",
             {{"status", {{"replicas", 3}, {"readyReplicas", 2}, {"updatedReplicas", 3}}}});
  reconcile();
  EXPECT_EQ(condition("Progressing")["status"], "False");
  EXPECT_EQ(condition("Progressing")["lastTransitionTime"], since);

  // One replica short is progress (a start-up, a crash).
  api_.patch(kube::resources::deployments, "apps", "web",
             {{"status", {{"replicas", 2}, {"readyReplicas", 1}, {"updatedReplicas", 2}}}});
  reconcile();
  EXPECT_EQ(condition("Progressing")["status"], "True");
  EXPECT_EQ(condition("Progressing")["reason"], "Scaling");
}

TEST_F(Reconcile, ABlockedSrerachaHasReadyFalseWithTheReason) {
  put_sreracha(with_auth(kSpec));  // its Secret does not exist
  reconcile();
  EXPECT_EQ(condition("Degraded")["reason"], "SecretMissing");
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "SecretMissing");
}

}  // namespace
}  // namespace sreracha
