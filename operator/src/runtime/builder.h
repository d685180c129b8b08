// ControllerBuilder: wires a Reconciler to the changes that concern it, and
// reads like controller-runtime's builder:
//
//   ControllerBuilder(manager, "sreracha")
//       .for_kind(srerachas)                     // its own changes
//       .owns(kube::resources::deployments, managed_by_us)  // its children's
//       .watches(kube::resources::secrets, {}, secret_to_srerachas)  // anything else
//       .with_reconciler(std::make_shared<SrerachaReconciler>(...));
//
// Every watched resource is read through the manager's shared informer
// (resource + label selector), so the reconciler reads the same caches.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/controller.h"
#include "runtime/manager.h"

namespace runtime {

class ControllerBuilder {
 public:
  ControllerBuilder(Manager& manager, std::string name);

  // The primary kind: a change to one of its objects enqueues its key.
  ControllerBuilder& for_kind(const kube::Resource& resource, std::string label_selector = {});
  // A child kind: a change to one of its objects enqueues its controller
  // ownerReference's key when the owner is of the for_kind kind (same API
  // group; kind learned from the primary informer's list, so owned events
  // seen before that list are dropped: the list enqueues every primary
  // anyway). The owner's namespace is the child's.
  ControllerBuilder& owns(const kube::Resource& resource, std::string label_selector = {});
  // Any kind: a change enqueues what `mapper` returns for the object.
  ControllerBuilder& watches(const kube::Resource& resource, std::string label_selector,
                             Mapper mapper);
  // Default: the manager's max_concurrent_reconciles.
  ControllerBuilder& with_options(ControllerOptions options);

  // Completes the wiring and hands the controller to the manager, which
  // starts it once leading and synced. Throws std::logic_error without
  // for_kind().
  Controller& with_reconciler(std::shared_ptr<Reconciler> reconciler);

 private:
  struct Watch {
    kube::Resource resource;
    std::string label_selector;
    Mapper mapper;  // empty for owns()
  };

  Manager& manager_;
  std::string name_;
  std::optional<kube::Resource> primary_;
  std::string primary_selector_;
  std::vector<Watch> watches_;
  ControllerOptions options_;
};

}  // namespace runtime
