#include "runtime/manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>  // program_invocation_short_name
#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kube/thread_name.h"

namespace runtime {
namespace {

// --- signals -------------------------------------------------------------------------
//
// The handler only writes a byte to a pipe (async-signal-safe); a thread
// reads it and stops the manager. A second signal exits at once, as
// controller-runtime does, for an operator stuck in shutdown.

int signal_pipe[2] = {-1, -1};
std::atomic<int> signals_received{0};

extern "C" void on_stop_signal(int) {
  if (signals_received.fetch_add(1) > 0) _exit(1);
  const char byte = 's';
  [[maybe_unused]] auto written = write(signal_pipe[1], &byte, 1);
}

// Handles SIGTERM and SIGINT while it lives; restores the old handlers after.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void()> on_signal) {
    if (pipe2(signal_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2() failed");
    signals_received = 0;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
    thread_ = std::thread([on_signal = std::move(on_signal)] {
      kube::name_this_thread("signals");
      char byte = 0;
      while (read(signal_pipe[0], &byte, 1) == 1 && byte == 's') on_signal();
    });
  }
  ~SignalWatcher() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
    const char quit = 'q';
    [[maybe_unused]] auto written = write(signal_pipe[1], &quit, 1);
    thread_.join();
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    signal_pipe[0] = signal_pipe[1] = -1;
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
  std::thread thread_;
};

// How long reconciles cancelled after a lost lease get to unwind.
constexpr std::chrono::milliseconds kLostLeaseUnwind{1000};

std::string default_identity() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{}_{:016x}", host, random());
}

}  // namespace

Manager::Manager(kube::Interface& client, ManagerOptions options)
    : client_(client), options_(std::move(options)) {
  metrics_ =
      options_.metrics_registry ? options_.metrics_registry : std::make_shared<MetricsRegistry>();
  register_process_metrics(*metrics_);
  if (options_.identity.empty()) options_.identity = default_identity();
  if (options_.name.empty()) options_.name = program_invocation_short_name;
  if (options_.leader_election_id.empty()) options_.leader_election_id = options_.name + "-leader";
  if (options_.leader_election_namespace.empty()) {
    options_.leader_election_namespace = client_.config().namespace_;
  }
  events_ = std::make_unique<EventRecorder>(
      client_, EventRecorderOptions{.component = options_.name, .instance = options_.identity});
  // Constructed now so that a bad address fails here, not in run().
  metrics_server_ = std::make_unique<HttpServer>(
      options_.metrics_bind_address,
      std::map<std::string, HttpHandler>{{"/metrics", [this] { return serve_metrics(); }}});
  health_server_ = std::make_unique<HttpServer>(
      options_.health_probe_bind_address,
      std::map<std::string, HttpHandler>{
          {"/healthz",
           [] {
             return HttpResponse{200, "text/plain; charset=utf-8", "ok"};
           }},
          {"/readyz", [this] { return serve_readyz(); }}});
  if (options_.leader_elect) {
    elector_ = std::make_unique<LeaderElector>(
        client_,
        LeaderElectionConfig{options_.leader_election_namespace, options_.leader_election_id,
                             options_.identity, options_.lease_duration, options_.renew_deadline,
                             options_.retry_period},
        metrics_.get());
  }
}

Manager::~Manager() {
  // Normally run() stopped everything; this covers a manager never run.
  stop();
  if (elector_) elector_->stop();
  for (auto* informer : all_informers()) informer->stop();
}

std::vector<Informer*> Manager::all_informers() const {
  kube::MutexLock lock(mu_);
  std::vector<Informer*> out;
  for (const auto& [key, informer] : informers_) out.push_back(informer.get());
  return out;
}

Informer& Manager::shared_informer(const kube::Resource& resource,
                                   const std::string& label_selector, bool metadata_only) {
  kube::MutexLock lock(mu_);
  auto& slot = informers_[InformerKey{resource.group, resource.version, resource.resource,
                                      label_selector, metadata_only}];
  if (!slot) {
    InformerOptions informer_options;
    informer_options.label_selector = label_selector;
    informer_options.metadata_only = metadata_only;
    if (!metadata_only) {
      const std::string name =
          resource.group.empty() ? resource.resource : resource.resource + "." + resource.group;
      if (auto it = options_.cache_transforms.find(name); it != options_.cache_transforms.end()) {
        informer_options.transform = it->second;
      }
    }
    auto lw = list_watch(client_, resource, options_.namespace_);
    if (!label_selector.empty()) lw.description += " labelled " + label_selector;
    if (metadata_only) lw.description += " (metadata)";
    slot = std::make_unique<Informer>(std::move(lw), informer_options);
    if (running_) slot->start();
  }
  return *slot;
}

Store& Manager::informer(const kube::Resource& resource, const std::string& label_selector) {
  return shared_informer(resource, label_selector).store();
}

Store& Manager::metadata_informer(const kube::Resource& resource,
                                  const std::string& label_selector) {
  return shared_informer(resource, label_selector, true).store();
}

void Manager::add_controller(std::unique_ptr<Controller> controller) {
  kube::MutexLock lock(mu_);
  if (controllers_started_) controller->start();
  controllers_.push_back(std::move(controller));
}

void Manager::stop() {
  {
    kube::MutexLock lock(mu_);
    stop_requested_ = true;
  }
  wake_.notify_all();
}

bool Manager::is_leader() const { return !elector_ || elector_->is_leader(); }

bool Manager::ready() const {
  kube::MutexLock lock(mu_);
  for (const auto& [key, informer] : informers_) {
    if (!informer->has_synced()) return false;
  }
  return true;
}

std::string Manager::metrics_address() const {
  kube::MutexLock lock(mu_);
  return metrics_address_;
}

std::string Manager::health_address() const {
  kube::MutexLock lock(mu_);
  return health_address_;
}

HttpResponse Manager::serve_metrics() {
  return {200, MetricsRegistry::kContentType, metrics_->expose()};
}

HttpResponse Manager::serve_readyz() {
  std::string waiting;
  {
    kube::MutexLock lock(mu_);
    for (const auto& [key, informer] : informers_) {
      if (!informer->has_synced()) {
        waiting += "informer not synced: " + informer->description() + "\n";
      } else if (!informer->receiving()) {
        waiting += "informer not receiving: " + informer->description() + ": " +
                   informer->why_not_receiving() + "\n";
      }
    }
  }
  if (waiting.empty()) return {200, "text/plain; charset=utf-8", "ok"};
  return {500, "text/plain; charset=utf-8", waiting};
}

int Manager::run() {
  {
    kube::MutexLock lock(mu_);
    if (running_) throw std::logic_error("Manager::run() called twice");
    running_ = true;
  }
  std::optional<SignalWatcher> signals;
  if (options_.handle_signals) {
    signals.emplace([this] {
      spdlog::info("received a stop signal; shutting down gracefully (again to exit at once)");
      stop();
    });
  }

  try {
    metrics_server_->start();
    health_server_->start();
  } catch (const std::exception& e) {
    spdlog::error("cannot serve HTTP endpoints: {}", e.what());
    metrics_server_->stop();
    return 1;
  }
  {
    kube::MutexLock lock(mu_);
    metrics_address_ = metrics_server_->address();
    health_address_ = health_server_->address();
    spdlog::info("serving metrics on {}", metrics_address_.empty()
                                              ? "(disabled)"
                                              : "http://" + metrics_address_ + "/metrics");
    spdlog::info("serving health probes on {}",
                 health_address_.empty() ? "(disabled)"
                                         : "http://" + health_address_ + "/healthz and /readyz");
    for (auto& [key, informer] : informers_) informer->start();
  }
  if (elector_) {
    auto wake = [this] { wake_.notify_all(); };
    elector_->start(wake, wake);
  }
  return wait_and_shut_down();
}

int Manager::wait_and_shut_down() {
  int code = 0;
  bool was_leading = false;
  bool said_waiting = false;
  {
    kube::MutexLock lock(mu_);
    while (!stop_requested_) {
      // is_leader() also turns false when renewing hangs: polled, not waited for.
      const bool leading = !elector_ || elector_->is_leader();
      if (elector_ && was_leading && !leading) {
        spdlog::error("leader election lost; stopping");
        code = 1;
        break;
      }
      was_leading = was_leading || leading;
      if (leading && !controllers_started_) {
        bool synced = true;
        for (const auto& [key, informer] : informers_) synced = synced && informer->has_synced();
        if (synced) {
          controllers_started_ = true;
          for (auto& controller : controllers_) controller->start();
        } else if (!said_waiting) {
          spdlog::info("waiting for caches to sync before starting controllers");
          said_waiting = true;
        }
      }
      wake_.wait_for(lock.native(), std::chrono::milliseconds(100));
    }
  }

  // Stop taking new work and cancel the reconciles in flight (their API
  // calls end with kube::Cancelled at once); wait for them within the
  // grace. After a lost lease another process may be leading: the grace is
  // then only the moment their threads need to unwind, since a cancelled
  // call sends nothing more.
  const auto grace = code == 0 ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                     options_.graceful_shutdown_timeout)
                               : kLostLeaseUnwind;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<Controller*> controllers;
  {
    kube::MutexLock lock(mu_);
    for (auto& controller : controllers_) controllers.push_back(controller.get());
  }
  for (auto* controller : controllers) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!controller->stop(std::max(left, std::chrono::milliseconds(0)))) {
      // The last resort, for a reconcile that ignores its context or blocks
      // outside the API (a lock, a stuck syscall): its thread still uses the
      // controller, the caches and the client, so run() cannot return and
      // let them be destroyed. Not releasing the lease: a standby takes
      // over when it expires.
      spdlog::error("reconciles did not finish within {} ms of being cancelled; exiting now",
                    grace.count());
      std::_Exit(1);
    }
  }
  if (elector_) elector_->stop();  // releases the lease if still leading
  events_->stop(std::chrono::seconds(2));
  // Not under mu_: a list in flight can hold stop() up, and /readyz needs mu_.
  for (auto* informer : all_informers()) informer->stop();
  metrics_server_->stop();
  health_server_->stop();
  spdlog::info("manager stopped");
  return code;
}

}  // namespace runtime
