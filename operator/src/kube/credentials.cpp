#include "kube/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/errors.h"
#include "kube/meta.h"
#include "kube/tls.h"

extern char** environ;

namespace kube {

namespace {

const char* const kV1 = "client.authentication.k8s.io/v1";
const char* const kV1beta1 = "client.authentication.k8s.io/v1beta1";

std::string plugin_label(const ExecConfig& exec) { return "exec plugin " + exec.command; }

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("token file " + path + ": cannot read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) throw ConfigError("token file " + path + ": empty");
  return token;
}

// The environment the plugin runs with: ours, the kubeconfig's entries on
// top, and KUBERNETES_EXEC_INFO telling it we are not interactive.
std::vector<std::string> plugin_environment(const ExecConfig& exec) {
  std::vector<std::pair<std::string, std::string>> vars;
  auto set = [&vars](const std::string& name, const std::string& value) {
    for (auto& [n, v] : vars) {
      if (n == name) {
        v = value;
        return;
      }
    }
    vars.emplace_back(name, value);
  };
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    vars.emplace_back(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  // SSL_CERT_FILE is ours only for our connections (tls.h): the plugin gets
  // the value we were started with.
  std::erase_if(vars, [](const auto& var) { return var.first == "SSL_CERT_FILE"; });
  if (auto file = tls::original_cert_file()) vars.emplace_back("SSL_CERT_FILE", *file);
  for (const auto& [name, value] : exec.env) set(name, value);
  const nlohmann::json info = {{"apiVersion", exec.api_version},
                               {"kind", "ExecCredential"},
                               {"spec", {{"interactive", false}}}};
  set("KUBERNETES_EXEC_INFO", info.dump());
  std::vector<std::string> result;
  result.reserve(vars.size());
  for (const auto& [name, value] : vars) result.push_back(name + "=" + value);
  return result;
}

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

ExecCredential parse_exec_credential(std::string_view output, const ExecConfig& exec) {
  const auto label = plugin_label(exec);
  auto doc = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) throw ConfigError(label + ": output is not an ExecCredential JSON object");
  if (doc.value("kind", "") != "ExecCredential") {
    throw ConfigError(label + ": output has kind \"" + doc.value("kind", "") +
                      "\", want ExecCredential");
  }
  if (doc.value("apiVersion", "") != exec.api_version) {
    throw ConfigError(label + ": output has apiVersion \"" + doc.value("apiVersion", "") +
                      "\", want \"" + exec.api_version + "\"");
  }
  const auto status = doc.find("status");
  if (status == doc.end() || !status->is_object()) {
    throw ConfigError(label + ": output has no field status");
  }
  ExecCredential credential;
  credential.token = status->value("token", "");
  credential.client_cert_pem = status->value("clientCertificateData", "");
  credential.client_key_pem = status->value("clientKeyData", "");
  if (credential.client_cert_pem.empty() != credential.client_key_pem.empty()) {
    throw ConfigError(label + ": status has only one of clientCertificateData and clientKeyData");
  }
  if (credential.token.empty() && credential.client_cert_pem.empty()) {
    throw ConfigError(label + ": status has neither token nor clientCertificateData");
  }
  if (const auto expiry = status->value("expirationTimestamp", ""); !expiry.empty()) {
    credential.expiration = meta::parse_time(expiry);
    if (!credential.expiration) {
      throw ConfigError(label + ": status.expirationTimestamp \"" + expiry + "\" is not RFC 3339");
    }
  }
  return credential;
}

namespace {

// How a plugin run ended before the plugin did.
enum class Stop { kNone, kTimeout, kCancelled, kDeadline };

// Waits up to `until` for `pid` to exit, without reaping it: while the
// group leader is a zombie its group id cannot be reused, so what it started
// can still be killed by that id.
bool exited(pid_t pid, std::chrono::steady_clock::time_point until) {
  for (;;) {
    siginfo_t info{};
    const int result = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (result == 0 && info.si_pid == pid) return true;
    if (result < 0 && errno != EINTR) return true;  // nothing left to wait for
    if (std::chrono::steady_clock::now() >= until) return false;
    ::usleep(10'000);
  }
}

// SIGTERM to the plugin's process group (a script's children too), SIGKILL
// to what is left kExecKillGrace later (or at once when the plugin itself
// exited but left children behind), then reaps it. Returns what was done,
// for the error message.
std::string stop_plugin(pid_t pid) {
  ::kill(-pid, SIGTERM);
  const bool obeyed = exited(pid, std::chrono::steady_clock::now() + kExecKillGrace);
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return obeyed ? "stopped with SIGTERM"
                : "stopped with SIGTERM, then SIGKILL after " +
                      std::to_string(kExecKillGrace.count()) + " ms";
}

}  // namespace

ExecCredential run_exec_plugin(const ExecConfig& exec, std::chrono::milliseconds timeout,
                               const Context& ctx) {
  const auto label = plugin_label(exec);
  if (exec.interactive_mode == "Always") {
    throw ConfigError(label +
                      ": interactiveMode Always needs a terminal, and the operator has none");
  }
  ctx.check(label);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw ConfigError(label + ": pipe: " + std::strerror(errno));
  }
  Fd read_end{pipe_fds[0]};
  Fd write_end{pipe_fds[1]};
  // Written to by a cancel, so that poll() below wakes for it.
  int wake_fds[2];
  if (::pipe2(wake_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw ConfigError(label + ": pipe: " + std::strerror(errno));
  }
  Fd wake_read{wake_fds[0]};
  Fd wake_write{wake_fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  // Nothing else of ours (API connections, files) leaks into the plugin.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // A group of its own, so that stopping it stops what it started as well.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);

  std::vector<std::string> args{exec.command};
  args.insert(args.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  auto env = plugin_environment(exec);
  std::vector<char*> envp;
  for (auto& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int spawn_error =
      posix_spawnp(&pid, exec.command.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != 0) {
    throw ConfigError(label + ": cannot run: " + std::strerror(spawn_error) +
                      (exec.install_hint.empty() ? "" : "\n" + exec.install_hint));
  }
  ::close(write_end.fd);  // so that read() sees EOF when the plugin exits
  write_end.fd = -1;

  const auto callback_id = ctx.token().add_callback([fd = wake_write.fd] {
    const char byte = 'c';
    [[maybe_unused]] auto written = ::write(fd, &byte, 1);
  });
  // Read everything it prints, but never hang the operator on a stuck plugin.
  std::string output;
  const auto timeout_at = std::chrono::steady_clock::now() + timeout;
  const auto deadline = ctx.deadline() ? std::min(timeout_at, *ctx.deadline()) : timeout_at;
  Stop stop = Stop::kNone;
  for (;;) {
    if (ctx.cancelled()) {
      stop = Stop::kCancelled;
      break;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      stop = deadline < timeout_at ? Stop::kDeadline : Stop::kTimeout;
      break;
    }
    pollfd fds[2] = {{read_end.fd, POLLIN, 0}, {wake_read.fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0 || (fds[0].revents == 0)) continue;  // looked at again above
    char buffer[4096];
    const ssize_t n = ::read(read_end.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ctx.token().remove_callback(callback_id);
  // Its stdout closed (or poll failed), but a plugin may still run: wait for
  // it only until the deadline, as for its answer.
  if (stop == Stop::kNone && !exited(pid, deadline)) {
    stop = deadline < timeout_at ? Stop::kDeadline : Stop::kTimeout;
  }
  if (stop != Stop::kNone) {
    const auto how = stop_plugin(pid);
    if (stop == Stop::kTimeout) {
      throw ConfigError(label + ": no answer within " + std::to_string(timeout.count()) + " ms; " +
                        how);
    }
    throw Cancelled(stop == Stop::kDeadline, label + ": " + how);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw ConfigError(label + ": failed (" +
                      (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                         : "killed by signal " + std::to_string(WTERMSIG(status))) +
                      ")");
  }
  return parse_exec_credential(output, exec);
}

Credentials::Credentials(const Config& config)
    : static_token_(config.token), token_file_(config.token_file), exec_(config.exec) {
  if (exec_ && exec_->api_version != kV1 && exec_->api_version != kV1beta1) {
    throw ConfigError(plugin_label(*exec_) + ": apiVersion \"" + exec_->api_version +
                      "\" is not supported (want " + kV1 + " or " + kV1beta1 + ")");
  }
}

void Credentials::refresh(const Context& ctx, Clock::time_point now) {
  if (cached_ && now < valid_until_) return;
  if (exec_) {
    auto credential = run_exec_plugin(*exec_, kExecTimeout, ctx);
    token_ = std::move(credential.token);
    cert_pem_ = std::move(credential.client_cert_pem);
    key_pem_ = std::move(credential.client_key_pem);
    valid_until_ =
        credential.expiration ? *credential.expiration - kExpirySkew : Clock::time_point::max();
  } else if (!token_file_.empty()) {
    token_ = read_token_file(token_file_);
    valid_until_ = now + kTokenFileRefresh;
  } else {
    token_ = static_token_;
    valid_until_ = Clock::time_point::max();
  }
  cached_ = true;
}

std::string Credentials::authorization(const Context& ctx, Clock::time_point now) {
  if (!exec_ && token_file_.empty() && static_token_.empty()) return {};
  MutexLock lock(mu_);
  refresh(ctx, now);
  return token_.empty() ? std::string() : "Bearer " + token_;
}

std::pair<std::string, std::string> Credentials::exec_client_certificate() {
  MutexLock lock(mu_);
  return {cert_pem_, key_pem_};
}

bool Credentials::invalidate() {
  MutexLock lock(mu_);
  cached_ = false;
  return exec_.has_value() || !token_file_.empty();
}

}  // namespace kube
