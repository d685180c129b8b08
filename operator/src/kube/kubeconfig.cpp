// Loading a Config the way client-go's clientcmd and rest.InClusterConfig do.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <cpprest/asyncrt_utils.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "kube/config.h"
#include "kube/errors.h"

namespace kube {

namespace {

namespace fs = std::filesystem;

const char* const kDefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// Reads a whole file; `what` names it in the error ("kubeconfig x: cluster
// \"c\": certificate-authority").
std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(what + " " + path + ": cannot read: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// One named cluster, user or context, and the file that defined it (relative
// paths inside it are relative to that file's directory, as in client-go).
struct Entry {
  YAML::Node body;
  std::string file;
};

struct Kubeconfig {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::string current_context_file;
  std::vector<std::string> files;  // the files actually read, in order
};

// Adds the entries of one list ("clusters", each {name, cluster}) unless an
// earlier file already defined the name: the first file wins.
void merge_list(const YAML::Node& root, const std::string& list, const std::string& body_key,
                const std::string& file, std::map<std::string, Entry>& into) {
  const YAML::Node node = root[list];
  if (!node || node.IsNull()) return;
  const std::string where = "kubeconfig " + file + ": ";
  if (!node.IsSequence()) throw ConfigError(where + "field " + list + " must be a list");
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string at = list + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) throw ConfigError(where + at + " must be a map");
    const YAML::Node name = item["name"];
    if (!name || !name.IsScalar() || name.Scalar().empty()) {
      throw ConfigError(where + at + ": field name is missing");
    }
    const YAML::Node body = item[body_key];
    if (!body || !body.IsMap()) {
      throw ConfigError(where + body_key + " \"" + name.Scalar() + "\": field " + body_key +
                        " is missing");
    }
    into.try_emplace(name.Scalar(), Entry{body, file});
  }
}

Kubeconfig read_kubeconfigs(const std::vector<std::string>& files) {
  Kubeconfig merged;
  std::vector<std::string> missing;
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {  // client-go skips missing entries of KUBECONFIG
      missing.push_back(file);
      continue;
    }
    YAML::Node root;
    try {
      root = YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
      throw ConfigError("kubeconfig " + file + ": cannot read: " + std::strerror(errno));
    } catch (const YAML::Exception& e) {
      throw ConfigError("kubeconfig " + file + ": malformed YAML at line " +
                        std::to_string(e.mark.line + 1) + ", column " +
                        std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    merged.files.push_back(file);
    if (root.IsNull()) continue;  // an empty file is an empty config
    if (!root.IsMap()) {
      throw ConfigError("kubeconfig " + file +
                        ": not a kubeconfig (want a map with clusters, users, contexts)");
    }
    merge_list(root, "clusters", "cluster", file, merged.clusters);
    merge_list(root, "users", "user", file, merged.users);
    merge_list(root, "contexts", "context", file, merged.contexts);
    if (const YAML::Node current = root["current-context"]; merged.current_context.empty() &&
                                                            current && current.IsScalar() &&
                                                            !current.Scalar().empty()) {
      merged.current_context = current.Scalar();
      merged.current_context_file = file;
    }
  }
  if (merged.files.empty()) {
    std::string list;
    for (const auto& file : missing) list += (list.empty() ? "" : ", ") + file;
    throw ConfigError("kubeconfig " + list + ": cannot read: " + std::strerror(ENOENT));
  }
  return merged;
}

// Typed access to an entry's fields; errors name the file, the entry and the
// field.
class Fields {
 public:
  Fields(const Entry& entry, std::string kind, const std::string& name)
      : entry_(entry), where_("kubeconfig " + entry.file + ": " + kind + " \"" + name + "\"") {}

  const std::string& where() const { return where_; }

  std::string string(const std::string& field) const {
    const YAML::Node node = entry_.body[field];
    if (!node || node.IsNull()) return {};
    if (!node.IsScalar()) throw error(field, "must be a string");
    return node.Scalar();
  }

  std::string required(const std::string& field) const {
    auto value = string(field);
    if (value.empty()) throw error(field, "is missing");
    return value;
  }

  bool boolean(const std::string& field) const {
    const YAML::Node node = entry_.body[field];
    if (!node || node.IsNull()) return false;
    try {
      return node.as<bool>();
    } catch (const YAML::Exception&) {
      throw error(field, "must be true or false");
    }
  }

  // A path, made absolute against the kubeconfig's directory.
  std::string path(const std::string& field) const {
    auto value = string(field);
    if (value.empty() || fs::path(value).is_absolute()) return value;
    return (fs::path(entry_.file).parent_path() / value).lexically_normal().string();
  }

  // <field>-data (base64) if set, else the file named by <field>, else "".
  std::string data_or_file(const std::string& field) const {
    if (auto data = string(field + "-data"); !data.empty()) {
      std::erase_if(data, [](unsigned char c) { return std::isspace(c) != 0; });
      try {
        const auto bytes = utility::conversions::from_base64(data);
        return std::string(bytes.begin(), bytes.end());
      } catch (const std::exception&) {
        throw error(field + "-data", "is not valid base64");
      }
    }
    if (auto file = path(field); !file.empty()) return read_file(file, where_ + ": " + field);
    return {};
  }

  ConfigError error(const std::string& field, const std::string& problem) const {
    return ConfigError(where_ + ": field " + field + " " + problem);
  }

  const YAML::Node node(const std::string& field) const { return entry_.body[field]; }
  const std::string& file() const { return entry_.file; }

 private:
  const Entry& entry_;
  std::string where_;
};

ExecConfig parse_exec(const Fields& user) {
  const YAML::Node node = user.node("exec");
  if (!node.IsMap()) throw user.error("exec", "must be a map");
  auto field = [&](const char* key) -> std::string {
    const YAML::Node value = node[key];
    if (!value || value.IsNull()) return {};
    if (!value.IsScalar()) throw user.error(std::string("exec.") + key, "must be a string");
    return value.Scalar();
  };
  ExecConfig exec;
  exec.api_version = field("apiVersion");
  if (exec.api_version.empty()) throw user.error("exec.apiVersion", "is missing");
  if (exec.api_version != "client.authentication.k8s.io/v1" &&
      exec.api_version != "client.authentication.k8s.io/v1beta1") {
    throw user.error("exec.apiVersion", "\"" + exec.api_version +
                                            "\" is not supported (want "
                                            "client.authentication.k8s.io/v1 or v1beta1)");
  }
  exec.command = field("command");
  if (exec.command.empty()) throw user.error("exec.command", "is missing");
  // A relative command with a slash is relative to the kubeconfig's directory
  // (client-go's rule); a bare name is looked up in PATH.
  if (exec.command.find('/') != std::string::npos && !fs::path(exec.command).is_absolute()) {
    exec.command = (fs::path(user.file()).parent_path() / exec.command).lexically_normal().string();
  }
  if (const YAML::Node args = node["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) throw user.error("exec.args", "must be a list of strings");
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        throw user.error("exec.args[" + std::to_string(i) + "]", "must be a string");
      }
      exec.args.push_back(args[i].Scalar());
    }
  }
  if (const YAML::Node vars = node["env"]; vars && !vars.IsNull()) {
    if (!vars.IsSequence()) throw user.error("exec.env", "must be a list of {name, value}");
    for (std::size_t i = 0; i < vars.size(); ++i) {
      // Subscripting a scalar throws in yaml-cpp.
      if (!vars[i].IsMap())
        throw user.error("exec.env[" + std::to_string(i) + "].name", "is missing");
      const YAML::Node name = vars[i]["name"];
      if (!name || !name.IsScalar() || name.Scalar().empty()) {
        throw user.error("exec.env[" + std::to_string(i) + "].name", "is missing");
      }
      const YAML::Node value = vars[i]["value"];
      exec.env.emplace_back(name.Scalar(), value && value.IsScalar() ? value.Scalar() : "");
    }
  }
  exec.install_hint = field("installHint");
  exec.interactive_mode = field("interactiveMode");
  if (exec.interactive_mode.empty()) {
    // v1 made the field mandatory; v1beta1 defaults to IfAvailable.
    if (exec.api_version == "client.authentication.k8s.io/v1") {
      throw user.error("exec.interactiveMode", "is missing (required by " + exec.api_version + ")");
    }
    exec.interactive_mode = "IfAvailable";
  }
  if (exec.interactive_mode != "Never" && exec.interactive_mode != "IfAvailable" &&
      exec.interactive_mode != "Always") {
    throw user.error("exec.interactiveMode",
                     "\"" + exec.interactive_mode + "\" is not Never, IfAvailable or Always");
  }
  return exec;
}

std::string describe_files(const std::vector<std::string>& files) {
  std::string text;
  for (const auto& file : files) text += (text.empty() ? "" : ":") + file;
  return text;
}

}  // namespace

Config load_kubeconfig(const std::vector<std::string>& files, const std::string& context) {
  const Kubeconfig merged = read_kubeconfigs(files);
  const std::string all = "kubeconfig " + describe_files(merged.files);

  const std::string context_name = context.empty() ? merged.current_context : context;
  if (context_name.empty()) {
    throw ConfigError(all + ": field current-context is not set and no --context was given");
  }
  const auto ctx_it = merged.contexts.find(context_name);
  if (ctx_it == merged.contexts.end()) {
    throw ConfigError((context.empty() ? "kubeconfig " + merged.current_context_file : all) +
                      ": context \"" + context_name + "\" not found");
  }
  const Fields ctx(ctx_it->second, "context", context_name);

  Config config;
  config.context = context_name;
  config.source = ctx.file();
  config.namespace_ = ctx.string("namespace");
  if (config.namespace_.empty()) config.namespace_ = "default";

  const std::string cluster_name = ctx.required("cluster");
  const auto cluster_it = merged.clusters.find(cluster_name);
  if (cluster_it == merged.clusters.end()) {
    throw ConfigError(ctx.where() + ": cluster \"" + cluster_name + "\" not found");
  }
  const Fields cluster(cluster_it->second, "cluster", cluster_name);
  config.server = cluster.required("server");
  config.ca_pem = cluster.data_or_file("certificate-authority");
  config.insecure_skip_tls_verify = cluster.boolean("insecure-skip-tls-verify");
  config.tls_server_name = cluster.string("tls-server-name");
  if (config.insecure_skip_tls_verify) {
    spdlog::warn(
        "{}: insecure-skip-tls-verify is set: the API server's certificate is NOT verified; "
        "anyone on the path can read and change what the operator sends",
        cluster.where());
  }

  // A context without a user is valid: anonymous requests.
  if (const std::string user_name = ctx.string("user"); !user_name.empty()) {
    const auto user_it = merged.users.find(user_name);
    if (user_it == merged.users.end()) {
      throw ConfigError(ctx.where() + ": user \"" + user_name + "\" not found");
    }
    const Fields user(user_it->second, "user", user_name);
    if (user.node("auth-provider")) {
      throw user.error("auth-provider",
                       "is not supported (auth-provider plugins were removed from client-go; "
                       "use an exec plugin)");
    }
    config.token = user.string("token");
    // kubeconfig documents that token wins over tokenFile when both are set.
    if (config.token.empty()) {
      config.token_file = user.path("tokenFile");
      if (!config.token_file.empty()) read_file(config.token_file, user.where() + ": tokenFile");
    }
    config.client_cert_pem = user.data_or_file("client-certificate");
    config.client_key_pem = user.data_or_file("client-key");
    if (!config.client_cert_pem.empty() && config.client_key_pem.empty()) {
      throw user.error("client-key", "is missing (client-certificate is set)");
    }
    if (config.client_cert_pem.empty() && !config.client_key_pem.empty()) {
      throw user.error("client-certificate", "is missing (client-key is set)");
    }
    if (user.node("exec") && !user.node("exec").IsNull()) config.exec = parse_exec(user);
  }
  return config;
}

Config load_in_cluster(const std::string& service_account_dir) {
  std::string dir = service_account_dir;
  if (dir.empty()) dir = env("SRERACHA_SERVICEACCOUNT_DIR");
  if (dir.empty()) dir = kDefaultServiceAccountDir;
  const std::string host = env("KUBERNETES_SERVICE_HOST");
  const std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    throw ConfigError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  Config config;
  // An IPv6 service address needs brackets in a URL.
  config.server =
      "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  config.token_file = (fs::path(dir) / "token").string();
  if (trim(read_file(config.token_file, "in-cluster config: token")).empty()) {
    throw ConfigError("in-cluster config: token " + config.token_file + ": empty");
  }
  config.ca_pem = read_file((fs::path(dir) / "ca.crt").string(), "in-cluster config: ca.crt");
  const auto ns_file = fs::path(dir) / "namespace";
  std::error_code ec;
  if (fs::exists(ns_file, ec)) {
    config.namespace_ = trim(read_file(ns_file.string(), "in-cluster config: namespace"));
  }
  if (config.namespace_.empty()) config.namespace_ = "default";
  config.source = "in-cluster (" + dir + ")";
  return config;
}

Config load_config(const LoadOptions& options) {
  if (!options.kubeconfig.empty()) {
    std::error_code ec;
    if (!fs::exists(options.kubeconfig, ec)) {
      throw ConfigError("kubeconfig " + options.kubeconfig +
                        ": cannot read: " + std::strerror(ENOENT));
    }
    return load_kubeconfig({options.kubeconfig}, options.context);
  }
  if (const std::string list = env("KUBECONFIG"); !list.empty()) {
    std::vector<std::string> files;
    std::stringstream parts(list);
    for (std::string file; std::getline(parts, file, ':');) {
      if (!file.empty()) files.push_back(file);
    }
    if (!files.empty()) return load_kubeconfig(files, options.context);
  }
  if (!env("KUBERNETES_SERVICE_HOST").empty()) return load_in_cluster(options.service_account_dir);
  const std::string home = env("HOME");
  const std::string default_file = (fs::path(home) / ".kube" / "config").string();
  std::error_code ec;
  if (home.empty() || !fs::exists(default_file, ec)) {
    throw ConfigError(
        "no cluster configuration: --kubeconfig not given, KUBECONFIG not set, not in a cluster "
        "(KUBERNETES_SERVICE_HOST not set), and " +
        default_file + " does not exist");
  }
  return load_kubeconfig({default_file}, options.context);
}

}  // namespace kube
