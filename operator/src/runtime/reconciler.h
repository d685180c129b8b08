// The user-facing contract of the runtime: one entry point, called with the
// key of an object that may need work. Everything else (watches, queues,
// retries, leader election) is wiring the reconciler never sees.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "kube/context.h"

namespace runtime {

// Names the object to reconcile. The reconciler reads its current state from
// the caches; the request carries no event, so reconciling is level-based.
struct Request {
  std::string ns;  // empty for cluster-scoped objects
  std::string name;

  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  // The inverse of key(): "ns/name" or "name".
  static Request from_key(const std::string& key);

  friend bool operator==(const Request&, const Request&) = default;
};

inline Request Request::from_key(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return Request{{}, key};
  return Request{key.substr(0, slash), key.substr(slash + 1)};
}

// What to do after a reconcile that did not throw. A throw means "failed,
// retry with per-key back-off"; requeue_after means "fine for now, look again
// then" (e.g. the next staggered pod recycle).
struct Result {
  std::optional<std::chrono::milliseconds> requeue_after;
};

class Reconciler {
 public:
  virtual ~Reconciler() = default;
  // Called from worker threads, never concurrently for the same request.
  // `ctx` ends when the controller stops (or the reconcile times out): pass
  // it to every API call, so that shutdown does not wait on them.
  virtual Result reconcile(const Request& request, const kube::Context& ctx) = 0;
};

}  // namespace runtime
