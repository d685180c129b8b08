// render: a Sreracha instance -> the child objects the operator keeps applied.
//
// Pure functions, no I/O: the same Instance and RenderOptions always give
// byte-equal objects (no timestamps, no random names), which is what lets the
// reconciler compare desired with observed state and send no write when they
// agree, and what the golden tests pin down.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sreracha/spec.h"
#include "sreracha/yaml.h"

namespace sreracha {

inline constexpr std::string_view kFieldManager = "sreracha-operator";

// What render() cannot know by itself; decided by the reconciler at run time.
struct RenderOptions {
  // The app Deployment's spec.replicas. Stagger planning raises replicas one
  // at a time, so it may be below spec.replicas for a while. Unset: spec.replicas.
  std::optional<int> deployment_replicas;
  // Extra pod-template annotations, e.g. a checksum of the auth Secret so a
  // password change rolls the pods. render() adds none of its own: a value
  // that changed on every render would roll the pods on every reconcile.
  std::map<std::string, std::string> app_pod_annotations;
  std::map<std::string, std::string> redis_pod_annotations;
};

// Every object the operator applies for `inst`, complete for server-side
// apply (apiVersion, kind, metadata with labels and, when inst.uid is set, the
// controller ownerReference). Order is fixed: the Redis side first
// (Deployment, Service, EndpointSlice, NetworkPolicy), then the app
// (Deployment, Service, PodDisruptionBudget, Ingress).
std::vector<nlohmann::json> render(const Instance& inst, const RenderOptions& options = {});

// Identity of a child: enough to GET or DELETE it.
struct ChildRef {
  std::string api_version;  // "apps/v1"
  std::string kind;         // "Deployment"
  std::string resource;     // "deployments", the REST plural
  std::string name;

  auto operator<=>(const ChildRef&) const = default;
};

// The identity of a rendered object (reads apiVersion, kind, metadata.name).
ChildRef ref_of(const nlohmann::json& object);

// Every child the operator may own for `inst` under any spec. Those not in
// render()'s output are the ones to delete (Ingress disabled, Local -> External).
std::vector<ChildRef> all_possible_children(const Instance& inst);

// Label selector of the app pods, "k=v,k=v" (status.selector, scale subresource).
std::string app_selector_string(const Instance& inst);

// Labels that identify the app pods (the Deployment's selector).
std::map<std::string, std::string> app_selector_labels(const Instance& inst);

// The app's REDIS_URL, as the Deployment carries it and status.redisURL
// shows it. It never holds the password: the app gets that alone, as
// REDIS_AUTH from the Secret, so any password works (inside a URL "@:/?#%"
// and spaces would need percent-encoding, which the kubelet's $(VAR)
// expansion cannot do) and the URL is safe to show.
std::string redis_url_for_app(const Instance& inst);

// The UID and GID the app runs as when the spec names none: numeric, so the
// kubelet can verify runAsNonRoot whatever the image's USER is (distroless'
// "nonroot", which owns nothing in the app's read-only image).
inline constexpr std::int64_t kDefaultAppUid = 65532;
inline constexpr std::int64_t kDefaultAppGid = 65532;

// How long the app container's preStop hook sleeps before it gets SIGTERM:
// long enough for the endpoint controller and kube-proxy to stop sending it
// new connections (about a second each on a busy node).
inline constexpr std::chrono::seconds kPreStopSleep{3};

// The pod-template annotation that carries auth_checksum(): a new password
// changes the template, so the Deployment rolls its pods onto it.
inline constexpr std::string_view kAuthChecksumAnnotation = "sreracha.io/auth-checksum";

// A SHA-256 of the Secret's UID and the password (as its data holds it,
// base64), hex: it changes when the password does, and the UID salts it, so the annotation is no
// precomputed table's lookup key (a weak password is still guessable from it by anyone who can read
// the pods and the Secret's UID, as with Helm's checksums).
std::string auth_checksum(std::string_view secret_uid, std::string_view password_base64);

// Names of the children, in one place.
std::string redis_name(const Instance& inst);       // "<name>-redis"
std::string redis_data_name(const Instance& inst);  // "<name>-redis-data", the PVC

}  // namespace sreracha
