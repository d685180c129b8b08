// Where the Authorization header comes from: a static token, a token file
// (projected service-account tokens rotate), or an exec credential plugin
// (client.authentication.k8s.io, e.g. `aws eks get-token`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kube/config.h"
#include "kube/context.h"
#include "kube/mutex.h"

namespace kube {

// What an exec plugin printed (ExecCredential.status).
struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::optional<std::chrono::system_clock::time_point> expiration;  // none = until a 401
};

// Parses a plugin's stdout; it must be an ExecCredential of the configured
// apiVersion with a token or a client certificate and key. Throws ConfigError.
ExecCredential parse_exec_credential(std::string_view output, const ExecConfig& exec);

// Runs the plugin with KUBERNETES_EXEC_INFO set, stdin from /dev/null (the
// operator is never interactive) and stderr passed through, and parses what
// it prints. Throws ConfigError when it cannot run, fails or prints garbage.
//
// It runs in a process group of its own. If it has not finished within
// `timeout`, or `ctx` is cancelled or its deadline comes first, the group
// gets SIGTERM, and SIGKILL kExecKillGrace later if it is still there; the
// error (ConfigError for the timeout, Cancelled for the context) says so.
inline constexpr std::chrono::milliseconds kExecKillGrace{2000};
ExecCredential run_exec_plugin(const ExecConfig& exec,
                               std::chrono::milliseconds timeout = std::chrono::seconds(60),
                               const Context& ctx = {});

// The credentials of one Client. Static tokens never change; a token file is
// re-read every minute; an exec credential is kept until 10 s before its
// expirationTimestamp. After a 401 the caller invalidates and retries once.
//
// Threading: safe to use from many threads; the plugin runs under the lock,
// so concurrent requests wait for one run instead of starting several.
class Credentials {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr std::chrono::seconds kTokenFileRefresh{60};
  static constexpr std::chrono::seconds kExpirySkew{10};
  // How long a plugin may take (client-go sets none; `aws eks get-token`
  // answers in about a second). Each call's Context may end it sooner.
  static constexpr std::chrono::seconds kExecTimeout{60};

  explicit Credentials(const Config& config);

  // "Bearer <token>", or "" when the user authenticates by certificate only.
  // `ctx` bounds an exec plugin's run (besides its own timeout).
  std::string authorization(const Context& ctx, Clock::time_point now = Clock::now());
  std::string authorization(Clock::time_point now = Clock::now()) {
    return authorization(Context{}, now);
  }
  // The client certificate and key the exec plugin gave last ("" if none).
  std::pair<std::string, std::string> exec_client_certificate();
  // Forgets cached credentials after a 401. Returns whether fetching them
  // again can give something new (a file or a plugin), i.e. a retry makes sense.
  bool invalidate();

 private:
  void refresh(const Context& ctx, Clock::time_point now) REQUIRES(mu_);

  const std::string static_token_;
  const std::string token_file_;
  const std::optional<ExecConfig> exec_;

  Mutex mu_;
  bool cached_ GUARDED_BY(mu_) = false;
  std::string token_ GUARDED_BY(mu_);
  std::string cert_pem_ GUARDED_BY(mu_);
  std::string key_pem_ GUARDED_BY(mu_);
  Clock::time_point valid_until_ GUARDED_BY(mu_);
};

}  // namespace kube
