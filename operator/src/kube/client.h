// kube::Client — the operator's only door to the Kubernetes API server.
//
// Objects are nlohmann::json; resources are addressed generically by
// group/version/resource. Every failure is thrown as a kube::Error subclass
// (see errors.h): ApiError for an answer from the server (decoded Status),
// TransportError when no answer came.
//
// Threading: a Client is safe to use from many threads at once; watches run on
// the calling thread and can be cancelled from any other thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/config.h"
#include "kube/errors.h"
#include "kube/meta.h"

namespace kube {

using json = nlohmann::json;

// Well-known resources the operator and its tests use.
namespace resources {
extern const Resource configmaps, secrets, pods, services, events, namespaces, serviceaccounts;
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
};

struct ApplyOptions {
  std::string field_manager = "sreracha-operator";
  bool force = true;
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
  int timeout_seconds = 300;  // server-side; the client's own timeout is longer
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK (ERROR is thrown)
  json object;
};

// Cancels a watch from another thread; the watch returns promptly.
class CancelToken {
 public:
  CancelToken();  // out of line: State is only complete in client.cpp
  void cancel() noexcept;
  bool cancelled() const noexcept;
  // Internal: lets the watch register a callback run by cancel().
  void on_cancel(std::function<void()> callback);
  // Internal: on_cancel that can be undone, for a token shared by many
  // watches over time (e.g. one shutdown token). Runs `callback` at once and
  // returns 0 if already cancelled. Callbacks run under the token's lock:
  // they must not call back into the token.
  std::uint64_t add_callback(std::function<void()> callback);
  void remove_callback(std::uint64_t id);

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared by copies: a copy cancels the same watch
};

// What happened on one HTTP request, for metrics (rest_client_requests_total,
// latency). Called after every request, from the requesting thread.
struct RequestInfo {
  std::string method;  // GET, POST, ...
  std::string verb;    // get, list, create, update, patch, apply, delete, watch
  std::string host;
  int code = 0;  // 0 = no HTTP answer (transport error)
  std::chrono::nanoseconds latency{};
};

struct ClientOptions {
  double qps = 20;                           // --kube-api-qps (token bucket refill per second)
  int burst = 30;                            // --kube-api-burst
  int max_retries = 5;                       // idempotent calls only: connection errors, 429, 5xx
  std::chrono::seconds request_timeout{30};  // every non-watch request
  std::string user_agent;                    // default "sreracha-operator/<version>"
  std::function<void(const RequestInfo&)> on_request;  // optional
};

// Threads cpprestsdk runs network I/O and completions on, for the whole
// process (clients and its HTTP listener alike). 0, the default: no pool; a
// thread waiting for an answer runs the I/O itself meanwhile, and a
// background thread runs it while no one waits (kube/io.h). One GET then
// costs one context switch instead of about nine, and ~10 % less time
// (bench/kube_get.sh). n > 0: a pool of n threads, as cpprestsdk runs by
// default (with 40). Call before the first Client or listener; afterwards it
// throws Error.
inline constexpr std::size_t kDefaultIoThreads = 0;
void set_io_threads(std::size_t threads);

class Client {
 public:
  explicit Client(Config config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const;
  // TLS connections opened so far (one handshake each). Sequential calls
  // reuse one or two (cpprestsdk pools a connection just after the answer,
  // so a call that follows at once may open a second); each open watch
  // holds one more.
  std::uint64_t connections_opened() const;

  // `ns` is ignored for cluster-scoped resources. `subresource` is e.g.
  // "status" or "scale"; empty = the object itself.
  json get(const Resource& r, std::string_view ns, std::string_view name,
           std::string_view subresource = {});
  // Returns the List object with every page's items merged into "items" and
  // metadata.resourceVersion from the first page. ns "" = all namespaces.
  json list(const Resource& r, std::string_view ns, const ListOptions& options = {});
  json create(const Resource& r, std::string_view ns, const json& object,
              std::string_view subresource = {});
  // PUT; object.metadata.resourceVersion, if set, makes it conditional (a
  // stale one throws ApiError with reason Conflict).
  json replace(const Resource& r, std::string_view ns, std::string_view name, const json& object,
               std::string_view subresource = {});
  json merge_patch(const Resource& r, std::string_view ns, std::string_view name, const json& patch,
                   std::string_view subresource = {});
  // Server-side apply (application/apply-patch+yaml). object must carry
  // apiVersion, kind and metadata.name.
  json apply(const Resource& r, std::string_view ns, std::string_view name, const json& object,
             const ApplyOptions& options = {}, std::string_view subresource = {});
  // Returns normally when the object is gone or being deleted.
  void remove(const Resource& r, std::string_view ns, std::string_view name,
              const DeleteOptions& options = {});
  // POST pods/<name>/eviction; a PodDisruptionBudget refusal throws ApiError
  // with code 429 (TooManyRequests) and is not retried. Returns normally when
  // the pod is already gone.
  void evict(std::string_view ns, std::string_view pod, const DeleteOptions& options = {});

  // Streams events to on_event until the server ends the watch (returns
  // normally), on_event returns false, or cancel is cancelled. An expired
  // resourceVersion (HTTP 410 or an ERROR event with a 410 Status) throws
  // ResourceExpired; other ERROR events throw ApiError.
  void watch(const Resource& r, std::string_view ns, const WatchOptions& options,
             const std::function<bool(const WatchEvent&)>& on_event, CancelToken cancel = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
