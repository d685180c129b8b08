#include "runtime/events.h"

#include <cerrno>  // program_invocation_short_name

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kube/meta.h"

namespace runtime {

namespace {
EventRecorderOptions with_defaults(EventRecorderOptions options) {
  if (options.component.empty()) options.component = program_invocation_short_name;
  return options;
}
}  // namespace

EventRecorder::EventRecorder(kube::Interface& client, EventRecorderOptions options)
    : client_(client), options_(with_defaults(std::move(options))), thread_([this] { run(); }) {}

EventRecorder::~EventRecorder() { stop(std::chrono::seconds(5)); }

void EventRecorder::stop(std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) return;
  flush(timeout);
  std::size_t dropped = 0;
  {
    kube::MutexLock lock(mu_);
    stopping_ = true;
    dropped = queue_.size();
    queue_.clear();
  }
  cancel_.cancel();
  changed_.notify_all();
  thread_.join();
  if (dropped > 0) spdlog::warn("dropped {} event(s) not sent before shutdown", dropped);
}

void EventRecorder::event(const nlohmann::json& involved_object, std::string type,
                          std::string reason, std::string message) noexcept {
  try {
    const auto& meta = involved_object.at("metadata");
    Pending pending{{{"apiVersion", involved_object.value("apiVersion", "")},
                     {"kind", involved_object.value("kind", "")},
                     {"namespace", meta.value("namespace", "")},
                     {"name", meta.value("name", "")},
                     {"uid", meta.value("uid", "")},
                     {"resourceVersion", meta.value("resourceVersion", "")}},
                    std::move(type),
                    std::move(reason),
                    std::move(message)};
    kube::MutexLock lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= options_.max_queued) {
      spdlog::warn("event queue full; dropping event {} {}: {}", pending.type, pending.reason,
                   pending.message);
      return;
    }
    queue_.push_back(std::move(pending));
    changed_.notify_all();
  } catch (const std::exception& e) {
    spdlog::error("cannot record event {}: {}", reason, e.what());
  }
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  kube::MutexLock lock(mu_);
  return changed_.wait_for(lock.native(), timeout,
                           [this]() REQUIRES(mu_) { return queue_.empty() && !sending_; });
}

void EventRecorder::run() {
  kube::MutexLock lock(mu_);
  while (true) {
    changed_.wait(lock.native(), [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    sending_ = true;
    lock.unlock();
    send(pending);
    lock.lock();
    sending_ = false;
    changed_.notify_all();
  }
}

void EventRecorder::send(const Pending& pending) {
  const auto& involved = pending.involved;
  const std::string involved_ns = involved.value("namespace", "");
  // Events about cluster-scoped objects go to "default", as kubectl expects.
  const std::string ns = involved_ns.empty() ? "default" : involved_ns;
  const std::string key = ns + "/" + involved.value("name", "") + "/" + involved.value("uid", "") +
                          "/" + pending.type + "/" + pending.reason + "/" + pending.message;
  const std::string now = kube::meta::format_time(std::chrono::system_clock::now());
  try {
    if (auto it = written_.find(key); it != written_.end()) {
      try {
        client_.merge_patch(kube::resources::events, ns, it->second.name,
                            {{"count", it->second.count + 1}, {"lastTimestamp", now}}, {}, cancel_);
        ++it->second.count;
        return;
      } catch (const kube::ApiError& e) {
        if (!e.is_not_found()) throw;
        written_.erase(it);  // the Event expired (1 h TTL): write a new one
      }
    }
    const std::string name = fmt::format("{}.{:x}", involved.value("name", "event"),
                                         std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    nlohmann::json event = {{"apiVersion", "v1"},
                            {"kind", "Event"},
                            {"metadata", {{"name", name}, {"namespace", ns}}},
                            {"involvedObject", involved},
                            {"type", pending.type},
                            {"reason", pending.reason},
                            {"message", pending.message},
                            {"source", {{"component", options_.component}}},
                            {"reportingComponent", options_.component},
                            {"firstTimestamp", now},
                            {"lastTimestamp", now},
                            {"count", 1}};
    if (!options_.instance.empty()) event["reportingInstance"] = options_.instance;
    client_.create(kube::resources::events, ns, event, {}, cancel_);
    // Bounded memory: forgetting everything only costs a new Event later.
    if (written_.size() >= options_.max_remembered) written_.clear();
    written_[key] = Written{name, 1};
  } catch (const std::exception& e) {
    spdlog::warn("cannot record event {} {} on {}/{}: {}", pending.type, pending.reason, ns,
                 involved.value("name", ""), e.what());
  }
}

}  // namespace runtime
