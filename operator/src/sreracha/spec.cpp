#include "sreracha/spec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>

#include "runtime/children.h"

namespace sreracha {

using json = nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += sep;
    out += part;
  }
  return out;
}

[[noreturn]] void fail(const std::string& path, std::string_view what) {
  throw SpecError({path + ": " + std::string(what)});
}

// A field of a JSON object being read, with its JSON path for messages.
// Absent and null mean the same: the API server prunes nulls, files may not.
class Field {
 public:
  Field(const json& object, std::string parent, const char* key)
      : path_(parent.empty() ? key : parent + "." + key) {
    auto it = object.find(key);
    if (it != object.end() && !it->is_null()) value_ = &*it;
  }

  bool present() const { return value_ != nullptr; }
  const std::string& path() const { return path_; }

  std::string str(std::string fallback = "") const {
    if (!value_) return fallback;
    if (!value_->is_string()) fail(path_, "must be a string");
    return value_->get<std::string>();
  }

  int64_t int64(int64_t fallback) const {
    if (!value_) return fallback;
    if (!value_->is_number_integer()) fail(path_, "must be an integer");
    if (value_->is_number_unsigned() &&
        value_->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      fail(path_, "is out of range");
    }
    return value_->get<int64_t>();
  }

  // Ints are range-checked here only against what an int holds; the CRD's
  // bounds are validate()'s job, with friendlier messages.
  int integer(int fallback) const {
    int64_t v = int64(fallback);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
      fail(path_, "is out of range");
    }
    return int(v);
  }

  bool boolean(bool fallback) const {
    if (!value_) return fallback;
    if (!value_->is_boolean()) fail(path_, "must be true or false");
    return value_->get<bool>();
  }

  // An object whose fields we read one by one; an empty object when absent.
  const json& object() const {
    static const json empty = json::object();
    if (!value_) return empty;
    if (!value_->is_object()) fail(path_, "must be an object");
    return *value_;
  }

  const json& array() const {
    static const json empty = json::array();
    if (!value_) return empty;
    if (!value_->is_array()) fail(path_, "must be a list");
    return *value_;
  }

  std::map<std::string, std::string> string_map() const {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : object().items()) {
      if (!v.is_string()) fail(path_ + "." + k, "must be a string");
      out[k] = v.get<std::string>();
    }
    return out;
  }

  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    const json& items = array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) fail(path_ + "[" + std::to_string(i) + "]", "must be a string");
      out.push_back(items[i].get<std::string>());
    }
    return out;
  }

  // Pass-through Kubernetes types (resources, affinity, ...) stay JSON.
  json raw_object(json fallback) const { return value_ ? json(object()) : std::move(fallback); }
  json raw_array() const { return array(); }

 private:
  std::string path_;
  const json* value_ = nullptr;
};

// Typos must not pass silently: the API server would prune an unknown field
// (and kubectl warn), but `render` reads files with no such safety net.
void reject_unknown(const json& object, const std::string& path,
                    std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      fail(path.empty() ? key : path + "." + key, "unknown field");
    }
  }
}

ProbeSpec parse_probe(const Field& field) {
  const json& o = field.object();
  const std::string& p = field.path();
  reject_unknown(o, p,
                 {"path", "periodSeconds", "timeoutSeconds", "failureThreshold",
                  "initialDelaySeconds", "startupFailureThreshold"});
  ProbeSpec probe;
  probe.path = Field(o, p, "path").str(probe.path);
  probe.period_seconds = Field(o, p, "periodSeconds").integer(probe.period_seconds);
  probe.timeout_seconds = Field(o, p, "timeoutSeconds").integer(probe.timeout_seconds);
  probe.failure_threshold = Field(o, p, "failureThreshold").integer(probe.failure_threshold);
  probe.initial_delay_seconds =
      Field(o, p, "initialDelaySeconds").integer(probe.initial_delay_seconds);
  probe.startup_failure_threshold =
      Field(o, p, "startupFailureThreshold").integer(probe.startup_failure_threshold);
  return probe;
}

RedisMode parse_mode(const Field& field) {
  std::string mode = field.str("Local");
  if (mode == "Local") return RedisMode::Local;
  if (mode == "External") return RedisMode::External;
  if (mode == "Endpoints") return RedisMode::Endpoints;
  fail(field.path(), "must be one of Local, External, Endpoints");
}

RedisSpec parse_redis(const Field& field) {
  const json& o = field.object();
  const std::string& p = field.path();
  reject_unknown(
      o, p,
      {"mode", "host", "port", "addresses", "tls", "tlsServerName", "authSecretRef", "local"});
  RedisSpec redis;
  redis.mode = parse_mode(Field(o, p, "mode"));
  redis.host = Field(o, p, "host").str();
  redis.port = Field(o, p, "port").integer(redis.port);
  redis.addresses = Field(o, p, "addresses").strings();
  redis.tls = Field(o, p, "tls").boolean(false);
  redis.tls_server_name = Field(o, p, "tlsServerName").str();

  Field auth(o, p, "authSecretRef");
  if (auth.present()) {
    const json& a = auth.object();
    reject_unknown(a, auth.path(), {"name", "key"});
    SecretKeyRef ref;
    ref.name = Field(a, auth.path(), "name").str();
    ref.key = Field(a, auth.path(), "key").str(ref.key);
    redis.auth_secret_ref = ref;
  }

  Field local(o, p, "local");
  const json& l = local.object();
  reject_unknown(l, local.path(), {"image", "resources", "persistence"});
  redis.local.image = Field(l, local.path(), "image").str(redis.local.image);
  Field persistence(l, local.path(), "persistence");
  if (persistence.present()) {
    const json& pv = persistence.object();
    reject_unknown(pv, persistence.path(), {"size", "storageClassName"});
    RedisPersistenceSpec spec;
    spec.size = Field(pv, persistence.path(), "size").str(spec.size);
    spec.storage_class_name = Field(pv, persistence.path(), "storageClassName").str();
    redis.local.persistence = spec;
  }
  redis.local.resources =
      Field(l, local.path(), "resources").raw_object(LocalRedisSpec::default_resources());
  return redis;
}

StaggerSpec parse_stagger(const Field& field) {
  const json& o = field.object();
  const std::string& p = field.path();
  reject_unknown(
      o, p,
      {"appLifetimeSeconds", "recycleMarginSeconds", "startIntervalSeconds", "startupSeconds"});
  StaggerSpec stagger;
  Field lifetime(o, p, "appLifetimeSeconds");
  if (lifetime.present()) stagger.app_lifetime_seconds = lifetime.integer(0);
  stagger.recycle_margin_seconds =
      Field(o, p, "recycleMarginSeconds").integer(stagger.recycle_margin_seconds);
  stagger.start_interval_seconds =
      Field(o, p, "startIntervalSeconds").integer(stagger.start_interval_seconds);
  Field startup(o, p, "startupSeconds");
  if (startup.present()) stagger.startup_seconds = startup.integer(0);
  return stagger;
}

IngressSpec parse_ingress(const Field& field) {
  const json& o = field.object();
  const std::string& p = field.path();
  reject_unknown(o, p, {"enabled", "className", "host", "tlsSecretName", "annotations", "alb"});
  IngressSpec ingress;
  ingress.enabled = Field(o, p, "enabled").boolean(false);
  ingress.class_name = Field(o, p, "className").str();
  ingress.host = Field(o, p, "host").str();
  ingress.tls_secret_name = Field(o, p, "tlsSecretName").str();
  ingress.annotations = Field(o, p, "annotations").string_map();
  Field alb(o, p, "alb");
  const json& a = alb.object();
  reject_unknown(a, alb.path(), {"certificateArn", "scheme"});
  ingress.alb.certificate_arn = Field(a, alb.path(), "certificateArn").str();
  ingress.alb.scheme = Field(a, alb.path(), "scheme").str(ingress.alb.scheme);
  return ingress;
}

// For the {enabled: bool} guards.
bool parse_enabled(const Field& field, bool fallback) {
  const json& o = field.object();
  reject_unknown(o, field.path(), {"enabled"});
  return Field(o, field.path(), "enabled").boolean(fallback);
}

TopologySpreadSpec parse_topology_spread(const Field& field) {
  const json& o = field.object();
  const std::string& p = field.path();
  reject_unknown(o, p, {"enabled", "topologyKey", "whenUnsatisfiable"});
  TopologySpreadSpec spread;
  spread.enabled = Field(o, p, "enabled").boolean(spread.enabled);
  spread.topology_key = Field(o, p, "topologyKey").str(spread.topology_key);
  spread.when_unsatisfiable = Field(o, p, "whenUnsatisfiable").str(spread.when_unsatisfiable);
  return spread;
}

std::vector<std::string> parse_image_pull_secrets(const Field& field) {
  std::vector<std::string> names;
  const json& items = field.array();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string path = field.path() + "[" + std::to_string(i) + "]";
    if (!items[i].is_object()) fail(path, "must be an object");
    reject_unknown(items[i], path, {"name"});
    names.push_back(Field(items[i], path, "name").str());
  }
  return names;
}

// env entries are passed through, but their names matter to us (REDIS_URL).
json parse_env(const Field& field) {
  const json& items = field.array();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string path = field.path() + "[" + std::to_string(i) + "]";
    if (!items[i].is_object()) fail(path, "must be an object");
    reject_unknown(items[i], path, {"name", "value", "valueFrom"});
    if (Field(items[i], path, "name").str().empty()) fail(path + ".name", "is required");
    Field(items[i], path, "value").str();
    Field(items[i], path, "valueFrom").object();
  }
  return items;
}

bool is_ip(const std::string& text, int family) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(family, text.c_str(), buf) == 1;
}

bool has_q_parameter(const std::string& path) {
  return path.find("?q=") != std::string::npos || path.find("&q=") != std::string::npos;
}

// One DNS label: [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool is_dns_label(std::string_view label) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
  return std::all_of(label.begin(), label.end(), [&](char c) { return alnum(c) || c == '-'; });
}

// Labels joined by dots: the CRD's CEL rule on spec.redis.host.
bool is_dns_name(const std::string& host) {
  if (host.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    if (!is_dns_label(std::string_view(host).substr(start, dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

void check_range(std::vector<std::string>& problems, const char* path, int64_t value, int64_t lo,
                 int64_t hi) {
  if (value < lo || value > hi) {
    problems.push_back(std::string(path) + " must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi));
  }
}

void check_min(std::vector<std::string>& problems, const char* path, int64_t value, int64_t lo) {
  if (value < lo) {
    problems.push_back(std::string(path) + " must be at least " + std::to_string(lo));
  }
}

void check_redis(std::vector<std::string>& problems, const RedisSpec& redis) {
  check_range(problems, "spec.redis.port", redis.port, 1, 65535);
  if (redis.mode == RedisMode::External && redis.host.empty()) {
    problems.emplace_back(messages::kExternalNeedsHost);
  }
  if (!redis.host.empty() && !is_dns_name(redis.host)) {
    problems.emplace_back(messages::kHostIsDnsName);
  }
  if (redis.mode == RedisMode::Endpoints && redis.addresses.empty()) {
    problems.emplace_back(messages::kEndpointsNeedAddresses);
  }
  bool all_ip =
      std::all_of(redis.addresses.begin(), redis.addresses.end(),
                  [](const std::string& a) { return is_ip(a, AF_INET) || is_ip(a, AF_INET6); });
  if (!all_ip) {
    problems.emplace_back(messages::kAddressIsIp);
  } else if (!redis.addresses.empty()) {
    bool v6 = is_ip(redis.addresses.front(), AF_INET6);
    for (const auto& a : redis.addresses) {
      if (is_ip(a, AF_INET6) != v6) {
        problems.emplace_back(messages::kAddressesOneFamily);
        break;
      }
    }
  }
  if (redis.mode == RedisMode::Local && redis.tls) problems.emplace_back(messages::kLocalNoTls);
  if (redis.mode == RedisMode::Endpoints && redis.tls && redis.tls_server_name.empty()) {
    problems.emplace_back(messages::kEndpointsTlsNeedsServerName);
  }
  if (!redis.tls_server_name.empty() && !redis.tls) {
    problems.emplace_back(messages::kServerNameNeedsTls);
  }
  if (!redis.tls_server_name.empty() && !is_dns_name(redis.tls_server_name)) {
    problems.emplace_back(messages::kServerNameIsDnsName);
  }
  if (redis.auth_secret_ref) {
    if (redis.auth_secret_ref->name.empty()) {
      problems.push_back("spec.redis.authSecretRef.name is required");
    }
    if (redis.auth_secret_ref->key.empty()) {
      problems.push_back("spec.redis.authSecretRef.key must not be empty");
    }
  }
  if (redis.local.image.empty()) problems.push_back("spec.redis.local.image must not be empty");
  if (redis.local.persistence && redis.local.persistence->size.empty()) {
    problems.push_back("spec.redis.local.persistence.size is required");
  }
}

// Requests above limits, compared where both name the resource and both are
// quantities (a malformed one is the API server's to refuse, with its own
// message).
bool requests_within_limits(const json& resources) {
  if (!resources.is_object()) return true;
  const json& requests = resources.value("requests", json::object());
  const json& limits = resources.value("limits", json::object());
  if (!requests.is_object() || !limits.is_object()) return true;
  for (const auto& [name, request] : requests.items()) {
    if (!limits.contains(name)) continue;
    const auto r = runtime::quantity_value(request);
    const auto l = runtime::quantity_value(limits[name]);
    // Relative slack: "0.1" and "100m" are the same quantity as doubles go.
    if (r && l && *r > *l + 1e-12L * std::fabs(*l)) return false;
  }
  return true;
}

// An Ingress host as networking/v1 takes it: a lower-case DNS name, whose
// first label may be the wildcard "*".
bool ingress_host_ok(const std::string& host) {
  std::string_view rest = host;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  return is_dns_name(std::string(rest));
}

void check_ingress(std::vector<std::string>& problems, const IngressSpec& ingress) {
  if (ingress.alb.scheme != "internet-facing" && ingress.alb.scheme != "internal") {
    problems.push_back("spec.ingress.alb.scheme must be internet-facing or internal");
  }
  if (!ingress.enabled) return;
  if (ingress.host.empty()) {
    problems.emplace_back(messages::kIngressNeedsHost);
  } else if (!ingress_host_ok(ingress.host)) {
    problems.emplace_back(messages::kIngressHostIsDnsName);
  }
  bool alb = ingress.class_name == "alb";
  if (alb && ingress.alb.certificate_arn.empty() && ingress.tls_secret_name.empty()) {
    problems.emplace_back(messages::kAlbNeedsCertificate);
  }
  if (!alb && ingress.tls_secret_name.empty()) {
    problems.emplace_back(messages::kIngressNeedsTlsSecret);
  }
}

}  // namespace

SpecError::SpecError(std::vector<std::string> problems)
    : std::runtime_error(join(problems, "; ")), problems_(std::move(problems)) {}

std::string_view to_string(RedisMode mode) {
  switch (mode) {
    case RedisMode::Local:
      return "Local";
    case RedisMode::External:
      return "External";
    case RedisMode::Endpoints:
      return "Endpoints";
  }
  return "Local";
}

json LocalRedisSpec::default_resources() {
  return {{"requests", {{"cpu", "10m"}, {"memory", "32Mi"}}},
          {"limits", {{"cpu", "200m"}, {"memory", "128Mi"}}}};
}

json SrerachaSpec::default_resources() {
  return {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}},
          {"limits", {{"cpu", "100m"}, {"memory", "64Mi"}}}};
}

SrerachaSpec parse_spec(const json& spec) {
  if (!spec.is_object()) fail("spec", "must be an object");
  const std::string p = "spec";
  reject_unknown(spec, p,
                 {"image",
                  "imagePullPolicy",
                  "imagePullSecrets",
                  "replicas",
                  "port",
                  "runAsUser",
                  "runAsGroup",
                  "probe",
                  "resources",
                  "env",
                  "stagger",
                  "redis",
                  "ingress",
                  "networkPolicy",
                  "podDisruptionBudget",
                  "topologySpread",
                  "nodeSelector",
                  "tolerations",
                  "affinity",
                  "podAnnotations",
                  "podLabels"});
  SrerachaSpec out;
  out.image = Field(spec, p, "image").str();
  out.image_pull_policy = Field(spec, p, "imagePullPolicy").str();
  out.image_pull_secrets = parse_image_pull_secrets(Field(spec, p, "imagePullSecrets"));
  out.replicas = Field(spec, p, "replicas").integer(out.replicas);
  out.port = Field(spec, p, "port").integer(out.port);
  Field run_as_user(spec, p, "runAsUser");
  if (run_as_user.present()) out.run_as_user = run_as_user.int64(0);
  Field run_as_group(spec, p, "runAsGroup");
  if (run_as_group.present()) out.run_as_group = run_as_group.int64(0);
  out.probe = parse_probe(Field(spec, p, "probe"));
  out.resources = Field(spec, p, "resources").raw_object(SrerachaSpec::default_resources());
  out.env = parse_env(Field(spec, p, "env"));
  out.stagger = parse_stagger(Field(spec, p, "stagger"));
  out.redis = parse_redis(Field(spec, p, "redis"));
  out.ingress = parse_ingress(Field(spec, p, "ingress"));
  out.network_policy.enabled = parse_enabled(Field(spec, p, "networkPolicy"), true);
  out.pod_disruption_budget.enabled = parse_enabled(Field(spec, p, "podDisruptionBudget"), true);
  out.topology_spread = parse_topology_spread(Field(spec, p, "topologySpread"));
  out.node_selector = Field(spec, p, "nodeSelector").string_map();
  out.tolerations = Field(spec, p, "tolerations").raw_array();
  out.affinity = Field(spec, p, "affinity").raw_object(nullptr);
  out.pod_annotations = Field(spec, p, "podAnnotations").string_map();
  out.pod_labels = Field(spec, p, "podLabels").string_map();
  return out;
}

std::vector<std::string> validate(const SrerachaSpec& spec) {
  std::vector<std::string> problems;
  if (spec.image.empty()) problems.push_back("spec.image is required");
  if (!spec.image_pull_policy.empty() && spec.image_pull_policy != "Always" &&
      spec.image_pull_policy != "IfNotPresent" && spec.image_pull_policy != "Never") {
    problems.push_back("spec.imagePullPolicy must be Always, IfNotPresent or Never");
  }
  check_range(problems, "spec.replicas", spec.replicas, 0, 100);
  check_range(problems, "spec.port", spec.port, 1, 65535);
  if (spec.run_as_user) check_min(problems, "spec.runAsUser", *spec.run_as_user, 1);
  if (spec.run_as_group) check_min(problems, "spec.runAsGroup", *spec.run_as_group, 1);

  const ProbeSpec& probe = spec.probe;
  if (probe.path.empty() || probe.path.front() != '/') {
    problems.push_back("spec.probe.path must start with '/'");
  }
  if (!has_q_parameter(probe.path)) problems.emplace_back(messages::kProbePathNeedsQ);
  check_min(problems, "spec.probe.periodSeconds", probe.period_seconds, 1);
  check_min(problems, "spec.probe.timeoutSeconds", probe.timeout_seconds, 1);
  check_min(problems, "spec.probe.failureThreshold", probe.failure_threshold, 1);
  check_min(problems, "spec.probe.initialDelaySeconds", probe.initial_delay_seconds, 0);
  check_min(problems, "spec.probe.startupFailureThreshold", probe.startup_failure_threshold, 1);

  bool reserved = false;
  std::set<std::string> env_names;
  for (const auto& var : spec.env) {
    std::string name = var.value("name", "");
    reserved =
        reserved || name == "REDIS_URL" || name == "REDIS_AUTH" || name == "REDIS_TLS_SERVER_NAME";
    // The CRD makes env a list-map keyed by name; server-side apply needs that.
    if (!env_names.insert(name).second)
      problems.push_back("spec.env has two entries named " + name);
  }
  if (reserved) problems.emplace_back(messages::kEnvReserved);

  const StaggerSpec& stagger = spec.stagger;
  if (stagger.app_lifetime_seconds) {
    // 0: a stable app, nothing to fit in it.
    check_min(problems, "spec.stagger.appLifetimeSeconds", *stagger.app_lifetime_seconds, 0);
    if (*stagger.app_lifetime_seconds > 0) {
      if (stagger.recycle_margin_seconds >= *stagger.app_lifetime_seconds) {
        problems.emplace_back(messages::kMarginBelowLifetime);
      } else if (stagger.startup_seconds &&
                 *stagger.startup_seconds + stagger.recycle_margin_seconds >=
                     *stagger.app_lifetime_seconds) {
        problems.emplace_back(messages::kStartupFitsLifetime);
      }
    }
  }
  if (stagger.startup_seconds) {
    check_min(problems, "spec.stagger.startupSeconds", *stagger.startup_seconds, 1);
  }
  check_min(problems, "spec.stagger.recycleMarginSeconds", stagger.recycle_margin_seconds, 0);
  check_min(problems, "spec.stagger.startIntervalSeconds", stagger.start_interval_seconds, 0);

  if (!requests_within_limits(spec.resources))
    problems.emplace_back(messages::kRequestsWithinLimits);
  if (!requests_within_limits(spec.redis.local.resources)) {
    problems.emplace_back(messages::kRedisRequestsWithinLimits);
  }
  check_redis(problems, spec.redis);
  check_ingress(problems, spec.ingress);

  const TopologySpreadSpec& spread = spec.topology_spread;
  if (spread.topology_key.empty()) {
    problems.push_back("spec.topologySpread.topologyKey must not be empty");
  }
  if (spread.when_unsatisfiable != "ScheduleAnyway" &&
      spread.when_unsatisfiable != "DoNotSchedule") {
    problems.push_back(
        "spec.topologySpread.whenUnsatisfiable must be ScheduleAnyway or DoNotSchedule");
  }
  return problems;
}

std::vector<std::string> validate_name(const std::string& name) {
  std::vector<std::string> problems;
  if (name.empty()) {
    problems.push_back("metadata.name is required");
    return problems;
  }
  if (name.size() > 57) problems.emplace_back(messages::kNameLength);
  // A DNS label that starts with a letter: Service names must.
  if (!is_dns_label(name) || !(name.front() >= 'a' && name.front() <= 'z')) {
    problems.emplace_back(messages::kNameDnsLabel);
  }
  return problems;
}

Instance parse_instance(const json& cr) {
  if (!cr.is_object()) throw SpecError({"a Sreracha must be an object"});
  std::string api_version = Field(cr, "", "apiVersion").str();
  std::string kind = Field(cr, "", "kind").str();
  if (api_version != kApiVersion || kind != kKind) {
    throw SpecError({"expected apiVersion " + std::string(kApiVersion) + " kind " +
                     std::string(kKind) + ", got " + api_version + " " + kind});
  }
  Field metadata(cr, "", "metadata");
  const json& m = metadata.object();
  Instance inst;
  inst.name = Field(m, "metadata", "name").str();
  inst.ns = Field(m, "metadata", "namespace").str();
  inst.uid = Field(m, "metadata", "uid").str();
  inst.generation = Field(m, "metadata", "generation").int64(0);
  Field spec(cr, "", "spec");
  if (!spec.present()) throw SpecError({"spec.image is required"});
  inst.spec = parse_spec(spec.object());

  std::vector<std::string> problems = validate_name(inst.name);
  std::vector<std::string> spec_problems = validate(inst.spec);
  problems.insert(problems.end(), spec_problems.begin(), spec_problems.end());
  if (!problems.empty()) throw SpecError(std::move(problems));
  return inst;
}

}  // namespace sreracha
