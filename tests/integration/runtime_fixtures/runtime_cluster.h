// Shared by the runtime integration tests: the cluster from KUBECONFIG, a
// namespace per test, child processes, and small HTTP and polling helpers.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <cpprest/http_client.h>

#include "../kube_fixtures/test_cluster.h"
#include "kube/client.h"

namespace runtime_it {

using nlohmann::json;
using namespace std::chrono_literals;

// run(), random_suffix() and admin_config() are the kube tests' own.
using kube_it::admin_config;
using kube_it::random_suffix;
using kube_it::run;
using test_support::TempDir;

// Polls `condition` every 20 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

inline json configmap(const std::string& ns, const std::string& name,
                      const json& data = json::object(), const json& labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"data", data}};
}

// A namespace of the test's own, deleted (without waiting) at its end.
class TestNamespace {
 public:
  TestNamespace(kube::Client& client, const std::string& prefix)
      : client_(client), name_(prefix + "-" + random_suffix()) {
    client_.create(kube::resources::namespaces, "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name_}}}});
  }
  ~TestNamespace() {
    try {
      client_.remove(kube::resources::namespaces, "", name_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cannot delete namespace %s: %s\n", name_.c_str(), e.what());
    }
  }
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
  const std::string& name() const { return name_; }

 private:
  kube::Client& client_;
  std::string name_;
};

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

inline HttpAnswer http_get(const std::string& address, const std::string& path) {
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client("http://" + address, config);
    auto response = client.request(web::http::methods::GET, path).get();
    return {response.status_code(), response.extract_utf8string(true).get()};
  } catch (const std::exception&) {
    return {};
  }
}

// The value of one series in a /metrics text, e.g.
// metric(text, "leader_election_master_status{name=\"x\"}"); -1 when absent.
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// A child process, SIGKILLed at destruction if still running. stdout and
// stderr go to `log_file`.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_file) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  bool running() {
    if (exited_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
    }
    return !exited_;
  }
  // Waits for the exit; returns the exit code (128 + signal when killed).
  int wait() {
    if (!exited_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exited_ = true;
      status_ = status;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }
  // Waits up to `timeout`; the exit code, or -1 if still running.
  int wait_for(std::chrono::milliseconds timeout) {
    if (!eventually([this] { return !running(); }, timeout)) return -1;
    return wait();
  }
  // Resident memory in bytes (VmRSS), 0 when unknown.
  long rss_bytes() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

inline std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace runtime_it
