// The Redis check behind RedisReady in modes External and Endpoints: it
// talks to Redis the way the app does (resolve, connect, TLS verifying the
// server's name, AUTH, PING) and asks ROLE, because a replica (an ElastiCache
// reader endpoint) answers PING but refuses the app's writes.
//
// check() is one blocking check; RedisChecker runs them on a thread of its
// own, on a period with back-off, so no reconcile waits for a network. The
// reconciler reads the last result and is woken when it changes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/mutex.h"

namespace sreracha::redis_check {

// The condition reasons a check ends with.
inline constexpr const char* kReady = "Ready";
inline constexpr const char* kUnreachable = "Unreachable";
inline constexpr const char* kAuthFailed = "AuthFailed";
inline constexpr const char* kTlsFailed = "TLSFailed";
inline constexpr const char* kReadOnlyReplica = "ReadOnlyReplica";
inline constexpr const char* kRedisError = "RedisError";  // an answer that is not PONG

// Where Redis is and how the app reaches it.
struct Target {
  std::vector<std::string> hosts;  // External: the host; Endpoints: the addresses
  int port = 6379;
  bool tls = false;
  std::string server_name;  // TLS: the name the certificate must carry
  std::string password;     // empty: no AUTH. Never in a message or a log.
  // What may name the password in messages ("Secret ns/auth, key password").
  std::string password_source;
  bool operator==(const Target&) const = default;
};

struct Result {
  bool ok = false;
  std::string reason;   // one of the k* above
  std::string message;  // for the condition: stable while nothing changes
  bool operator==(const Result&) const = default;
};

struct CheckOptions {
  std::chrono::milliseconds timeout{5000};  // per address: connect through ROLE
  std::string ca_file;                      // TLS trust; empty: the system's CAs
};

// Checks every host of `target` (the app may be sent to any); the first
// that fails decides the result.
Result check(const Target& target, const CheckOptions& options = {});

// Decodes a Secret's base64 data; nullopt when it is not base64.
std::optional<std::string> decode_base64(std::string_view text);

struct CheckerOptions {
  CheckOptions check;
  std::chrono::milliseconds period{60000};      // between checks that passed
  std::chrono::milliseconds min_backoff{5000};  // after the first failure, doubling
  std::chrono::milliseconds max_backoff{300000};
};

// Threading: every member from any thread; on_change runs on the checker's.
class RedisChecker {
 public:
  using Clock = std::chrono::steady_clock;

  // on_change(key) is called when the result for key changes (its first
  // result too): the reconciler's queue, so the key is reconciled again.
  RedisChecker(CheckerOptions options, std::function<void(const std::string& key)> on_change);
  ~RedisChecker();
  RedisChecker(const RedisChecker&) = delete;
  RedisChecker& operator=(const RedisChecker&) = delete;

  // The last result for `target` under `key`, and keeps it checked. A new
  // target (another host, a new password) is checked at once; nullopt until
  // its first check ends.
  std::optional<Result> observe(const std::string& key, const Target& target);
  // Stops checking for `key` (its Sreracha is gone or no longer External).
  void forget(const std::string& key);

 private:
  struct Entry {
    Target target;
    std::optional<Result> last;
    Clock::time_point due;
    std::chrono::milliseconds backoff{0};
    std::uint64_t generation = 0;  // bumped by a new target: a check in flight is dropped
  };
  void run();

  const CheckerOptions options_;
  const std::function<void(const std::string&)> on_change_;
  kube::Mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Entry> entries_ GUARDED_BY(mu_);
  std::uint64_t generations_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sreracha::redis_check
