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

ExecCredential run_exec_plugin(const ExecConfig& exec, std::chrono::seconds timeout) {
  const auto label = plugin_label(exec);
  if (exec.interactive_mode == "Always") {
    throw ConfigError(label +
                      ": interactiveMode Always needs a terminal, and the operator has none");
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw ConfigError(label + ": pipe: " + std::strerror(errno));
  }
  Fd read_end{pipe_fds[0]};
  Fd write_end{pipe_fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  // Nothing else of ours (API connections, files) leaks into the plugin.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

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
      posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    throw ConfigError(label + ": cannot run: " + std::strerror(spawn_error) +
                      (exec.install_hint.empty() ? "" : "\n" + exec.install_hint));
  }
  ::close(write_end.fd);  // so that read() sees EOF when the plugin exits
  write_end.fd = -1;

  // Read everything it prints, but never hang the operator on a stuck plugin.
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{read_end.fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    char buffer[4096];
    const ssize_t n = ::read(read_end.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    throw ConfigError(label + ": no answer within " + std::to_string(timeout.count()) + " s");
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

void Credentials::refresh(Clock::time_point now) {
  if (cached_ && now < valid_until_) return;
  if (exec_) {
    auto credential = run_exec_plugin(*exec_);
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

std::string Credentials::authorization(Clock::time_point now) {
  if (!exec_ && token_file_.empty() && static_token_.empty()) return {};
  MutexLock lock(mu_);
  refresh(now);
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
