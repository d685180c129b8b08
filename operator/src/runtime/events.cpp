#include "runtime/events.h"

#include <cerrno>  // program_invocation_short_name

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kube/meta.h"
#include "kube/thread_name.h"

namespace runtime {

namespace {
EventRecorderOptions with_defaults(EventRecorderOptions options) {
  if (options.component.empty()) options.component = program_invocation_short_name;
  return options;
}

// Events about cluster-scoped objects go to "default", as kubectl expects.
std::string event_namespace(const nlohmann::json& involved) {
  const std::string ns = involved.value("namespace", "");
  return ns.empty() ? "default" : ns;
}

constexpr std::string_view kCombined = "(combined from similar events): ";
}  // namespace

EventRecorder::EventRecorder(kube::Interface& client, EventRecorderOptions options)
    : client_(client),
      options_(with_defaults(std::move(options))),
      bucket_(options_.qps, options_.burst),
      thread_([this] { run(); }) {}

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
    Pending pending;
    pending.involved = {{"apiVersion", involved_object.value("apiVersion", "")},
                        {"kind", involved_object.value("kind", "")},
                        {"namespace", meta.value("namespace", "")},
                        {"name", meta.value("name", "")},
                        {"uid", meta.value("uid", "")},
                        {"resourceVersion", meta.value("resourceVersion", "")}};
    pending.type = std::move(type);
    pending.reason = std::move(reason);
    pending.message = std::move(message);
    pending.key = event_namespace(pending.involved) + "/" + meta.value("name", "") + "/" +
                  meta.value("uid", "") + "/" + pending.type + "/" + pending.reason;
    kube::MutexLock lock(mu_);
    if (stopping_) return;
    for (auto& queued : queue_) {
      if (queued.key != pending.key) continue;
      ++queued.count;
      if (queued.message != pending.message) {
        queued.message = std::move(pending.message);
        queued.combined = true;
      }
      return;
    }
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
  kube::name_this_thread("events");
  kube::MutexLock lock(mu_);
  while (true) {
    changed_.wait(lock.native(), [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // A token of our own first; what arrives meanwhile folds into the queue.
    const auto wait = bucket_.reserve(kube::TokenBucket::Clock::now());
    if (wait.count() > 0) {
      changed_.wait_for(lock.native(), wait, [this]() REQUIRES(mu_) { return stopping_; });
      if (queue_.empty()) return;
    }
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
  const std::string ns = event_namespace(involved);
  const std::string message =
      pending.combined ? std::string(kCombined) + pending.message : pending.message;
  const std::string now = kube::meta::format_time(std::chrono::system_clock::now());
  try {
    if (auto it = written_.find(pending.key); it != written_.end()) {
      Written& written = it->second;
      const std::string shown = written.message == pending.message || pending.combined
                                    ? message
                                    : std::string(kCombined) + pending.message;
      nlohmann::json patch = {{"count", written.count + pending.count}, {"lastTimestamp", now}};
      if (shown != written.message) patch["message"] = shown;
      try {
        client_.merge_patch(kube::resources::events, ns, written.name, patch, {}, cancel_,
                            {.want_object = false});
        written.count += pending.count;
        written.message = shown;
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
                            {"message", message},
                            {"source", {{"component", options_.component}}},
                            {"reportingComponent", options_.component},
                            {"firstTimestamp", now},
                            {"lastTimestamp", now},
                            {"count", pending.count}};
    if (!options_.instance.empty()) event["reportingInstance"] = options_.instance;
    client_.create(kube::resources::events, ns, event, {}, cancel_);
    // Bounded memory: forgetting everything only costs a new Event later.
    if (written_.size() >= options_.max_remembered) written_.clear();
    written_[pending.key] = Written{name, pending.count, message};
  } catch (const std::exception& e) {
    spdlog::warn("cannot record event {} {} on {}/{}: {}", pending.type, pending.reason, ns,
                 involved.value("name", ""), e.what());
  }
}

}  // namespace runtime
