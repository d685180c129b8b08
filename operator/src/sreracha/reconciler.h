// reconciler: the glue between the caches, render(), stagger planning and the
// API server. One entry point, reconcile(request), level-based and
// idempotent: it reads the cached state of one Sreracha and its children,
// applies only what differs, and writes status only when it changed. A
// reconcile that finds nothing to change sends no write request.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/interface.h"
#include "kube/mutex.h"
#include "runtime/children.h"
#include "runtime/controller.h"
#include "runtime/events.h"
#include "runtime/metrics.h"
#include "runtime/reconciler.h"
#include "runtime/store.h"
#include "sreracha/redis_check.h"
#include "sreracha/render.h"
#include "sreracha/spec.h"
#include "sreracha/stagger.h"

namespace sreracha {

// The REST resource of the custom resource.
extern const kube::Resource kSrerachas;
// The IngressClass resource (checked before an Ingress is applied).
extern const kube::Resource kIngressClasses;

// The informer caches the reconciler reads. Children are cached only where
// they carry app.kubernetes.io/managed-by=sreracha-operator.
struct Caches {
  const runtime::Store* srerachas = nullptr;
  const runtime::Store* deployments = nullptr;
  const runtime::Store* services = nullptr;
  const runtime::Store* endpointslices = nullptr;
  const runtime::Store* networkpolicies = nullptr;
  const runtime::Store* poddisruptionbudgets = nullptr;
  const runtime::Store* ingresses = nullptr;
  const runtime::Store* persistentvolumeclaims = nullptr;
  const runtime::Store* pods = nullptr;
  // Secrets labelled kWatchedSecretLabel=true: the auth Secrets users ask us
  // to watch, so a password change rolls the pods. Null: none watched.
  const runtime::Store* secrets = nullptr;
  // By resource ("deployments"), one per child kind: the metadata of the
  // objects without the managed-by label. A child about to be created that
  // is found here is someone else's, and is left alone.
  std::map<std::string, const runtime::Store*> unmanaged;
  // IngressClasses, metadata only: spec.ingress.className must name one.
  const runtime::Store* ingressclasses = nullptr;
};

// Users label the auth Secret with this ("true") so the operator watches it:
// Secrets are not children (no managed-by label) and a cache of every
// Secret in the cluster would hold every credential the cluster has.
inline constexpr const char* kWatchedSecretLabel = "sreracha.io/watch";
inline constexpr const char* kWatchedSecretSelector = "sreracha.io/watch=true";

// Each child carries the hash of what was applied (runtime/children.h).
inline constexpr const char* kAppliedHashAnnotation = "sreracha.io/applied-hash";

struct ReconcilerOptions {
  std::string field_manager;  // server-side apply's manager of the children (from cmd/)
  std::function<std::chrono::system_clock::time_point()> now = std::chrono::system_clock::now;
  // Checks Redis in modes External and Endpoints for RedisReady; null: not
  // checked (RedisReady Unknown, NotChecked). Outlives the Reconciler.
  redis_check::RedisChecker* redis_checker = nullptr;
};

class Reconciler : public runtime::Reconciler {
 public:
  using Clock = std::chrono::system_clock;

  Reconciler(kube::Interface& client, Caches caches, runtime::EventRecorder& events,
             runtime::MetricsRegistry& metrics, ReconcilerOptions options);

  runtime::Result reconcile(const runtime::Request& request, const kube::Context& ctx) override;

 private:
  struct Pass;  // the state of one reconcile

  // The status this reconciler last wrote, per Sreracha (namespace/name).
  // Only the operator writes status, so this is the object's status even when
  // the cache has not caught up with the write yet (the next reconcile often
  // starts on a pod event that came first); building on the stale copy would
  // undo the write (recycles lost, lastTransitionTime moved).
  struct WrittenStatus {
    std::string uid;
    nlohmann::json status;
  };
  std::optional<nlohmann::json> written_status(const std::string& key, const std::string& uid);
  void remember_status(const std::string& key, const std::string& uid, nlohmann::json status);
  void forget(const std::string& key);

  // What staggering learns over many passes, per Sreracha: start-up times
  // (pods come and go, so no single pass sees enough of them) and the late
  // replacements already counted. Lost on restart; the start-up estimate is
  // then seeded from status.stagger.observedStartupSeconds.
  struct StaggerMemory {
    std::string uid;
    stagger::StartupEstimator startups;
    std::set<std::string> late_pods;  // counted in status.stagger.lateReplacements
    // The unlabelled auth Secret already warned about (one event, not one a pass).
    std::string warned_unwatched_secret;
  };
  // Runs `use` on the memory of `key` (fresh for a new uid), under its lock.
  template <typename Fn>
  void with_stagger_memory(const std::string& key, const std::string& uid, Fn&& use);

  // The series labelled {namespace, name} of one Sreracha, dropped by
  // forget() when it is deleted.
  struct InstanceMetrics {
    runtime::Family<runtime::Gauge>& ready_replicas;
    runtime::Family<runtime::Gauge>& observed_startup_seconds;
    runtime::Family<runtime::Gauge>& min_start_gap_seconds;
    runtime::Family<runtime::Counter>& late_replacements;
  };

  kube::Interface& client_;
  Caches caches_;
  runtime::EventRecorder& events_;
  runtime::MetricsRegistry& metrics_;
  InstanceMetrics instance_metrics_;
  std::function<Clock::time_point()> now_;
  redis_check::RedisChecker* redis_checker_;
  runtime::ChildrenOptions children_;
  kube::Mutex written_mu_;
  std::map<std::string, WrittenStatus> written_ GUARDED_BY(written_mu_);
  kube::Mutex memory_mu_;
  std::map<std::string, StaggerMemory> memory_ GUARDED_BY(memory_mu_);
};

// Maps an app pod to its Sreracha (by the app.kubernetes.io/instance label the
// pod template carries); pods of other components map to nothing.
std::vector<runtime::Request> pod_owner_requests(const nlohmann::json& pod);

// Maps a watched Secret to the Srerachas of its namespace whose
// spec.redis.authSecretRef names it, as cached in `srerachas`.
runtime::Mapper auth_secret_referrers(const runtime::Store& srerachas);

}  // namespace sreracha
