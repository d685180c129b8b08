// Manager: owns and runs everything a controller process needs: the shared
// informers (one per resource + label selector), the controllers, leader
// election, the /healthz /readyz /metrics endpoints, the event recorder, and
// signal handling with graceful shutdown.
//
//   runtime::Manager manager(client, options);
//   runtime::ControllerBuilder(manager, "sreracha")
//       .for_kind(srerachas)
//       .owns(kube::resources::deployments, "app.kubernetes.io/managed-by=sreracha-operator")
//       .with_reconciler(reconciler);
//   return manager.run();
//
// run() order: HTTP endpoints, informers (standbys run them too, for a fast
// takeover), leader election, then controllers once leading and every
// informer has synced.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kube/interface.h"
#include "kube/mutex.h"
#include "runtime/controller.h"
#include "runtime/events.h"
#include "runtime/http_server.h"
#include "runtime/informer.h"
#include "runtime/leader_election.h"
#include "runtime/metrics.h"
#include "runtime/store.h"

namespace runtime {

struct ManagerOptions {
  // Who the operator is: the source of its events, and its Lease is
  // "<name>-leader" unless leader_election_id says otherwise. Default: the
  // program's name.
  std::string name;
  // Namespace watched by informers; "" = all namespaces (--namespace).
  std::string namespace_;
  // "[host]:port"; empty host = every interface; port 0 = any free port;
  // "0" = disabled (--metrics-bind-address, --health-probe-bind-address).
  std::string metrics_bind_address = ":8080";
  std::string health_probe_bind_address = ":8081";
  bool leader_elect = false;
  std::string leader_election_id;         // the Lease's name; default "<name>-leader"
  std::string leader_election_namespace;  // default: the kubeconfig's namespace
  std::chrono::seconds lease_duration{15}, renew_deadline{10}, retry_period{2};
  int max_concurrent_reconciles = 4;  // per controller
  // Leader election identity; default "<hostname>_<random hex>".
  std::string identity;
  // How long a graceful stop waits for reconciles in flight before the
  // process exits anyway (see run()).
  std::chrono::seconds graceful_shutdown_timeout{30};
  // The registry for every metric; pass the one whose request_metrics_hook()
  // went into the client's options. Default: a new registry.
  std::shared_ptr<MetricsRegistry> metrics_registry;
  // run() handles SIGTERM/SIGINT (first: graceful stop; second: exit at once).
  bool handle_signals = true;
  // What the caches of whole objects keep, by resource as kubectl names it
  // ("pods", "deployments.apps"): InformerOptions::transform for every
  // informer of that resource. Set before the first informer() call for it.
  std::map<std::string, std::function<void(nlohmann::json&)>> cache_transforms;
};

// Threading: informer(), add_controller() and the accessors may be called
// from any thread; run() from one thread, once; stop() from any thread or a
// signal-handling thread.
class Manager {
 public:
  Manager(kube::Interface& client, ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // The shared cache of `resource` (in the manager's namespace, filtered by
  // `label_selector`), created at first call; started by run() (or at once
  // when run() is already running).
  Store& informer(const kube::Resource& resource, const std::string& label_selector = {});
  // The same informer, for wiring event handlers.
  Informer& shared_informer(const kube::Resource& resource, const std::string& label_selector = {},
                            bool metadata_only = false);
  // A cache of the metadata only (kind PartialObjectMetadata), for kinds
  // where names, labels and owners are all that is read.
  Store& metadata_informer(const kube::Resource& resource, const std::string& label_selector = {});

  // Takes a controller to start once leading (ControllerBuilder calls this).
  void add_controller(std::unique_ptr<Controller> controller);

  kube::Interface& client() { return client_; }
  const ManagerOptions& options() const { return options_; }
  MetricsRegistry& metrics() { return *metrics_; }
  EventRecorder& events() { return *events_; }

  // Blocks until stop() or a signal (returns 0 after a graceful shutdown that
  // released the lease) or until leadership is lost (returns 1). Returns 1
  // at once when an endpoint cannot listen.
  //
  // Shutdown cancels everything in flight: reconciles (through their
  // Context), the leader elector's renew, informers' lists and watches,
  // event sends; a leader then releases the Lease (bounded by its renew
  // deadline). With an API server that does not answer, run() so returns
  // within about renew_deadline. Reconciles are waited for up to
  // graceful_shutdown_timeout (after a lost lease, a second to unwind). Only
  // if one still runs then (it ignored its context, or blocks outside the
  // API) does the process exit at once with status 1 (std::_Exit): its
  // thread uses objects run() would have to destroy.
  int run();
  void stop();

  // Addresses actually listened on ("127.0.0.1:43121"); empty before run()
  // started them or when disabled.
  std::string metrics_address() const;
  std::string health_address() const;
  bool is_leader() const;
  // Every informer has synced.
  bool ready() const;

 private:
  struct InformerKey {
    std::string group, version, resource, selector;
    bool metadata_only = false;
    auto operator<=>(const InformerKey&) const = default;
  };

  // The rest of run(): waits for leadership and sync, runs the controllers,
  // shuts down; returns run()'s exit code.
  int wait_and_shut_down() EXCLUDES(mu_);
  std::vector<Informer*> all_informers() const EXCLUDES(mu_);
  HttpResponse serve_metrics();
  HttpResponse serve_readyz();

  kube::Interface& client_;
  ManagerOptions options_;
  std::shared_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<EventRecorder> events_;

  mutable kube::Mutex mu_;
  std::condition_variable wake_;
  std::map<InformerKey, std::unique_ptr<Informer>> informers_ GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Controller>> controllers_ GUARDED_BY(mu_);
  bool running_ GUARDED_BY(mu_) = false;
  bool stop_requested_ GUARDED_BY(mu_) = false;
  bool controllers_started_ GUARDED_BY(mu_) = false;
  std::string metrics_address_ GUARDED_BY(mu_);
  std::string health_address_ GUARDED_BY(mu_);

  std::unique_ptr<HttpServer> metrics_server_;
  std::unique_ptr<HttpServer> health_server_;
  std::unique_ptr<LeaderElector> elector_;
};

}  // namespace runtime
