#include "sreracha/render.h"

#include <algorithm>
#include <stdexcept>

#include <openssl/evp.h>

#include "runtime/children.h"
#include "sreracha/stagger.h"

namespace sreracha {

using json = nlohmann::json;
using Labels = std::map<std::string, std::string>;

namespace {

// The local Redis always listens here; spec.redis.port is the Service's port.
constexpr int kLocalRedisPort = 6379;
// The uid of the "redis" user in the official redis images.
constexpr int64_t kRedisUid = 999;

enum class Component { App, Redis };

Labels selector_labels(const Instance& inst, Component component) {
  return {{"app.kubernetes.io/name", "sreracha"},
          {"app.kubernetes.io/instance", inst.name},
          {"app.kubernetes.io/component", component == Component::App ? "app" : "redis"}};
}

Labels object_labels(const Instance& inst, Component component) {
  Labels labels = selector_labels(inst, component);
  labels["app.kubernetes.io/managed-by"] = std::string(kFieldManager);
  return labels;
}

json metadata(const Instance& inst, const std::string& name, const Labels& labels) {
  json meta = {{"name", name}, {"labels", labels}};
  if (!inst.ns.empty()) meta["namespace"] = inst.ns;
  // Files read by `render` have no uid; an ownerReference without one would
  // be refused, so offline output leaves it out.
  if (!inst.uid.empty()) {
    meta["ownerReferences"] = json::array({{{"apiVersion", std::string(kApiVersion)},
                                            {"kind", std::string(kKind)},
                                            {"name", inst.name},
                                            {"uid", inst.uid},
                                            {"controller", true},
                                            {"blockOwnerDeletion", true}}});
  }
  return meta;
}

json object(const char* api_version, const char* kind, json meta) {
  return {{"apiVersion", api_version}, {"kind", kind}, {"metadata", std::move(meta)}};
}

json restricted_container_security_context() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"capabilities", {{"drop", {"ALL"}}}}};
}

json http_probe(const ProbeSpec& probe, int failure_threshold) {
  return {{"httpGet", {{"path", probe.path}, {"port", "http"}}},
          {"periodSeconds", probe.period_seconds},
          {"timeoutSeconds", probe.timeout_seconds},
          {"failureThreshold", failure_threshold}};
}

json app_env(const Instance& inst) {
  json env = json::array();
  const auto& auth = inst.spec.redis.auth_secret_ref;
  if (auth) {
    env.push_back({{"name", "REDIS_AUTH"},
                   {"valueFrom", {{"secretKeyRef", {{"name", auth->name}, {"key", auth->key}}}}}});
  }
  env.push_back({{"name", "REDIS_URL"}, {"value", redis_url_for_app(inst)}});
  if (!inst.spec.redis.tls_server_name.empty()) {
    env.push_back({{"name", "REDIS_TLS_SERVER_NAME"}, {"value", inst.spec.redis.tls_server_name}});
  }
  for (const auto& var : inst.spec.env) env.push_back(var);
  return env;
}

json app_deployment(const Instance& inst, const RenderOptions& options) {
  const SrerachaSpec& spec = inst.spec;

  json probe_startup = http_probe(spec.probe, spec.probe.startup_failure_threshold);
  // Zero-valued plain fields are left out: the API server omits them from
  // what it returns, and a field we send that never comes back would look
  // like a difference on every reconcile. (false in a *bool is kept.)
  if (spec.probe.initial_delay_seconds > 0) {
    probe_startup["initialDelaySeconds"] = spec.probe.initial_delay_seconds;
  }
  json container = {
      {"name", "sreracha"},
      {"image", spec.image},
      {"ports", {{{"name", "http"}, {"containerPort", spec.port}, {"protocol", "TCP"}}}},
      {"env", app_env(inst)},
      {"resources", spec.resources},
      {"startupProbe", probe_startup},
      {"readinessProbe", http_probe(spec.probe, spec.probe.failure_threshold)},
      {"livenessProbe", http_probe(spec.probe, spec.probe.failure_threshold)},
      {"securityContext", restricted_container_security_context()},
      // An evicted pod keeps serving until kube-proxy has dropped its
      // endpoint: the app stops listening on SIGTERM, and connections that
      // still reach it would be refused. The sleep action needs nothing in
      // the image.
      {"lifecycle", {{"preStop", {{"sleep", {{"seconds", kPreStopSleep.count()}}}}}}},
  };
  if (!spec.image_pull_policy.empty()) container["imagePullPolicy"] = spec.image_pull_policy;

  json pod_security = {{"runAsNonRoot", true}, {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  pod_security["runAsUser"] = spec.run_as_user.value_or(kDefaultAppUid);
  pod_security["runAsGroup"] = spec.run_as_group.value_or(kDefaultAppGid);
  // The app binds its port as a non-root user. Below 1024 that needs either
  // root / NET_BIND_SERVICE or this namespaced, "safe" sysctl; the sysctl
  // keeps every capability dropped.
  if (spec.port < 1024) {
    pod_security["sysctls"] = {{{"name", "net.ipv4.ip_unprivileged_port_start"}, {"value", "0"}}};
  }

  json pod = {
      {"containers", {container}},
      {"securityContext", pod_security},
      // The app never calls the Kubernetes API.
      {"automountServiceAccountToken", false},
      // Service links inject variables such as SRERACHA_REDIS_PORT=tcp://...;
      // a Service named "redis" would even set REDIS_PORT. The app needs none.
      {"enableServiceLinks", false},
  };
  if (spec.topology_spread.enabled) {
    pod["topologySpreadConstraints"] = {
        {{"maxSkew", 1},
         {"topologyKey", spec.topology_spread.topology_key},
         {"whenUnsatisfiable", spec.topology_spread.when_unsatisfiable},
         {"labelSelector", {{"matchLabels", selector_labels(inst, Component::App)}}}}};
  }
  if (!spec.image_pull_secrets.empty()) {
    json secrets = json::array();
    for (const auto& name : spec.image_pull_secrets) secrets.push_back({{"name", name}});
    pod["imagePullSecrets"] = secrets;
  }
  if (!spec.node_selector.empty()) pod["nodeSelector"] = spec.node_selector;
  if (!spec.tolerations.empty()) pod["tolerations"] = spec.tolerations;
  if (!spec.affinity.is_null()) pod["affinity"] = spec.affinity;

  // The user's pod labels first, ours over them: the selector labels must
  // hold, or the Deployment would not own its own pods.
  Labels pod_labels = spec.pod_labels;
  for (const auto& [key, value] : object_labels(inst, Component::App)) pod_labels[key] = value;
  json pod_meta = {{"labels", pod_labels}};
  Labels pod_annotations = spec.pod_annotations;
  for (const auto& [key, value] : options.app_pod_annotations) pod_annotations[key] = value;
  if (!pod_annotations.empty()) pod_meta["annotations"] = pod_annotations;
  // Which template a pod was made from: stagger planning tells a rollout's
  // old pods by it, and forgets a lifetime learned from another app.
  pod_meta["annotations"][std::string(stagger::kTemplateHashAnnotation)] =
      runtime::applied_hash({{"metadata", pod_meta}, {"spec", pod}});

  json deployment = object("apps/v1", "Deployment",
                           metadata(inst, inst.name, object_labels(inst, Component::App)));
  deployment["spec"] = {
      {"replicas", options.deployment_replicas.value_or(spec.replicas)},
      {"selector", {{"matchLabels", selector_labels(inst, Component::App)}}},
      // Make before break: a new pod is Ready before an old one goes.
      {"strategy",
       {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}}},
      {"template", {{"metadata", pod_meta}, {"spec", pod}}},
  };
  return deployment;
}

json app_service(const Instance& inst) {
  json service =
      object("v1", "Service", metadata(inst, inst.name, object_labels(inst, Component::App)));
  service["spec"] = {
      {"type", "ClusterIP"},
      {"selector", selector_labels(inst, Component::App)},
      {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}}},
  };
  return service;
}

// The script that starts the local Redis. The password must not reach any
// process's argv: `redis-server --requirepass "$(X)"` would be expanded by the
// kubelet into the arguments, readable by anyone who can run ps or read
// /proc/<pid>/cmdline. Instead the shell (whose printf is a builtin) writes a
// config file to redis-server's stdin ("-"), and exec makes redis-server PID 1
// so it gets SIGTERM on shutdown. Config syntax needs `\` and `"` escaped
// inside the double-quoted value. The kubelet leaves "$(printf ...)" alone:
// it only expands $(NAME) when NAME is a defined variable.
std::string local_redis_script(bool with_password, bool persistent) {
  std::string script;
  if (with_password) {
    script += "pass=$(printf '%s' \"$REDISCLI_AUTH\" | sed 's/[\\\\\"]/\\\\&/g')\n";
  }
  script += "exec redis-server - <<EOF\n";
  script += "port " + std::to_string(kLocalRedisPort) + "\n";
  script += "dir /data\n";
  if (persistent) {
    // Every write in the append-only file, synced each second: a restart
    // (a new password, a node drain) keeps the counter.
    script += "appendonly yes\nappendfsync everysec\n";
  }
  if (with_password) {
    script += "requirepass \"$pass\"\n";
  } else {
    // Without a password Redis' protected mode refuses every client not on
    // localhost; the NetworkPolicy is what keeps other pods out.
    script += "protected-mode no\n";
  }
  script += "EOF\n";
  return script;
}

json redis_deployment(const Instance& inst, const RenderOptions& options) {
  const RedisSpec& redis = inst.spec.redis;
  const std::string name = redis_name(inst);

  json container = {
      {"name", "redis"},
      {"image", redis.local.image},
      {"command",
       {"sh", "-c",
        local_redis_script(redis.auth_secret_ref.has_value(),
                           redis.local.persistence.has_value())}},
      {"ports", {{{"name", "redis"}, {"containerPort", kLocalRedisPort}, {"protocol", "TCP"}}}},
      // redis-cli answers "NOAUTH" (exit status 0) when auth is missing, so
      // readiness means the PONG itself.
      {"readinessProbe",
       {{"exec", {{"command", {"sh", "-c", "redis-cli ping | grep -q PONG"}}}},
        {"periodSeconds", 5},
        {"timeoutSeconds", 2}}},
      {"livenessProbe", {{"tcpSocket", {{"port", "redis"}}}, {"periodSeconds", 10}}},
      {"resources", redis.local.resources},
      {"securityContext", restricted_container_security_context()},
      // Redis writes its dump file under /data; the root filesystem stays read-only.
      {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}},
  };
  if (redis.auth_secret_ref) {
    // REDISCLI_AUTH is read by redis-cli (the readiness probe) and by the
    // start script; one variable serves both.
    container["env"] = {
        {{"name", "REDISCLI_AUTH"},
         {"valueFrom",
          {{"secretKeyRef",
            {{"name", redis.auth_secret_ref->name}, {"key", redis.auth_secret_ref->key}}}}}}};
  }

  json pod = {
      {"containers", {container}},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", kRedisUid},
        {"runAsGroup", kRedisUid},
        {"fsGroup", kRedisUid},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"volumes",
       {redis.local.persistence
            ? json{{"name", "data"},
                   {"persistentVolumeClaim", {{"claimName", redis_data_name(inst)}}}}
            : json{{"name", "data"}, {"emptyDir", json::object()}}}},
  };
  // The instance's placement holds for its Redis too (a node pool, a
  // dedicated node): the app reaches Redis through the Service wherever it
  // runs, but a Redis on a node the user kept the app away from surprises.
  if (!inst.spec.node_selector.empty()) pod["nodeSelector"] = inst.spec.node_selector;
  if (!inst.spec.tolerations.empty()) pod["tolerations"] = inst.spec.tolerations;
  json pod_meta = {{"labels", object_labels(inst, Component::Redis)}};
  if (!options.redis_pod_annotations.empty()) {
    pod_meta["annotations"] = options.redis_pod_annotations;
  }

  json deployment =
      object("apps/v1", "Deployment", metadata(inst, name, object_labels(inst, Component::Redis)));
  deployment["spec"] = {
      {"replicas", 1},
      {"selector", {{"matchLabels", selector_labels(inst, Component::Redis)}}},
      // One Redis at a time: two would each hold their own, diverging data.
      {"strategy", {{"type", "Recreate"}}},
      {"template", {{"metadata", pod_meta}, {"spec", pod}}},
  };
  return deployment;
}

json redis_service(const Instance& inst) {
  const RedisSpec& redis = inst.spec.redis;
  json port = {{"name", "redis"}, {"port", redis.port}, {"protocol", "TCP"}};
  json spec;
  switch (redis.mode) {
    case RedisMode::Local:
      port["targetPort"] = "redis";
      spec = {{"type", "ClusterIP"},
              {"selector", selector_labels(inst, Component::Redis)},
              {"ports", {port}}};
      break;
    case RedisMode::External:
      // A DNS CNAME to the ElastiCache endpoint; the port is informational.
      spec = {{"type", "ExternalName"}, {"externalName", redis.host}, {"ports", {port}}};
      break;
    case RedisMode::Endpoints:
      // No selector: the EndpointSlice below supplies the addresses.
      port["targetPort"] = redis.port;
      spec = {{"type", "ClusterIP"}, {"ports", {port}}};
      break;
  }
  json service = object("v1", "Service",
                        metadata(inst, redis_name(inst), object_labels(inst, Component::Redis)));
  service["spec"] = spec;
  return service;
}

json redis_endpoint_slice(const Instance& inst) {
  const RedisSpec& redis = inst.spec.redis;
  Labels labels = object_labels(inst, Component::Redis);
  labels["kubernetes.io/service-name"] = redis_name(inst);
  // Tells the EndpointSlice controllers this slice is someone else's.
  labels["endpointslice.kubernetes.io/managed-by"] = std::string(kFieldManager);

  // validate() guarantees one family; a ':' only appears in IPv6.
  bool v6 = !redis.addresses.empty() && redis.addresses.front().find(':') != std::string::npos;
  json endpoints = json::array();
  for (const auto& address : redis.addresses) {
    endpoints.push_back({{"addresses", {address}}, {"conditions", {{"ready", true}}}});
  }
  json slice =
      object("discovery.k8s.io/v1", "EndpointSlice", metadata(inst, redis_name(inst), labels));
  slice["addressType"] = v6 ? "IPv6" : "IPv4";
  slice["ports"] = {{{"name", "redis"}, {"port", redis.port}, {"protocol", "TCP"}}};
  slice["endpoints"] = endpoints;
  return slice;
}

json redis_data_claim(const Instance& inst) {
  const RedisPersistenceSpec& persistence = *inst.spec.redis.local.persistence;
  json claim = object("v1", "PersistentVolumeClaim",
                      metadata(inst, redis_data_name(inst), object_labels(inst, Component::Redis)));
  claim["spec"] = {{"accessModes", {"ReadWriteOnce"}},
                   {"resources", {{"requests", {{"storage", persistence.size}}}}}};
  if (!persistence.storage_class_name.empty()) {
    claim["spec"]["storageClassName"] = persistence.storage_class_name;
  }
  return claim;
}

json redis_network_policy(const Instance& inst) {
  json policy = object("networking.k8s.io/v1", "NetworkPolicy",
                       metadata(inst, redis_name(inst), object_labels(inst, Component::Redis)));
  policy["spec"] = {
      {"podSelector", {{"matchLabels", selector_labels(inst, Component::Redis)}}},
      {"policyTypes", {"Ingress"}},
      {"ingress",
       {{{"from", {{{"podSelector", {{"matchLabels", selector_labels(inst, Component::App)}}}}}},
         {"ports", {{{"protocol", "TCP"}, {"port", kLocalRedisPort}}}}}}},
  };
  return policy;
}

json pod_disruption_budget(const Instance& inst) {
  json pdb = object("policy/v1", "PodDisruptionBudget",
                    metadata(inst, inst.name, object_labels(inst, Component::App)));
  // At most one of the spec's replicas down. minAvailable, not
  // maxUnavailable 1: the latter counts from the Deployment's replicas, which
  // staggering raises while replacements start, so one still-starting
  // replacement would block the eviction of a pod whose own replacement is
  // Ready. Stagger planning evicts only once a replacement is Ready. A crashed
  // pod serves nothing: evicting it must not wait for a healthy budget (the
  // default, IfHealthyBudget, would).
  pdb["spec"] = {{"minAvailable", std::max(0, inst.spec.replicas - 1)},
                 {"selector", {{"matchLabels", selector_labels(inst, Component::App)}}},
                 {"unhealthyPodEvictionPolicy", "AlwaysAllow"}};
  return pdb;
}

Labels ingress_annotations(const Instance& inst) {
  const IngressSpec& ingress = inst.spec.ingress;
  Labels annotations;
  if (ingress.class_name == "alb") {
    // AWS Load Balancer Controller: HTTPS listener with the ACM certificate,
    // HTTP redirected to it, traffic straight to pod IPs, health checks on
    // the app's own probe path (which carries the required q=).
    const std::string prefix = "alb.ingress.kubernetes.io/";
    annotations[prefix + "scheme"] = ingress.alb.scheme;
    annotations[prefix + "target-type"] = "ip";
    annotations[prefix + "listen-ports"] = R"([{"HTTP":80},{"HTTPS":443}])";
    annotations[prefix + "ssl-redirect"] = "443";
    if (!ingress.alb.certificate_arn.empty()) {
      annotations[prefix + "certificate-arn"] = ingress.alb.certificate_arn;
    }
    annotations[prefix + "healthcheck-path"] = inst.spec.probe.path;
    annotations[prefix + "success-codes"] = "200";
  } else if (ingress.class_name == "nginx") {
    annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] = "true";
  }
  // The user's word is last: they may know their controller better.
  for (const auto& [key, value] : ingress.annotations) annotations[key] = value;
  return annotations;
}

json app_ingress(const Instance& inst) {
  const IngressSpec& ingress = inst.spec.ingress;
  json meta = metadata(inst, inst.name, object_labels(inst, Component::App));
  Labels annotations = ingress_annotations(inst);
  if (!annotations.empty()) meta["annotations"] = annotations;

  json tls = {{"hosts", {ingress.host}}};
  // With ALB and no secret, the controller finds the certificate in ACM.
  if (!ingress.tls_secret_name.empty()) tls["secretName"] = ingress.tls_secret_name;
  json path = {{"path", "/"},
               {"pathType", "Prefix"},
               {"backend", {{"service", {{"name", inst.name}, {"port", {{"name", "http"}}}}}}}};
  json spec = {{"rules", {{{"host", ingress.host}, {"http", {{"paths", {path}}}}}}},
               {"tls", {tls}}};
  if (!ingress.class_name.empty()) spec["ingressClassName"] = ingress.class_name;

  json out = object("networking.k8s.io/v1", "Ingress", std::move(meta));
  out["spec"] = spec;
  return out;
}

std::string redis_url(const Instance& inst) {
  const RedisSpec& redis = inst.spec.redis;
  // Through the <name>-redis Service alias, except External + TLS: the
  // server's certificate names the ElastiCache endpoint, not our alias, so
  // verification needs the real host in the URL.
  std::string host = redis.mode == RedisMode::External && redis.tls ? redis.host : redis_name(inst);
  return std::string(redis.tls ? "rediss" : "redis") + "://" + host + ":" +
         std::to_string(redis.port);
}

}  // namespace

std::string redis_name(const Instance& inst) { return inst.name + "-redis"; }

std::string redis_data_name(const Instance& inst) { return inst.name + "-redis-data"; }

Labels app_selector_labels(const Instance& inst) { return selector_labels(inst, Component::App); }

std::string app_selector_string(const Instance& inst) {
  std::string out;
  for (const auto& [key, value] : app_selector_labels(inst)) {
    if (!out.empty()) out += ",";
    out += key + "=" + value;
  }
  return out;
}

std::string redis_url_for_app(const Instance& inst) { return redis_url(inst); }

std::string auth_checksum(std::string_view secret_uid, std::string_view password_base64) {
  std::string input(secret_uid);
  input += '\n';
  input += password_base64;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

std::vector<json> render(const Instance& inst, const RenderOptions& options) {
  const SrerachaSpec& spec = inst.spec;
  std::vector<json> children;
  if (spec.redis.mode == RedisMode::Local && spec.redis.local.persistence) {
    children.push_back(redis_data_claim(inst));  // before the pod that mounts it
  }
  if (spec.redis.mode == RedisMode::Local) children.push_back(redis_deployment(inst, options));
  children.push_back(redis_service(inst));
  if (spec.redis.mode == RedisMode::Endpoints) children.push_back(redis_endpoint_slice(inst));
  // Only a Redis that runs in the cluster has pods to protect.
  if (spec.redis.mode == RedisMode::Local && spec.network_policy.enabled) {
    children.push_back(redis_network_policy(inst));
  }
  children.push_back(app_deployment(inst, options));
  children.push_back(app_service(inst));
  if (spec.pod_disruption_budget.enabled) children.push_back(pod_disruption_budget(inst));
  if (spec.ingress.enabled) children.push_back(app_ingress(inst));
  return children;
}

ChildRef ref_of(const json& object) {
  static const std::map<std::string, std::string> plurals = {
      {"Deployment", "deployments"},
      {"Service", "services"},
      {"EndpointSlice", "endpointslices"},
      {"NetworkPolicy", "networkpolicies"},
      {"PodDisruptionBudget", "poddisruptionbudgets"},
      {"Ingress", "ingresses"},
      {"PersistentVolumeClaim", "persistentvolumeclaims"}};
  ChildRef ref;
  ref.api_version = object.value("apiVersion", "");
  ref.kind = object.value("kind", "");
  auto plural = plurals.find(ref.kind);
  // A kind render() makes must be listed here, or its requests would go nowhere.
  if (plural == plurals.end()) throw std::logic_error("ref_of: no REST resource for " + ref.kind);
  ref.resource = plural->second;
  ref.name = object.value(json::json_pointer("/metadata/name"), "");
  return ref;
}

std::vector<ChildRef> all_possible_children(const Instance& inst) {
  const std::string redis = redis_name(inst);
  return {
      {"v1", "PersistentVolumeClaim", "persistentvolumeclaims", redis_data_name(inst)},
      {"apps/v1", "Deployment", "deployments", redis},
      {"v1", "Service", "services", redis},
      {"discovery.k8s.io/v1", "EndpointSlice", "endpointslices", redis},
      {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", redis},
      {"apps/v1", "Deployment", "deployments", inst.name},
      {"v1", "Service", "services", inst.name},
      {"policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", inst.name},
      {"networking.k8s.io/v1", "Ingress", "ingresses", inst.name},
  };
}

}  // namespace sreracha
