// pod_view: Pod JSON as the API server returns it -> what the planner reads.
#include "sreracha/pod_view.h"

#include <gtest/gtest.h>

#include "kube/meta.h"

namespace sreracha {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json running_pod() {
  return json::parse(R"({
    "metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T00:00:00Z",
                 "annotations": {"controller.kubernetes.io/pod-deletion-cost": "-5"}},
    "spec": {"nodeName": "node-a"},
    "status": {
      "conditions": [{"type": "PodScheduled", "status": "True"},
                     {"type": "Ready", "status": "True"}],
      "containerStatuses": [
        {"name": "sidecar", "restartCount": 9, "state": {"waiting": {}}},
        {"name": "sreracha", "restartCount": 2,
         "state": {"running": {"startedAt": "2026-01-01T00:01:00Z"}},
         "lastState": {"terminated": {"exitCode": 2, "startedAt": "2026-01-01T00:00:20Z",
                                      "finishedAt": "2026-01-01T00:00:50Z"}}}]}})");
}

TEST(PodView, ReadsARunningAppPod) {
  const auto view = pod_view(running_pod());
  const auto created = *kube::meta::parse_time("2026-01-01T00:00:00Z");
  EXPECT_EQ(view.name, "web-1");
  EXPECT_FALSE(view.terminating);
  EXPECT_TRUE(view.scheduled);
  EXPECT_TRUE(view.ready);
  EXPECT_EQ(view.created, created);
  EXPECT_TRUE(view.container_running);
  EXPECT_EQ(view.container_started, created + 60s);
  EXPECT_EQ(view.restart_count, 2) << "the container named sreracha, not the first";
  ASSERT_TRUE(view.last_crash_runtime.has_value());
  EXPECT_EQ(view.last_crash_runtime->count(), 30);
  EXPECT_EQ(view.deletion_cost, -5);
}

TEST(PodView, APendingPodHasOnlyItsName) {
  const auto view = pod_view(json{{"metadata", {{"name", "web-2"}}}});
  EXPECT_EQ(view.name, "web-2");
  EXPECT_FALSE(view.scheduled);
  EXPECT_FALSE(view.ready);
  EXPECT_FALSE(view.container_running);
  EXPECT_FALSE(view.created.has_value());
  EXPECT_FALSE(view.deletion_cost.has_value());
  EXPECT_EQ(view.restart_count, 0);
}

TEST(PodView, TerminatingNotReadyAndCleanExitsAreNotCrashes) {
  json pod = running_pod();
  pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:02:00Z";
  pod["status"]["conditions"][1]["status"] = "False";
  pod["status"]["containerStatuses"][1]["lastState"]["terminated"]["exitCode"] = 0;
  const auto view = pod_view(pod);
  EXPECT_TRUE(view.terminating);
  EXPECT_FALSE(view.ready);
  EXPECT_FALSE(view.last_crash_runtime.has_value()) << "exit code 0 is no crash";
}

TEST(PodView, OddValuesAreIgnored) {
  json pod = running_pod();
  pod["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = "lots";
  pod["metadata"]["creationTimestamp"] = "yesterday";
  pod["status"]["containerStatuses"][1]["state"]["running"]["startedAt"] = 7;
  auto& terminated = pod["status"]["containerStatuses"][1]["lastState"]["terminated"];
  terminated["finishedAt"] = "2026-01-01T00:00:10Z";  // before it started
  const auto view = pod_view(pod);
  EXPECT_FALSE(view.deletion_cost.has_value());
  EXPECT_FALSE(view.created.has_value());
  EXPECT_TRUE(view.container_running);
  EXPECT_FALSE(view.container_started.has_value());
  EXPECT_FALSE(view.last_crash_runtime.has_value());
}

TEST(PodView, TheFirstContainerWhenNoneIsNamedSreracha) {
  json pod = running_pod();
  pod["status"]["containerStatuses"].erase(1);
  EXPECT_EQ(pod_view(pod).restart_count, 9);
}

TEST(PodProblem, AWaitingReasonThatNeedsSomeoneNamesTheContainerAndTheKubeletsMessage) {
  json pod = running_pod();
  EXPECT_FALSE(pod_problem(pod)) << "running, and an empty waiting state";
  pod["status"]["containerStatuses"][1]["state"] = {
      {"waiting",
       {{"reason", "CreateContainerConfigError"},
        {"message",
         "container has runAsNonRoot and image has non-numeric user (www), cannot "
         "verify user is non-root"}}}};
  const auto problem = pod_problem(pod);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->pod, "web-1");
  EXPECT_EQ(problem->reason, "CreateContainerConfigError");
  EXPECT_EQ(problem->message,
            "container sreracha: container has runAsNonRoot and image has non-numeric user "
            "(www), cannot verify user is non-root");

  pod["status"]["containerStatuses"][1]["state"]["waiting"] = {{"reason", "ContainerCreating"}};
  EXPECT_FALSE(pod_problem(pod)) << "passes by itself";
  pod["status"]["initContainerStatuses"] = {
      {{"name", "init"}, {"state", {{"waiting", {{"reason", "ImagePullBackOff"}}}}}}};
  ASSERT_TRUE(pod_problem(pod));
  EXPECT_EQ(pod_problem(pod)->message, "container init: ImagePullBackOff");
  pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:02:00Z";
  EXPECT_FALSE(pod_problem(pod)) << "a pod on its way out";
}

TEST(PodProblem, AnUnschedulablePodSaysWhyNoNodeFits) {
  const json pod = json::parse(R"({"metadata": {"name": "web-2"}, "status": {"conditions": [
    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
     "message": "0/3 nodes are available: 3 Insufficient cpu."}]}})");
  const auto problem = pod_problem(pod);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->reason, "Unschedulable");
  EXPECT_EQ(problem->message, "0/3 nodes are available: 3 Insufficient cpu.");
  EXPECT_FALSE(pod_problem(json::parse(R"({"metadata": {"name": "x"}})")));
}

TEST(TrimCachedPod, KeepsEverythingThePodViewAndProblemReadAndDropsTheRestOfTheSpec) {
  json pod = running_pod();
  pod["metadata"]["labels"] = {{"app.kubernetes.io/instance", "web"}};
  pod["metadata"]["ownerReferences"] = {{{"kind", "ReplicaSet"}, {"name", "web-5c7d"}}};
  pod["spec"]["containers"] = {{{"name", "sreracha"}, {"image", "sreracha:dev"}}};
  pod["spec"]["volumes"] = {{{"name", "kube-api-access-x"}, {"projected", json::object()}}};
  pod["status"]["containerStatuses"][1]["state"] = {
      {"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 10s"}}}};
  json trimmed = pod;
  trim_cached_pod(trimmed);

  EXPECT_EQ(trimmed["spec"], (json{{"nodeName", "node-a"}}));
  EXPECT_EQ(trimmed["metadata"], pod["metadata"]);
  EXPECT_EQ(trimmed["status"], pod["status"]);
  const auto full = pod_view(pod), cut = pod_view(trimmed);
  EXPECT_EQ(cut.scheduled, full.scheduled);
  EXPECT_TRUE(cut.scheduled);
  EXPECT_EQ(cut.ready, full.ready);
  EXPECT_EQ(cut.restart_count, full.restart_count);
  EXPECT_EQ(cut.last_crash_runtime, full.last_crash_runtime);
  EXPECT_EQ(cut.deletion_cost, full.deletion_cost);
  ASSERT_TRUE(pod_problem(trimmed));
  EXPECT_EQ(pod_problem(trimmed)->message, pod_problem(pod)->message);

  json pending = {{"metadata", {{"name", "web-2"}}}, {"spec", {{"containers", json::array()}}}};
  trim_cached_pod(pending);
  EXPECT_EQ(pending["spec"], json::object()) << "not scheduled stays not scheduled";
  EXPECT_FALSE(pod_view(pending).scheduled);
  json odd = {{"metadata", {{"name", "web-3"}}}, {"spec", "not an object"}};
  trim_cached_pod(odd);
  EXPECT_EQ(odd["spec"], "not an object");
}

TEST(MinStartGap, SmallestGapBetweenRunningStarts) {
  const auto t0 = *kube::meta::parse_time("2026-01-01T00:00:00Z");
  std::vector<stagger::PodView> pods(4);
  for (auto& p : pods) p.container_running = true;
  pods[0].container_started = t0;
  pods[1].container_started = t0 + 15s;
  pods[2].container_started = t0 + 5s;
  pods[3].container_started = t0 + 6s;
  pods[3].terminating = true;  // not counted
  EXPECT_EQ(min_start_gap_seconds(pods), 5.0);
  pods.resize(1);
  EXPECT_EQ(min_start_gap_seconds(pods), std::nullopt);
}

}  // namespace
}  // namespace sreracha
