// configmap-mirror: the smallest whole controller built on runtime/, and its
// documentation by example. It knows nothing of Sreracha.
//
// For every ConfigMap labelled example.sreracha.io/mirror=true it keeps a
// ConfigMap "<name>-mirror" with the same data, owned by the source (a
// controller ownerReference: the garbage collector deletes the mirror with
// its source). Edit the source, or the mirror, or delete the mirror: the
// next reconcile puts the mirror back as it should be.
//
//   configmap-mirror --kubeconfig ~/.kube/config --namespace default
//   kubectl create configmap demo --from-literal=a=1
//   kubectl label configmap demo example.sreracha.io/mirror=true
//   kubectl get configmap demo-mirror -o yaml
#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include "kube/client.h"
#include "runtime/builder.h"
#include "runtime/manager.h"

namespace {

constexpr const char* kSourceSelector = "example.sreracha.io/mirror=true";
constexpr const char* kMirrorSelector = "example.sreracha.io/mirror-of";
constexpr const char* kFieldManager = "configmap-mirror";

// Level-based: reads the source from the cache, applies the mirror it
// implies. Applying an unchanged object changes nothing on the server.
class MirrorReconciler : public runtime::Reconciler {
 public:
  MirrorReconciler(kube::Interface& client, const runtime::Store& sources)
      : client_(client), sources_(sources) {}

  runtime::Result reconcile(const runtime::Request& request, const kube::Context& ctx) override {
    const auto source = sources_.get(request.ns, request.name);
    if (!source) return {};  // deleted or unlabelled: the garbage collector removes the mirror
    const auto& meta = (*source)["metadata"];
    const nlohmann::json mirror = {
        {"apiVersion", "v1"},
        {"kind", "ConfigMap"},
        {"metadata",
         {{"name", request.name + "-mirror"},
          {"namespace", request.ns},
          {"labels", {{kMirrorSelector, request.name}}},
          {"ownerReferences", nlohmann::json::array({{{"apiVersion", "v1"},
                                                      {"kind", "ConfigMap"},
                                                      {"name", request.name},
                                                      {"uid", meta["uid"]},
                                                      {"controller", true},
                                                      {"blockOwnerDeletion", true}}})}}},
        {"data", source->value("data", nlohmann::json::object())}};
    kube::ApplyOptions apply;
    apply.field_manager = kFieldManager;
    client_.apply(kube::resources::configmaps, request.ns, request.name + "-mirror", mirror, apply,
                  {}, ctx);
    spdlog::info("mirrored {}", request.key());
    return {};
  }

 private:
  kube::Interface& client_;
  const runtime::Store& sources_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"configmap-mirror: an example controller built on the operator's runtime/"};
  kube::LoadOptions load;
  runtime::ManagerOptions options;
  options.metrics_bind_address = "0";
  options.health_probe_bind_address = "127.0.0.1:0";
  app.add_option("--kubeconfig", load.kubeconfig, "Path to a kubeconfig");
  app.add_option("--namespace", options.namespace_, "Watch only this namespace");
  app.add_option("--health-probe-bind-address", options.health_probe_bind_address,
                 "Where /healthz and /readyz listen; 0 disables them")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    kube::set_io_threads(kube::kDefaultIoThreads);
    kube::ClientOptions client_options;
    client_options.user_agent = "configmap-mirror";
    kube::Client client(kube::load_config(load), client_options);
    runtime::Manager manager(client, options);
    auto& sources = manager.informer(kube::resources::configmaps, kSourceSelector);
    runtime::ControllerBuilder(manager, "configmap-mirror")
        .for_kind(kube::resources::configmaps, kSourceSelector)
        .owns(kube::resources::configmaps, kMirrorSelector)
        .with_reconciler(std::make_shared<MirrorReconciler>(client, sources));
    return manager.run();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
