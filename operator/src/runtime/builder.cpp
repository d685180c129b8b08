#include "runtime/builder.h"

#include <stdexcept>

namespace runtime {

ControllerBuilder::ControllerBuilder(Manager& manager, std::string name)
    : manager_(manager), name_(std::move(name)) {
  options_.max_concurrent_reconciles = manager_.options().max_concurrent_reconciles;
}

ControllerBuilder& ControllerBuilder::for_kind(const kube::Resource& resource,
                                               std::string label_selector) {
  primary_ = resource;
  primary_selector_ = std::move(label_selector);
  return *this;
}

ControllerBuilder& ControllerBuilder::owns(const kube::Resource& resource,
                                           std::string label_selector) {
  watches_.push_back({resource, std::move(label_selector), {}});
  return *this;
}

ControllerBuilder& ControllerBuilder::watches(const kube::Resource& resource,
                                              std::string label_selector, Mapper mapper) {
  if (!mapper) throw std::invalid_argument("watches(" + resource.resource + "): empty mapper");
  watches_.push_back({resource, std::move(label_selector), std::move(mapper)});
  return *this;
}

ControllerBuilder& ControllerBuilder::with_options(ControllerOptions options) {
  options_ = options;
  return *this;
}

Controller& ControllerBuilder::with_reconciler(std::shared_ptr<Reconciler> reconciler) {
  if (!primary_) throw std::logic_error("controller " + name_ + ": for_kind() was not called");
  if (!reconciler) throw std::invalid_argument("controller " + name_ + ": no reconciler");
  auto controller =
      std::make_unique<Controller>(name_, std::move(reconciler), options_, &manager_.metrics());
  WorkQueue& queue = controller->queue();

  Informer& primary = manager_.shared_informer(*primary_, primary_selector_);
  primary.add_handler(enqueue_object(queue));
  for (auto& watch : watches_) {
    Informer& informer = manager_.shared_informer(watch.resource, watch.label_selector);
    if (watch.mapper) {
      informer.add_handler(enqueue_mapped(queue, std::move(watch.mapper)));
    } else {
      informer.add_handler(
          enqueue_owner(queue, primary_->group, [&primary] { return primary.kind(); }));
    }
  }
  Controller& result = *controller;
  manager_.add_controller(std::move(controller));
  return result;
}

}  // namespace runtime
