// sreracha-operator: keeps Sreracha instances available on Kubernetes.
//
//   sreracha-operator [flags]            run the controller
//   sreracha-operator render -f CR.yaml  print the children it would apply
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cmd/version.h"
#include "kube/client.h"
#include "kube/tls.h"
#include "runtime/builder.h"
#include "runtime/logging.h"
#include "runtime/manager.h"
#include "runtime/metrics.h"
#include "sreracha/pod_view.h"
#include "sreracha/reconciler.h"
#include "sreracha/render.h"
#include "sreracha/spec.h"
#include "sreracha/yaml.h"

namespace {

// Who the operator is to the API server: server-side apply's field manager,
// the User-Agent, the events' source and the default Lease name.
constexpr const char* kOperatorName = "sreracha-operator";

// The label every child carries; owned kinds are watched only where it is
// set, so the caches grow with what the operator owns, not with the cluster.
constexpr const char* kManagedBySelector = "app.kubernetes.io/managed-by=sreracha-operator";
// Everything else (`!=` also matches objects without the label).
constexpr const char* kUnmanagedSelector = "app.kubernetes.io/managed-by!=sreracha-operator";
// Our EndpointSlices (Redis mode Endpoints) also say so to the EndpointSlice
// controllers. The slices those controllers make for our Services copy the
// Services' labels: without the second label the cache would also hold, and
// decode every change of, two slices per instance that nothing reads. They
// are in neither cache; their generated names ("<service>-" and five
// characters, no vowels) never equal ours ("<name>-redis").
constexpr const char* kManagedSlicesSelector =
    "app.kubernetes.io/managed-by=sreracha-operator,"
    "endpointslice.kubernetes.io/managed-by=sreracha-operator";

int render_command(const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "render: cannot read " << file << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  int status = 0;
  std::vector<nlohmann::json> out;
  std::vector<nlohmann::json> documents;
  try {
    documents = sreracha::load_yaml_documents(text.str());
  } catch (const std::exception& e) {
    std::cerr << "render: " << file << ": " << e.what() << "\n";
    return 1;
  }
  for (const auto& document : documents) {
    // e.g. a Secret shipped alongside; a document that is no object at all
    // (a bare scalar) is not a Sreracha either.
    if (!document.is_object() || document.value("kind", "") != "Sreracha") continue;
    try {
      auto children = sreracha::render(sreracha::parse_instance(document));
      out.insert(out.end(), children.begin(), children.end());
    } catch (const sreracha::SpecError& e) {
      std::cerr << "render: " << file << ": " << e.what() << "\n";
      status = 1;
    }
  }
  std::cout << sreracha::to_yaml(out);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  kube::tls::isolate_default_trust();  // before any thread; see kube/tls.h
  CLI::App app{"sreracha-operator: keeps sreracha instances available on Kubernetes"};
  app.set_version_flag("--version", std::string("sreracha-operator ") + sreracha::version());

  kube::LoadOptions load;
  kube::ClientOptions client_options;
  runtime::ManagerOptions manager_options;
  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--kubeconfig", load.kubeconfig,
                 "Path to a kubeconfig; default $KUBECONFIG, in-cluster config, ~/.kube/config");
  app.add_option("--context", load.context, "The kubeconfig context to use")->capture_default_str();
  app.add_option("--namespace", manager_options.namespace_,
                 "Namespace to watch; empty watches all namespaces")
      ->capture_default_str();
  app.add_flag("--leader-elect", manager_options.leader_elect,
               "Elect a leader with a Lease so only one replica reconciles")
      ->capture_default_str();
  manager_options.leader_election_id = std::string(kOperatorName) + "-leader";
  app.add_option("--leader-election-id", manager_options.leader_election_id,
                 "Name of the leader election Lease")
      ->capture_default_str();
  app.add_option("--leader-election-namespace", manager_options.leader_election_namespace,
                 "Namespace of the Lease; default the operator's own namespace")
      ->capture_default_str();
  app.add_option("--metrics-bind-address", manager_options.metrics_bind_address,
                 "Address of the Prometheus /metrics endpoint (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", manager_options.health_probe_bind_address,
                 "Address of /healthz and /readyz (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--max-concurrent-reconciles", manager_options.max_concurrent_reconciles,
                 "Reconciles run at once (worker threads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--kube-api-qps", client_options.qps, "Requests per second to the API server")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--kube-api-burst", client_options.burst, "Burst of requests above the QPS")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  std::size_t io_threads = kube::kDefaultIoThreads;
  app.add_option("--kube-io-threads", io_threads,
                 "Threads for network I/O to the API server and the HTTP endpoints; 0: the "
                 "threads that wait for an answer run it")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--log-format", log_format, "Log format")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "Log level")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  bool redis_check = true;
  app.add_option("--redis-check", redis_check,
                 "Connect to Redis in modes External and Endpoints (AUTH, PING, ROLE) for the "
                 "RedisReady condition; false: RedisReady is Unknown (NotChecked)")
      ->capture_default_str();

  std::string render_file;
  auto* render = app.add_subcommand(
      "render", "Print, without a cluster, every child object the operator would apply");
  render->add_option("-f,--filename", render_file, "A YAML file with Sreracha objects")
      ->required()
      ->check(CLI::ExistingFile);

  // Usage errors exit 2, as getopt-style tools do (CLI11's own codes are
  // 100 and up); --help and --version exit 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (render->parsed()) return render_command(render_file);

  runtime::configure_logging(log_format, log_level);
  try {
    kube::set_io_threads(io_threads);
    auto metrics = std::make_shared<runtime::MetricsRegistry>();
    runtime::register_process_metrics(*metrics);
    client_options.on_request = runtime::request_metrics_hook(*metrics);
    client_options.user_agent = std::string(kOperatorName) + "/" + sreracha::version();
    client_options.field_manager = kOperatorName;
    kube::Client client(kube::load_config(load), client_options);
    spdlog::info("{} {} connecting to {}", kOperatorName, sreracha::version(),
                 client.config().server);

    manager_options.metrics_registry = metrics;
    manager_options.name = kOperatorName;
    manager_options.cache_transforms["pods"] = sreracha::trim_cached_pod;
    runtime::Manager manager(client, manager_options);
    sreracha::Caches caches;
    caches.srerachas = &manager.informer(sreracha::kSrerachas);
    caches.deployments = &manager.informer(kube::resources::deployments, kManagedBySelector);
    caches.services = &manager.informer(kube::resources::services, kManagedBySelector);
    caches.endpointslices =
        &manager.informer(kube::resources::endpointslices, kManagedSlicesSelector);
    caches.networkpolicies =
        &manager.informer(kube::resources::networkpolicies, kManagedBySelector);
    caches.poddisruptionbudgets =
        &manager.informer(kube::resources::poddisruptionbudgets, kManagedBySelector);
    caches.ingresses = &manager.informer(kube::resources::ingresses, kManagedBySelector);
    caches.persistentvolumeclaims =
        &manager.informer(kube::resources::persistentvolumeclaims, kManagedBySelector);
    caches.pods = &manager.informer(kube::resources::pods, kManagedBySelector);
    caches.secrets = &manager.informer(kube::resources::secrets, sreracha::kWatchedSecretSelector);
    for (const auto* resource :
         {&kube::resources::deployments, &kube::resources::services,
          &kube::resources::endpointslices, &kube::resources::networkpolicies,
          &kube::resources::poddisruptionbudgets, &kube::resources::ingresses,
          &kube::resources::persistentvolumeclaims}) {
      caches.unmanaged[resource->resource] =
          &manager.metadata_informer(*resource, kUnmanagedSelector);
    }
    caches.ingressclasses = &manager.metadata_informer(sreracha::kIngressClasses);

    // The checker puts a key back on the queue when its Redis check's result
    // changes. Declared after the manager, so its thread stops before the
    // manager's controller (and that queue) goes.
    std::atomic<runtime::WorkQueue*> queue = nullptr;
    std::unique_ptr<sreracha::redis_check::RedisChecker> redis_checker;
    if (redis_check) {
      redis_checker = std::make_unique<sreracha::redis_check::RedisChecker>(
          sreracha::redis_check::CheckerOptions{}, [&queue](const std::string& key) {
            if (auto* q = queue.load()) q->add(key);
          });
    }
    sreracha::ReconcilerOptions reconciler_options;
    reconciler_options.field_manager = kOperatorName;
    reconciler_options.redis_checker = redis_checker.get();
    auto reconciler = std::make_shared<sreracha::Reconciler>(client, caches, manager.events(),
                                                             *metrics, reconciler_options);
    auto& controller =
        runtime::ControllerBuilder(manager, "sreracha")
            .for_kind(sreracha::kSrerachas)
            .owns(kube::resources::deployments, kManagedBySelector)
            .owns(kube::resources::services, kManagedBySelector)
            .owns(kube::resources::endpointslices, kManagedSlicesSelector)
            .owns(kube::resources::networkpolicies, kManagedBySelector)
            .owns(kube::resources::poddisruptionbudgets, kManagedBySelector)
            .owns(kube::resources::ingresses, kManagedBySelector)
            .owns(kube::resources::persistentvolumeclaims, kManagedBySelector)
            .watches(kube::resources::pods, kManagedBySelector, sreracha::pod_owner_requests)
            .watches(kube::resources::secrets, sreracha::kWatchedSecretSelector,
                     sreracha::auth_secret_referrers(*caches.srerachas))
            .with_reconciler(reconciler);
    queue = &controller.queue();
    return manager.run();
  } catch (const std::exception& e) {
    // A bad kubeconfig, an address that does not bind, ...: one line, exit
    // 1, not std::terminate and a core dump.
    spdlog::critical("{}", e.what());
    return 1;
  } catch (...) {
    spdlog::critical("stopped by an exception of unknown type");
    return 1;
  }
}
