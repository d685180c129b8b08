// kube::Client — the operator's only door to the Kubernetes API server: the
// kube::Interface (interface.h) over HTTPS, with the kubeconfig's
// credentials, a client-side rate limit and retries of idempotent calls.
//
// Threading: a Client is safe to use from many threads at once; watches run on
// the calling thread and can be cancelled from any other thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kube/interface.h"

namespace kube {

// What happened on one HTTP request, for metrics (rest_client_requests_total,
// latency). Called after every request, from the requesting thread.
struct RequestInfo {
  std::string method;  // GET, POST, ...
  std::string verb;    // get, list, create, update, patch, apply, delete, watch
  std::string host;
  int code = 0;  // 0 = no HTTP answer (transport error)
  std::chrono::nanoseconds latency{};
};

struct ClientOptions {
  double qps = 20;                           // --kube-api-qps (token bucket refill per second)
  int burst = 30;                            // --kube-api-burst
  int max_retries = 5;                       // idempotent calls only: connection errors, 429, 5xx
  std::chrono::seconds max_retry_after{10};  // the longest Retry-After honoured (BackoffPolicy)
  // Every non-watch request: each attempt, from sending to the body's end.
  std::chrono::seconds request_timeout{30};
  // A watch with timeoutSeconds that the server has not ended this long
  // after it is cut (a half-open connection, a stalled server).
  std::chrono::seconds watch_end_grace{30};
  // Who calls, as the API server's audit log and managedFields show it.
  // Defaults: the program's name, as client-go defaults to os.Args[0].
  std::string user_agent;
  std::string field_manager;                           // for apply() whose ApplyOptions name none
  std::function<void(const RequestInfo&)> on_request;  // optional
};

// Threads cpprestsdk runs network I/O and completions on, for the whole
// process (clients and its HTTP listener alike). 0, the default: no pool; a
// thread waiting for an answer runs the I/O itself meanwhile, and a
// background thread runs it while no one waits (kube/io.h). One GET then
// costs one context switch instead of about nine, and ~10 % less time
// (bench/kube_get.sh). n > 0: a pool of n threads, as cpprestsdk runs by
// default (with 40). Call before the first Client or listener; afterwards it
// throws Error.
inline constexpr std::size_t kDefaultIoThreads = 0;
void set_io_threads(std::size_t threads);

// The defaults of its overrides repeat Interface's, so that calls through a
// Client and through an Interface read the same.
class Client : public Interface {
 public:
  explicit Client(Config config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // TLS connections opened so far (one handshake each). Sequential calls
  // reuse one or two (cpprestsdk pools a connection just after the answer,
  // so a call that follows at once may open a second); each open watch
  // holds one more.
  std::uint64_t connections_opened() const;

  const Config& config() const override;

  json get(const Resource& r, std::string_view ns, std::string_view name,
           std::string_view subresource = {}, const Context& ctx = {}) override;
  json list(const Resource& r, std::string_view ns, const ListOptions& options = {},
            const Context& ctx = {}) override;
  json create(const Resource& r, std::string_view ns, const json& object,
              std::string_view subresource = {}, const Context& ctx = {}) override;
  json replace(const Resource& r, std::string_view ns, std::string_view name, const json& object,
               std::string_view subresource = {}, const Context& ctx = {}) override;
  json merge_patch(const Resource& r, std::string_view ns, std::string_view name, const json& patch,
                   std::string_view subresource = {}, const Context& ctx = {},
                   const PatchOptions& options = {}) override;
  json apply(const Resource& r, std::string_view ns, std::string_view name, const json& object,
             const ApplyOptions& options = {}, std::string_view subresource = {},
             const Context& ctx = {}) override;
  void remove(const Resource& r, std::string_view ns, std::string_view name,
              const DeleteOptions& options = {}, const Context& ctx = {}) override;
  void evict(std::string_view ns, std::string_view pod, const DeleteOptions& options = {},
             const Context& ctx = {}) override;
  void watch(const Resource& r, std::string_view ns, const WatchOptions& options,
             const std::function<bool(WatchEvent&&)>& on_event, const Context& ctx = {}) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kube
