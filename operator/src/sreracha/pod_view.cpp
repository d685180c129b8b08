#include "sreracha/pod_view.h"

#include <algorithm>
#include <set>
#include <string>

#include "kube/meta.h"

namespace sreracha {

using nlohmann::json;

namespace {

const json* app_container_status(const json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("containerStatuses")) return nullptr;
  const json& statuses = pod["status"]["containerStatuses"];
  for (const auto& s : statuses) {
    if (s.value("name", "") == "sreracha") return &s;
  }
  return statuses.empty() ? nullptr : &statuses[0];
}

}  // namespace

stagger::PodView pod_view(const json& pod) {
  stagger::PodView view;
  const json& meta = pod["metadata"];
  view.name = meta.value("name", "");
  view.terminating = meta.contains("deletionTimestamp");
  view.created = kube::meta::parse_time_value(meta.value("creationTimestamp", json()));
  if (meta.contains("annotations")) {
    const json& annotations = meta["annotations"];
    auto hash = annotations.find(std::string(stagger::kTemplateHashAnnotation));
    if (hash != annotations.end() && hash->is_string())
      view.template_hash = hash->get<std::string>();
    auto cost = annotations.find(std::string(stagger::kDeletionCostAnnotation));
    if (cost != annotations.end() && cost->is_string()) {
      try {
        view.deletion_cost = std::stoi(cost->get<std::string>());
      } catch (const std::exception&) {
        // Not a number: the ReplicaSet controller ignores it too.
      }
    }
  }
  view.scheduled = pod.contains("spec") && pod["spec"].contains("nodeName");
  if (pod.contains("status")) {
    for (const auto& c : pod["status"].value("conditions", json::array())) {
      if (c.value("type", "") != "Ready") continue;
      view.ready = c.value("status", "") == "True";
      if (view.ready) {
        view.ready_since = kube::meta::parse_time_value(c.value("lastTransitionTime", json()));
      }
    }
  }
  if (const json* cs = app_container_status(pod)) {
    view.restart_count = cs->value("restartCount", 0);
    if (cs->contains("state") && (*cs)["state"].contains("running")) {
      view.container_running = true;
      view.container_started =
          kube::meta::parse_time_value((*cs)["state"]["running"].value("startedAt", json()));
    }
    if (cs->contains("lastState") && (*cs)["lastState"].contains("terminated")) {
      const json& t = (*cs)["lastState"]["terminated"];
      auto started = kube::meta::parse_time_value(t.value("startedAt", json()));
      auto finished = kube::meta::parse_time_value(t.value("finishedAt", json()));
      if (t.value("exitCode", 0) != 0 && started && finished && *finished >= *started) {
        view.last_crash_runtime =
            std::chrono::duration_cast<stagger::Seconds>(*finished - *started);
      }
    }
  }
  return view;
}

std::optional<PodProblem> pod_problem(const json& pod) {
  // Waiting reasons that need someone to act: a bad image or pull secret, a
  // missing Secret or ConfigMap key, a security context the image cannot
  // meet, a container that exits at start. ContainerCreating and
  // PodInitializing pass by themselves.
  static const std::set<std::string, std::less<>> kProblems = {
      "CreateContainerConfigError", "CreateContainerError", "ErrImagePull",
      "ImagePullBackOff",           "ErrImageNeverPull",    "InvalidImageName",
      "RunContainerError",          "CrashLoopBackOff"};
  const json& meta = pod.value("metadata", json::object());
  if (meta.contains("deletionTimestamp") || !pod.contains("status")) return std::nullopt;
  const json& status = pod["status"];
  const std::string name = meta.value("name", "");
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& container : status.value(list, json::array())) {
      const json waiting = container.value("state", json::object()).value("waiting", json());
      if (!waiting.is_object()) continue;
      const std::string reason = waiting.value("reason", "");
      if (!kProblems.contains(reason)) continue;
      return PodProblem{
          name, reason,
          "container " + container.value("name", "") + ": " + waiting.value("message", reason)};
    }
  }
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
        c.value("reason", "") == "Unschedulable") {
      return PodProblem{name, "Unschedulable", c.value("message", "no node fits")};
    }
  }
  return std::nullopt;
}

void trim_cached_pod(json& pod) {
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return;
  json kept = json::object();
  if (auto node = spec->find("nodeName"); node != spec->end()) kept["nodeName"] = std::move(*node);
  *spec = std::move(kept);
}

std::optional<double> min_start_gap_seconds(const std::vector<stagger::PodView>& pods) {
  std::vector<stagger::TimePoint> starts;
  for (const auto& p : pods) {
    if (!p.terminating && p.container_running && p.container_started) {
      starts.push_back(*p.container_started);
    }
  }
  if (starts.size() < 2) return std::nullopt;
  std::sort(starts.begin(), starts.end());
  double smallest = std::chrono::duration<double>(starts[1] - starts[0]).count();
  for (std::size_t i = 2; i < starts.size(); ++i) {
    smallest = std::min(smallest, std::chrono::duration<double>(starts[i] - starts[i - 1]).count());
  }
  return smallest;
}

}  // namespace sreracha
