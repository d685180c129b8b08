// EventRecorder: core/v1 Events about the objects we manage ("kubectl
// describe" shows them), as client-go's recorder writes them.
//
// event() never throws and never blocks on the API: events are queued and
// sent by a background thread; failures are logged. The same (object, type,
// reason, message) again bumps count and lastTimestamp of the Event already
// written (a merge patch) instead of creating a new one, so a reconcile loop
// reporting the same thing does not flood the namespace.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "kube/interface.h"
#include "kube/mutex.h"

namespace runtime {

struct EventRecorderOptions {
  std::string component;  // source.component, reportingComponent; default: the program's name
  std::string instance;   // reportingInstance (e.g. the pod name)
  std::size_t max_queued = 1000;      // beyond this, events are dropped (logged)
  std::size_t max_remembered = 4096;  // Events remembered for deduplication
};

// Threading: every member may be called from any thread.
class EventRecorder {
 public:
  explicit EventRecorder(kube::Interface& client, EventRecorderOptions options = {});
  // stop(5 s), unless stopped before.
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `involved_object` needs apiVersion, kind and metadata (name, namespace,
  // uid); `type` is "Normal" or "Warning".
  void event(const nlohmann::json& involved_object, std::string type, std::string reason,
             std::string message) noexcept;

  // Waits until everything recorded so far has been sent (or failed), up
  // to `timeout`; true when done.
  bool flush(std::chrono::milliseconds timeout);
  // Sends what is queued for up to `timeout`, then cancels the send in
  // flight, drops the rest (logged) and joins the sender: returns within
  // about `timeout` even when the API server does not answer. Events
  // recorded afterwards are dropped.
  void stop(std::chrono::milliseconds timeout);

 private:
  struct Pending {
    nlohmann::json involved;  // the involvedObject reference
    std::string type, reason, message;
  };
  struct Written {
    std::string name;  // the Event's name
    long long count = 0;
  };

  void run() EXCLUDES(mu_);
  void send(const Pending& pending) EXCLUDES(mu_);

  kube::Interface& client_;
  const EventRecorderOptions options_;

  kube::Mutex mu_;
  std::condition_variable changed_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  bool sending_ GUARDED_BY(mu_) = false;  // one taken off the queue, in flight
  bool stopping_ GUARDED_BY(mu_) = false;
  kube::CancelToken cancel_;  // cancelled by stop() after its flush: ends a send in flight
  // Dedup key -> Event written; touched by the sender thread only.
  std::map<std::string, Written> written_;
  std::thread thread_;
};

}  // namespace runtime
