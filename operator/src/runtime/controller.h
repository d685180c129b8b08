// Controller: a work queue of object keys drained by worker threads that call
// a Reconciler, plus the event handlers that turn cache changes into keys.
//
// A reconcile that throws is logged with its object, counted, and retried
// with the key's back-off; it never takes the process down. A reconcile that
// returns requeue_after is looked at again then; either way success resets
// the key's back-off.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/informer.h"
#include "runtime/reconciler.h"
#include "runtime/workqueue.h"

namespace runtime {

class Counter;
class Gauge;
class Histogram;
class MetricsRegistry;

// Maps a changed object to the requests it affects (e.g. a Secret to the
// Sreracha objects that reference it).
using Mapper = std::function<std::vector<Request>(const nlohmann::json& object)>;

// --- event handlers (controller-runtime's `handler` package) --------------------

// Enqueues the changed object's own key.
EventHandler enqueue_object(WorkQueue& queue);
// Enqueues the key of the changed object's controller owner when that owner
// is of API group `owner_group` and kind `owner_kind()` (empty while the kind
// is not yet known: the event is dropped, see ControllerBuilder::owns). The
// owner lives in the child's namespace. An update that moved the object to
// another owner enqueues both.
EventHandler enqueue_owner(WorkQueue& queue, std::string owner_group,
                           std::function<std::string()> owner_kind);
// Enqueues whatever `mapper` returns for the old and the new object (both
// whole: a mapper may read anything).
EventHandler enqueue_mapped(WorkQueue& queue, Mapper mapper);

// --- controller ---------------------------------------------------------------------

struct ControllerOptions {
  int max_concurrent_reconciles = 4;
  RateLimiterOptions rate_limits;
  // Bounds each reconcile: its Context's deadline (the API calls that take
  // it end then with kube::Cancelled, and the key is retried with back-off).
  // None by default, as controller-runtime's ReconciliationTimeout.
  std::optional<std::chrono::milliseconds> reconcile_timeout;
};

// Threading: start() and stop() from one thread; queue() from any.
class Controller {
 public:
  // With `metrics`, exports controller_runtime_reconcile_total{controller,result},
  // controller_runtime_reconcile_errors_total, controller_runtime_reconcile_time_seconds,
  // controller_runtime_max_concurrent_reconciles and controller_runtime_active_workers
  // (all {controller}), and the queue's workqueue_* metrics.
  Controller(std::string name, std::shared_ptr<Reconciler> reconciler, ControllerOptions options,
             MetricsRegistry* metrics = nullptr);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  const std::string& name() const { return name_; }
  WorkQueue& queue() { return queue_; }

  // Starts the workers. Keys queued before are handled now.
  void start();
  // Stops handing out keys, cancels the context of reconciles in flight and
  // waits up to `grace` for them.
  // Returns false if some did not finish: their workers are still running,
  // the Controller must then not be destroyed (the caller exits instead).
  bool stop(std::chrono::milliseconds grace);
  bool started() const { return !workers_.empty(); }

 private:
  void work();
  void reconcile(const std::string& key);

  const std::string name_;
  const std::shared_ptr<Reconciler> reconciler_;
  const ControllerOptions options_;
  WorkQueue queue_;
  kube::CancelToken stopping_;  // cancelled by stop(): ends the reconciles' API calls
  std::vector<std::thread> workers_;

  // Metrics (null without a registry).
  Counter* success_ = nullptr;
  Counter* error_ = nullptr;
  Counter* requeue_after_ = nullptr;
  Counter* errors_ = nullptr;
  Histogram* reconcile_time_ = nullptr;
  Gauge* active_workers_ = nullptr;
};

// A random reconcile ID (UUID version 4 text), for logs.
std::string new_reconcile_id();

}  // namespace runtime
