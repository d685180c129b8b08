#include "runtime/controller.h"

#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kube/meta.h"
#include "kube/thread_name.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace runtime {
namespace {

// "sreracha.io/v1alpha1" -> "sreracha.io"; "v1" -> "" (the core group).
std::string group_of(const std::string& api_version) {
  auto slash = api_version.find('/');
  return slash == std::string::npos ? std::string{} : api_version.substr(0, slash);
}

}  // namespace

// --- event handlers ------------------------------------------------------------------

EventHandler enqueue_object(WorkQueue& queue) {
  auto add = [&queue](const Store::Object& object) { queue.add(object_key(*object)); };
  return {add, [add](const Store::Object&, const Store::Object& object) { add(object); }, add,
          /*old_metadata_only=*/true};
}

EventHandler enqueue_owner(WorkQueue& queue, std::string owner_group,
                           std::function<std::string()> owner_kind) {
  auto add = [&queue, owner_group = std::move(owner_group),
              owner_kind = std::move(owner_kind)](const Store::Object& object) {
    const auto* owner = kube::meta::controller_ref(*object);
    if (owner == nullptr) return;
    const std::string kind = owner_kind();
    if (kind.empty() || owner->value("kind", "") != kind ||
        group_of(owner->value("apiVersion", "")) != owner_group) {
      return;
    }
    const std::string ns = (*object)["metadata"].value("namespace", "");
    queue.add(Request{ns, owner->value("name", "")}.key());
  };
  return {add,
          [add](const Store::Object& old_object, const Store::Object& new_object) {
            add(old_object);
            add(new_object);
          },
          add,
          /*old_metadata_only=*/true};  // the controller reference and namespace
}

EventHandler enqueue_mapped(WorkQueue& queue, Mapper mapper) {
  auto add = [&queue, mapper = std::move(mapper)](const Store::Object& object) {
    for (const auto& request : mapper(*object)) queue.add(request.key());
  };
  return {add,
          [add](const Store::Object& old_object, const Store::Object& new_object) {
            add(old_object);
            add(new_object);
          },
          add};
}

// --- controller ------------------------------------------------------------------------

std::string new_reconcile_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t high = random(), low = random();
  // Version 4 (random) and the RFC 4122 variant bits.
  const std::uint64_t h = (high & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t l = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", h >> 32, (h >> 16) & 0xffff, h & 0xffff,
                     l >> 48, l & 0xffffffffffffULL);
}

Controller::Controller(std::string name, std::shared_ptr<Reconciler> reconciler,
                       ControllerOptions options, MetricsRegistry* metrics)
    : name_(std::move(name)),
      reconciler_(std::move(reconciler)),
      options_(options),
      queue_(name_, metrics, options.rate_limits) {
  if (options_.max_concurrent_reconciles < 1) {
    throw std::invalid_argument("controller " + name_ + ": max_concurrent_reconciles must be >= 1");
  }
  if (metrics == nullptr) return;
  auto& total =
      metrics->counter("controller_runtime_reconcile_total",
                       "Total number of reconciliations per controller", {"controller", "result"});
  success_ = &total.labels({name_, "success"});
  error_ = &total.labels({name_, "error"});
  requeue_after_ = &total.labels({name_, "requeue_after"});
  total.labels({name_, "requeue"});  // exported as 0, as controller-runtime does
  errors_ = &metrics
                 ->counter("controller_runtime_reconcile_errors_total",
                           "Total number of reconciliation errors per controller", {"controller"})
                 .labels({name_});
  reconcile_time_ =
      &metrics
           ->histogram(
               "controller_runtime_reconcile_time_seconds",
               "Length of time per reconciliation per controller", {"controller"},
               {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
                0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
                6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60})
           .labels({name_});
  metrics
      ->gauge("controller_runtime_max_concurrent_reconciles",
              "Maximum number of concurrent reconciles per controller", {"controller"})
      .labels({name_})
      .set(options_.max_concurrent_reconciles);
  active_workers_ = &metrics
                         ->gauge("controller_runtime_active_workers",
                                 "Number of currently used workers per controller", {"controller"})
                         .labels({name_});
}

Controller::~Controller() {
  queue_.shut_down();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void Controller::start() {
  if (!workers_.empty()) return;
  spdlog::info("controller {}: starting {} worker(s)", name_, options_.max_concurrent_reconciles);
  for (int i = 0; i < options_.max_concurrent_reconciles; ++i) {
    workers_.emplace_back([this, i] {
      kube::name_this_thread(fmt::format("{}/w{}", name_, i + 1));  // sreracha/w1
      work();
    });
  }
}

bool Controller::stop(std::chrono::milliseconds grace) {
  queue_.shut_down();
  stopping_.cancel();
  if (!queue_.wait_idle(WorkQueue::Clock::now() + grace)) {
    spdlog::error("controller {}: reconciles still running after {} ms", name_, grace.count());
    return false;
  }
  // Idle and shut down: every worker's get() returns nullopt at once.
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  return true;
}

void Controller::work() {
  while (auto key = queue_.get()) reconcile(*key);
}

void Controller::reconcile(const std::string& key) {
  ScopedLogContext context({name_, key, new_reconcile_id()});
  if (active_workers_ != nullptr) active_workers_->inc();
  const auto started = std::chrono::steady_clock::now();
  auto count = [](Counter* counter) {
    if (counter != nullptr) counter->inc();
  };
  try {
    kube::Context ctx(stopping_);
    if (options_.reconcile_timeout) ctx = ctx.with_timeout(*options_.reconcile_timeout);
    const Result result = reconciler_->reconcile(Request::from_key(key), ctx);
    queue_.forget(key);
    if (result.requeue_after && result.requeue_after->count() > 0) {
      queue_.add_after(key, *result.requeue_after);
      count(requeue_after_);
    } else {
      count(success_);
    }
  } catch (const kube::Cancelled& e) {
    if (stopping_.cancelled()) {
      // Cut short by stop(): not a failure of the object, and the queue is
      // shut down, so the key is looked at by whoever runs next.
      spdlog::info("reconcile cut short by shutdown: {}", e.what());
    } else {
      count(error_);
      count(errors_);
      spdlog::error("Reconciler error: {}", e.what());
      queue_.add_rate_limited(key);
    }
  } catch (const std::exception& e) {
    count(error_);
    count(errors_);
    spdlog::error("Reconciler error: {}", e.what());
    queue_.add_rate_limited(key);
  } catch (...) {
    count(error_);
    count(errors_);
    spdlog::error("Reconciler error: unknown exception");
    queue_.add_rate_limited(key);
  }
  if (reconcile_time_ != nullptr) {
    reconcile_time_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (active_workers_ != nullptr) active_workers_->dec();
  queue_.done(key);
}

}  // namespace runtime
