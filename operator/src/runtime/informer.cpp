#include "runtime/informer.h"

#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "kube/backoff.h"
#include "kube/thread_name.h"
#include "kube/watch_decoder.h"

namespace runtime {
namespace {

std::string resource_version_of(const nlohmann::json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  return meta->value("resourceVersion", "");
}

double random01() {
  thread_local std::mt19937 random{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

// Runs a handler callback; a throwing handler must not kill the informer.
template <class Callback, class... Args>
void call_handler(const std::string& what, const Callback& callback, const Args&... args) {
  if (!callback) return;
  try {
    callback(args...);
  } catch (const std::exception& e) {
    spdlog::error("informer {}: event handler failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("informer {}: event handler failed with a non-standard exception", what);
  }
}

}  // namespace

ListWatch list_watch(kube::Interface& client, const kube::Resource& resource,
                     const std::string& ns) {
  ListWatch lw;
  lw.list = [&client, resource, ns](const kube::ListOptions& options, kube::CancelToken cancel) {
    return client.list(resource, ns, options, std::move(cancel));
  };
  lw.watch = [&client, resource, ns](const kube::WatchOptions& options,
                                     const std::function<bool(kube::WatchEvent &&)>& on_event,
                                     kube::CancelToken cancel) {
    client.watch(resource, ns, options, on_event, std::move(cancel));
  };
  lw.description = resource.resource + (ns.empty() ? " in all namespaces" : " in namespace " + ns);
  return lw;
}

Informer::Informer(ListWatch list_watch, InformerOptions options)
    : list_watch_(std::move(list_watch)), options_(std::move(options)) {}

Informer::Informer(kube::Interface& client, const kube::Resource& resource, const std::string& ns,
                   const std::string& label_selector)
    : Informer(list_watch(client, resource, ns),
               InformerOptions{.label_selector = label_selector}) {}

Informer::~Informer() { stop(); }

void Informer::add_handler(EventHandler handler) {
  kube::MutexLock lock(dispatch_mu_);
  for (const auto& object : store_.list()) call_handler(description(), handler.on_add, object);
  handlers_.push_back(std::move(handler));
}

void Informer::start() {
  kube::MutexLock lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void Informer::stop() {
  {
    kube::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  cancel_.cancel();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::string Informer::kind() const {
  kube::MutexLock lock(mu_);
  return kind_;
}

std::string Informer::resource_version() const {
  kube::MutexLock lock(mu_);
  return resource_version_;
}

bool Informer::receiving() const {
  kube::MutexLock lock(mu_);
  return receiving_locked(std::chrono::steady_clock::now());
}

bool Informer::receiving_locked(std::chrono::steady_clock::time_point now) const {
  return synced_.load() && (now - last_heard_ < options_.stale_after || now < watch_expected_end_);
}

std::string Informer::why_not_receiving() const {
  kube::MutexLock lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (receiving_locked(now)) return {};
  if (!synced_.load()) return "not synced" + (last_error_.empty() ? "" : ": " + last_error_);
  const auto silent = std::chrono::duration_cast<std::chrono::seconds>(now - last_heard_);
  return "nothing heard from the API server for " + std::to_string(silent.count()) + " s" +
         (last_error_.empty() ? "" : ": " + last_error_);
}

void Informer::note_error(const std::string& message) {
  kube::MutexLock lock(mu_);
  last_error_ = message;
  watch_expected_end_ = {};
}

bool Informer::sleep_for(std::chrono::milliseconds delay) {
  kube::MutexLock lock(mu_);
  return !wake_.wait_for(lock.native(), delay, [this]() REQUIRES(mu_) { return stopping_; });
}

void Informer::run() {
  const std::string& what = description();
  kube::name_this_thread("inf/" + what.substr(0, what.find(' ')));  // inf/pods
  kube::BackoffPolicy policy;
  policy.initial = options_.initial_backoff;
  policy.cap = options_.max_backoff;
  int failures = 0;
  bool need_list = true;
  auto last_list = std::chrono::steady_clock::time_point{};
  while (true) {
    {
      kube::MutexLock lock(mu_);
      if (stopping_) return;
    }
    try {
      if (need_list) {
        last_list = std::chrono::steady_clock::now();
        relist();
        need_list = false;
        failures = 0;
      }
      const auto started = std::chrono::steady_clock::now();
      const bool got_events = watch_once();
      // A watch that worked for a while means the server is fine again. One
      // that ends at once without an event is retried with back-off, or a
      // server doing that would make this loop spin.
      if (got_events || std::chrono::steady_clock::now() - started >= std::chrono::seconds(1)) {
        failures = 0;
      } else if (!sleep_for(kube::backoff_delay(failures++, random01(), {}, policy))) {
        return;
      }
    } catch (const kube::WatchDecodeError& e) {
      // The event is lost: resuming from the last version would skip it (or
      // read the same bytes again). Only a list brings the cache in step.
      spdlog::error("informer {}: {}; relisting", what, e.what());
      note_error(e.what());
      need_list = true;
      if (!sleep_for(kube::backoff_delay(failures++, random01(), {}, policy))) return;
    } catch (const kube::ResourceExpired& e) {
      spdlog::info("informer {}: {}; relisting", what, e.what());
      need_list = true;
      // Relist at once, unless the last list was a moment ago (a server
      // answering every watch with 410 must not get a list storm).
      if (std::chrono::steady_clock::now() - last_list < std::chrono::seconds(1)) {
        if (!sleep_for(kube::backoff_delay(failures++, random01(), {}, policy))) return;
      }
    } catch (const std::exception& e) {
      if (cancel_.cancelled()) return;
      note_error(e.what());
      const auto delay = kube::backoff_delay(failures++, random01(), {}, policy);
      spdlog::warn("informer {}: {}; retrying in {} ms", what, e.what(), delay.count());
      if (!sleep_for(delay)) return;
    } catch (...) {
      // Not ours to understand, but the informer must go on all the same.
      if (cancel_.cancelled()) return;
      note_error("non-standard exception");
      const auto delay = kube::backoff_delay(failures++, random01(), {}, policy);
      spdlog::error("informer {}: non-standard exception; retrying in {} ms", what, delay.count());
      if (!sleep_for(delay)) return;
    }
  }
}

// What a cache keeps of an object: all but metadata.managedFields, often the
// larger part of a small object and read by nothing that reads a cache
// (controller-runtime's TransformStripManagedFields does the same), then
// what the owner's transform keeps.
void Informer::prepare_for_cache(nlohmann::json& object) const {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("managedFields");
  }
  if (options_.transform) options_.transform(object);
}

void Informer::relist() {
  kube::ListOptions options;
  options.label_selector = options_.label_selector;
  options.metadata_only = options_.metadata_only;
  nlohmann::json list = list_watch_.list(options, cancel_);
  ++lists_;

  std::string kind = list.value("kind", "");
  if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
  const std::string api_version = list.value("apiVersion", "");
  if (!kind.empty()) {
    kube::MutexLock lock(mu_);
    kind_ = kind;
  }

  kube::MutexLock dispatch(dispatch_mu_);
  std::set<std::string> listed;
  auto items = list.find("items");
  if (items != list.end() && items->is_array()) {
    for (auto& item : *items) {
      if (!kind.empty()) item["kind"] = kind;
      if (!api_version.empty()) item["apiVersion"] = api_version;
      const std::string key = object_key(item);
      listed.insert(key);
      auto cached =
          store_.get(item["metadata"].value("namespace", ""), item["metadata"].value("name", ""));
      // Same version: nothing happened to it while we were not watching.
      if (cached && resource_version_of(*cached) == resource_version_of(item)) continue;
      prepare_for_cache(item);
      auto object = std::make_shared<const nlohmann::json>(std::move(item));
      auto old = store_.upsert(object, old_wanted());
      if (old) {
        dispatch_update(old, object);
      } else {
        dispatch_add(object);
      }
    }
  }
  for (const auto& key : store_.keys()) {
    if (listed.contains(key)) continue;
    if (auto gone = store_.erase(key)) dispatch_delete(gone);
  }
  set_resource_version(list);
  {
    kube::MutexLock lock(mu_);
    last_heard_ = std::chrono::steady_clock::now();
  }
  if (!synced_.exchange(true)) {
    spdlog::info("informer {}: synced {} object(s)", description(), store_.size());
  }
}

bool Informer::watch_once() {
  kube::WatchOptions options;
  options.resource_version = resource_version();
  options.label_selector = options_.label_selector;
  options.metadata_only = options_.metadata_only;
  options.allow_bookmarks = true;
  options.drop_managed_fields = true;  // as prepare_for_cache() would
  const auto min_timeout = options_.min_watch_timeout.count();
  options.timeout_seconds = static_cast<int>(
      min_timeout + static_cast<long>(random01() * static_cast<double>(min_timeout)));
  bool got_events = false;
  {
    // A quiet watch hears nothing until the server ends it: that is normal
    // until its timeout, plus time for the server to say so.
    kube::MutexLock lock(mu_);
    watch_expected_end_ = std::chrono::steady_clock::now() +
                          std::chrono::seconds(options.timeout_seconds) + std::chrono::seconds(60);
  }
  list_watch_.watch(
      options,
      [this, &got_events](kube::WatchEvent&& event) {
        got_events = true;
        apply_event(std::move(event));
        kube::MutexLock lock(mu_);
        last_heard_ = std::chrono::steady_clock::now();
        return !stopping_;
      },
      cancel_);
  kube::MutexLock lock(mu_);
  last_heard_ = std::chrono::steady_clock::now();
  watch_expected_end_ = {};
  return got_events;
}

void Informer::apply_event(kube::WatchEvent&& event) {
  // Read before the object is moved into the cache.
  std::string version = resource_version_of(event.object);
  if (event.type == "BOOKMARK") {
    set_resource_version(std::move(version));
    return;
  }
  kube::MutexLock dispatch(dispatch_mu_);
  const std::string key = object_key(event.object);
  spdlog::trace("informer {}: {} {} at resourceVersion {}", description(), event.type, key,
                version);
  if (event.type == "ADDED" || event.type == "MODIFIED") {
    prepare_for_cache(event.object);
    auto object = std::make_shared<const nlohmann::json>(std::move(event.object));
    auto old = store_.upsert(object, old_wanted());
    if (!old) {
      dispatch_add(object);
    } else if (resource_version_of(*old) != version) {
      dispatch_update(old, object);
    }
  } else if (event.type == "DELETED") {
    // Only what we had can be deleted: a delete of an unknown object would
    // be an invented event.
    if (store_.erase(key)) {
      prepare_for_cache(event.object);
      dispatch_delete(std::make_shared<const nlohmann::json>(std::move(event.object)));
    }
  } else {
    spdlog::warn("informer {}: ignoring watch event of type {}", description(), event.type);
  }
  set_resource_version(std::move(version));
}

void Informer::set_resource_version(const nlohmann::json& object) {
  set_resource_version(resource_version_of(object));
}

void Informer::set_resource_version(std::string version) {
  if (version.empty()) return;
  kube::MutexLock lock(mu_);
  resource_version_ = std::move(version);
}

Store::Old Informer::old_wanted() const {
  for (const auto& handler : handlers_) {
    if (handler.on_update && !handler.old_metadata_only) return Store::Old::Whole;
  }
  return Store::Old::Metadata;
}

void Informer::dispatch_add(const Store::Object& object) {
  for (const auto& handler : handlers_) call_handler(description(), handler.on_add, object);
}

void Informer::dispatch_update(const Store::Object& old_object, const Store::Object& new_object) {
  for (const auto& handler : handlers_) {
    call_handler(description(), handler.on_update, old_object, new_object);
  }
}

void Informer::dispatch_delete(const Store::Object& object) {
  for (const auto& handler : handlers_) call_handler(description(), handler.on_delete, object);
}

}  // namespace runtime
