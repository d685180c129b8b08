// Informer: keeps a Store in step with the API server for one resource in one
// namespace (or all) and one label selector, and tells event handlers what
// changed. client-go's reflector + shared informer, in one class:
//
// - list, then watch from the list's resourceVersion with bookmarks;
// - when a watch ends, resume from the last resourceVersion seen (an API
//   server restart costs no relist and loses no event);
// - on 410 Gone (the version is too old), relist and deliver the difference
//   against the cache: adds, updates, and deletes of objects that vanished
//   meanwhile;
// - on a watch event it cannot decode, log an error and relist (the event
//   is lost: only a list brings the cache back in step);
// - on any other error, back off (jittered, capped) and retry, forever.
//
// Handlers get the cached snapshots (see store.h). Objects from a list carry
// "apiVersion" and "kind" like watched ones (the API server leaves them out
// of list items).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "kube/interface.h"
#include "kube/mutex.h"
#include "runtime/store.h"

namespace runtime {

// The two API calls an informer makes. A plain struct of functions so tests
// can wrap the real ones (count lists, force a 410). Both get the informer's
// stop token: stop() ends a list in flight as it ends a watch.
struct ListWatch {
  std::function<nlohmann::json(const kube::ListOptions&, kube::CancelToken)> list;
  std::function<void(const kube::WatchOptions&, const std::function<bool(kube::WatchEvent&&)>&,
                     kube::CancelToken)>
      watch;
  std::string description;  // for logs: "configmaps in namespace x"
};

// list/watch of `resource` in namespace `ns` ("" = all) through `client`,
// which must outlive the returned functions.
ListWatch list_watch(kube::Interface& client, const kube::Resource& resource,
                     const std::string& ns);

// Callbacks for changes; any may be empty. They run on the informer's thread,
// one at a time, in the order the changes happened, and must not block for
// long (enqueue work, do not do it) nor call Informer::add_handler.
struct EventHandler {
  std::function<void(const Store::Object& object)> on_add;
  std::function<void(const Store::Object& old_object, const Store::Object& new_object)> on_update;
  // The object's last known state.
  std::function<void(const Store::Object& object)> on_delete;
  // on_update's old_object may hold only apiVersion, kind and metadata: the
  // cache keeps objects encoded, and an informer whose handlers all say so
  // decodes no more of the replaced one than that.
  bool old_metadata_only = false;
};

struct InformerOptions {
  std::string label_selector;
  // Cache PartialObjectMetadata (metadata only) instead of whole objects.
  bool metadata_only = false;
  // Trims each object before it is cached and handed to handlers, for
  // kinds of which little is read (controller-runtime's per-object cache
  // Transform); empty: whole objects (always without managedFields). Runs
  // on the informer's thread; must keep metadata.name, namespace and
  // resourceVersion.
  std::function<void(nlohmann::json&)> transform = nullptr;
  // Retry back-off after errors: initial, doubling, capped, equal jitter.
  // client-go caps at 30 s; an API server back after 20 s then waits up to
  // half a minute for each watch. At 5 s, a dozen informers retrying cost the
  // server a few connects a second, and a restart is seen within 5 s.
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{5'000};
  // Each watch asks the server to end it after a random time in
  // [min_watch_timeout, 2 * min_watch_timeout), as client-go does, so that
  // many informers do not all reconnect at once.
  std::chrono::seconds min_watch_timeout{300};
  // receiving() turns false when the informer has heard nothing from the
  // server (a list, an event, a bookmark, a watch ended by the server) for
  // this long and has no watch open within its expected life.
  std::chrono::seconds stale_after{30};
};

// Threading: every member may be called from any thread.
class Informer {
 public:
  explicit Informer(ListWatch list_watch, InformerOptions options = {});
  // `resource` in namespace `ns` ("" = all) through `client`, filtered by
  // `label_selector`; the client must outlive the informer.
  Informer(kube::Interface& client, const kube::Resource& resource, const std::string& ns,
           const std::string& label_selector = {});
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // A handler added after start() first gets an add for every cached object.
  void add_handler(EventHandler handler);

  void start();
  // Stops watching (and listing: a list in flight is cancelled) and joins
  // the informer's thread.
  void stop();

  // True once the first list has been stored and handed to the handlers.
  bool has_synced() const { return synced_.load(); }
  // Synced, and still in touch with the server (see stale_after). When not,
  // why_not_receiving() says for how long and the last error.
  bool receiving() const;
  std::string why_not_receiving() const;
  Store& store() { return store_; }
  const Store& store() const { return store_; }
  const std::string& description() const { return list_watch_.description; }
  // The objects' kind, learned from the first list ("ConfigMapList" gives
  // "ConfigMap"); empty until then.
  std::string kind() const;
  // The last resourceVersion seen (list, event or bookmark).
  std::string resource_version() const;
  // Lists done so far: 1 after the first sync; more after 410s or errors.
  std::uint64_t list_count() const { return lists_.load(); }

 private:
  void run();
  void relist() EXCLUDES(dispatch_mu_, mu_);
  // Returns whether any event arrived.
  bool watch_once() EXCLUDES(dispatch_mu_, mu_);
  void apply_event(kube::WatchEvent&& event) EXCLUDES(dispatch_mu_, mu_);
  void set_resource_version(const nlohmann::json& object) EXCLUDES(mu_);
  void set_resource_version(std::string version) EXCLUDES(mu_);
  void prepare_for_cache(nlohmann::json& object) const;
  // Records the failure that ended a list or watch, for why_not_receiving().
  void note_error(const std::string& message) EXCLUDES(mu_);
  bool receiving_locked(std::chrono::steady_clock::time_point now) const REQUIRES(mu_);
  // Sleeps up to `delay`; false when stopping.
  bool sleep_for(std::chrono::milliseconds delay) EXCLUDES(mu_);
  void dispatch_add(const Store::Object& object) REQUIRES(dispatch_mu_);
  void dispatch_update(const Store::Object& old_object, const Store::Object& new_object)
      REQUIRES(dispatch_mu_);
  void dispatch_delete(const Store::Object& object) REQUIRES(dispatch_mu_);

  const ListWatch list_watch_;
  const InformerOptions options_;
  Store store_;
  std::atomic<bool> synced_{false};
  std::atomic<std::uint64_t> lists_{0};

  // Held while a change is stored and handed to the handlers, so that a
  // handler being added sees each change exactly once (replay or event).
  // Taken before mu_ when both are held.
  kube::Mutex dispatch_mu_ ACQUIRED_BEFORE(mu_);
  std::vector<EventHandler> handlers_ GUARDED_BY(dispatch_mu_);
  // How much of a replaced object the handlers' on_update needs.
  Store::Old old_wanted() const REQUIRES(dispatch_mu_);

  mutable kube::Mutex mu_;
  std::condition_variable wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::string resource_version_ GUARDED_BY(mu_);
  std::string kind_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_heard_ GUARDED_BY(mu_) = {};
  // While a watch is open: when it should have ended at the latest.
  std::chrono::steady_clock::time_point watch_expected_end_ GUARDED_BY(mu_) = {};
  std::string last_error_ GUARDED_BY(mu_);
  kube::CancelToken cancel_;
  std::thread thread_;
};

}  // namespace runtime
