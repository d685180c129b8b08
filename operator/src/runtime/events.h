// EventRecorder: core/v1 Events about the objects we manage ("kubectl
// describe" shows them), as client-go's recorder writes them.
//
// event() never throws and never blocks on the API: events are queued and
// sent by a background thread; failures are logged. As client-go's
// correlator aggregates them, there is one Event per (object, type, reason):
// a later one bumps its count and lastTimestamp and, when its message
// differs, replaces the message, marked "(combined from similar events): "
// (a merge patch, not a new Event). Events still queued for the same key are
// folded into one request, and the sender keeps to its own token bucket
// (default 5/s, burst 25), so a burst of events costs a few requests and
// never takes the client's rate limit from the reconciles.
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
#include "kube/rate_limiter.h"

namespace runtime {

struct EventRecorderOptions {
  std::string component;  // source.component, reportingComponent; default: the program's name
  std::string instance;   // reportingInstance (e.g. the pod name)
  std::size_t max_queued = 1000;      // beyond this, events are dropped (logged)
  std::size_t max_remembered = 4096;  // Events remembered for deduplication
  double qps = 5;                     // requests per second the sender may use; <= 0: no limit
  int burst = 25;
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
    std::string key;        // namespace/name/uid/type/reason
    long long count = 1;    // occurrences folded into this one
    bool combined = false;  // folded from events with other messages
  };
  struct Written {
    std::string name;  // the Event's name
    long long count = 0;
    std::string message;
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
  kube::TokenBucket bucket_;
  // Dedup key -> Event written; touched by the sender thread only.
  std::map<std::string, Written> written_;
  std::thread thread_;
};

}  // namespace runtime
