// Shared by the kube integration tests: the cluster from KUBECONFIG (admin),
// a namespace of the test's own, and small helpers.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "kube/client.h"
#include "support/temp_dir.h"

namespace kube_it {

using test_support::TempDir;

// Runs a shell command and returns its stdout; throws if it fails.
inline std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string output;
  std::array<char, 4096> buffer;
  for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0;) {
    output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe.release());
  if (status != 0) throw std::runtime_error("failed (" + std::to_string(status) + "): " + command);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output;
}

inline std::string random_suffix() {
  std::mt19937 engine{std::random_device{}()};
  const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += alphabet[engine() % 36];
  return suffix;
}

// The admin configuration the local control plane (or any cluster) gives.
inline kube::Config admin_config() {
  if (std::getenv("KUBECONFIG") == nullptr) {
    throw std::runtime_error(
        "KUBECONFIG is not set: run scripts/local-cluster.sh up and "
        "eval \"$(scripts/local-cluster.sh env)\"");
  }
  // The operator's I/O thread count, so these tests run what it runs.
  static std::once_flag io_threads;
  std::call_once(io_threads, [] { kube::set_io_threads(kube::kDefaultIoThreads); });
  return kube::load_config();
}

// A uniquely named namespace for one test suite, deleted at its end.
class NamespaceSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config_ = std::make_unique<kube::Config>(admin_config());
    kube::ClientOptions options;
    options.qps = 0;  // tests create hundreds of objects; no client-side limit
    options.user_agent = "kube-it/0";
    options.field_manager = "kube-it";
    admin_ = std::make_unique<kube::Client>(*config_, options);
    ns_ = "kube-it-" + std::to_string(::getpid()) + "-" + random_suffix();
    admin_->create(kube::resources::namespaces, "",
                   {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
    // The controller manager adds kube-root-ca.crt to every new namespace when
    // it gets to it; wait, so no test sees it appear in the middle of a watch
    // or a count.
    const bool settled = eventually([] {
      try {
        admin_->get(kube::resources::configmaps, ns_, "kube-root-ca.crt");
        return true;
      } catch (const kube::ApiError& e) {
        if (!e.is_not_found()) throw;
        return false;
      }
    });
    if (!settled) throw std::runtime_error("no kube-root-ca.crt in " + ns_ + " after 30 s");
  }
  static void TearDownTestSuite() {
    if (admin_) admin_->remove(kube::resources::namespaces, "", ns_);
    admin_.reset();
    config_.reset();
  }

  static kube::Client& admin() { return *admin_; }
  static const kube::Config& config() { return *config_; }
  static const std::string& ns() { return ns_; }

  static kube::json configmap(const std::string& name,
                              const kube::json& data = kube::json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns_}}},
            {"data", data}};
  }

  // Waits until `condition` holds, up to `timeout`.
  template <typename F>
  static bool eventually(F condition, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return condition();
  }

  static inline std::unique_ptr<kube::Config> config_;
  static inline std::unique_ptr<kube::Client> admin_;
  static inline std::string ns_;
};

}  // namespace kube_it
