// Connection configuration, loaded the way client-go loads it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kube {

struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string interactive_mode;  // Never, IfAvailable, Always
  std::string install_hint{};    // shown when the command cannot be run
};

struct Config {
  std::string server;  // https://127.0.0.1:6443
  std::string ca_pem;  // certificate-authority(-data), PEM
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string client_cert_pem;
  std::string client_key_pem;  // never logged
  std::string token;           // static token; never logged
  std::string token_file;      // re-read periodically (projected tokens rotate)
  std::optional<ExecConfig> exec;
  std::string namespace_ = "default";  // the context's namespace
  std::string context;                 // the context used ("" in-cluster)
  std::string source;                  // where it came from, for messages
};

struct LoadOptions {
  std::string kubeconfig;  // --kubeconfig; else KUBECONFIG; else ~/.kube/config
  std::string context;     // --context; else current-context
  // Directory with token, ca.crt, namespace; default
  // /var/run/secrets/kubernetes.io/serviceaccount, or SRERACHA_SERVICEACCOUNT_DIR.
  std::string service_account_dir;
};

// Explicit kubeconfig > KUBECONFIG > in-cluster (KUBERNETES_SERVICE_HOST set)
// > ~/.kube/config, as controller-runtime's config.GetConfig does.
Config load_config(const LoadOptions& options = {});
Config load_kubeconfig(const std::vector<std::string>& files, const std::string& context);
Config load_in_cluster(const std::string& service_account_dir = {});

}  // namespace kube
