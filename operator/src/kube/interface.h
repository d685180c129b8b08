// kube::Interface — what the runtime and the reconciler need of the API
// server, as controller-runtime's client.Client and kube-rs's Api<K> are:
// get/list/create/replace/patch/apply/delete, subresources and watch, on
// objects as nlohmann::json addressed by group/version/resource.
//
// kube::Client (client.h) implements it over HTTP; tests/support/fake_client.h
// over in-memory objects, for reconciler unit tests.
//
// Every call takes a Context (context.h): cancelling it or passing its
// deadline ends the call with kube::Cancelled. Failures are kube::Error
// subclasses (errors.h): ApiError for an answer from the server (decoded
// Status), TransportError when no answer came.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/config.h"
#include "kube/context.h"
#include "kube/errors.h"
#include "kube/meta.h"

namespace kube {

using json = nlohmann::json;

// Well-known resources the operator and its tests use.
namespace resources {
extern const Resource configmaps, secrets, pods, services, events, namespaces, serviceaccounts;
extern const Resource persistentvolumeclaims;
extern const Resource deployments, replicasets;
extern const Resource endpointslices, networkpolicies, poddisruptionbudgets, ingresses;
extern const Resource leases;
extern const Resource customresourcedefinitions;
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 500;               // page size; list() follows `continue` until done
  std::string resource_version;  // "" = most recent (quorum read)
  // Items as PartialObjectMetadata (apiVersion meta.k8s.io/v1, metadata
  // only), as controller-runtime's metadata-only caches ask: for kinds where
  // only names, labels and owners are read.
  bool metadata_only = false;
};

struct ApplyOptions {
  std::string field_manager;  // empty: the client's (ClientOptions::field_manager)
  bool force = true;
  // false: apply() returns null and leaves the answer (the whole object,
  // some KB) unparsed. For callers that never read it: parsing it was ~3 %
  // of the operator's CPU at scale.
  bool want_object = true;
};

struct PatchOptions {
  // false: merge_patch() returns null and leaves the answer unparsed, as
  // ApplyOptions::want_object does for apply().
  bool want_object = true;
};

struct DeleteOptions {
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
  std::optional<int> grace_period_seconds;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
};

struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 300;   // server-side; the client's own timeout is longer
  bool metadata_only = false;  // as in ListOptions
  // Leaves metadata.managedFields out of the events' objects as they are
  // parsed, for callers that would drop them anyway (caches do): often the
  // larger part of a small object, never built is never freed.
  bool drop_managed_fields = false;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK (ERROR is thrown)
  json object;
};

class Interface {
 public:
  virtual ~Interface() = default;

  // The configuration the client was made from (server, default namespace).
  virtual const Config& config() const = 0;

  // `ns` is ignored for cluster-scoped resources. `subresource` is e.g.
  // "status" or "scale"; empty = the object itself.
  virtual json get(const Resource& r, std::string_view ns, std::string_view name,
                   std::string_view subresource = {}, const Context& ctx = {}) = 0;
  // Returns the List object with every page's items merged into "items" and
  // metadata.resourceVersion from the first page. ns "" = all namespaces.
  virtual json list(const Resource& r, std::string_view ns, const ListOptions& options = {},
                    const Context& ctx = {}) = 0;
  virtual json create(const Resource& r, std::string_view ns, const json& object,
                      std::string_view subresource = {}, const Context& ctx = {}) = 0;
  // PUT; object.metadata.resourceVersion, if set, makes it conditional (a
  // stale one throws ApiError with reason Conflict).
  virtual json replace(const Resource& r, std::string_view ns, std::string_view name,
                       const json& object, std::string_view subresource = {},
                       const Context& ctx = {}) = 0;
  virtual json merge_patch(const Resource& r, std::string_view ns, std::string_view name,
                           const json& patch, std::string_view subresource = {},
                           const Context& ctx = {}, const PatchOptions& options = {}) = 0;
  // Server-side apply (application/apply-patch+yaml). object must carry
  // apiVersion, kind and metadata.name.
  virtual json apply(const Resource& r, std::string_view ns, std::string_view name,
                     const json& object, const ApplyOptions& options = {},
                     std::string_view subresource = {}, const Context& ctx = {}) = 0;
  // Returns normally when the object is gone or being deleted.
  virtual void remove(const Resource& r, std::string_view ns, std::string_view name,
                      const DeleteOptions& options = {}, const Context& ctx = {}) = 0;
  // POST pods/<name>/eviction; a PodDisruptionBudget refusal throws ApiError
  // with code 429 (TooManyRequests) and is not retried. Returns normally when
  // the pod is already gone.
  virtual void evict(std::string_view ns, std::string_view pod, const DeleteOptions& options = {},
                     const Context& ctx = {}) = 0;

  // Streams events to on_event until the server ends the watch (returns
  // normally), on_event returns false, or ctx is cancelled (returns
  // normally: a watch is cancelled to stop it). on_event owns each event: a
  // cache moves the object in rather than copying its tree. An expired
  // resourceVersion (HTTP 410 or an ERROR event with a 410 Status) throws
  // ResourceExpired; other ERROR events throw ApiError.
  virtual void watch(const Resource& r, std::string_view ns, const WatchOptions& options,
                     const std::function<bool(WatchEvent&&)>& on_event,
                     const Context& ctx = {}) = 0;
};

}  // namespace kube
