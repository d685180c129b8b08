// spec: the Sreracha custom resource as plain C++ values.
//
// The structs mirror crds/sreracha.io_srerachas.yaml field by field, and their
// default member values are the CRD's defaults, so an object that never went
// through the API server (the `render` command reads files) means the same
// thing as one that did. unit test crd_test keeps the two in step.
//
// parse_spec() checks shapes and types only; validate() applies the rules the
// CRD states as bounds, enums and CEL rules, with the same messages;
// parse_instance() does both and throws on any problem.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sreracha {

inline constexpr std::string_view kGroup = "sreracha.io";
inline constexpr std::string_view kApiVersion = "sreracha.io/v1alpha1";
inline constexpr std::string_view kKind = "Sreracha";
inline constexpr std::string_view kPlural = "srerachas";

// A Sreracha object that cannot be used as written. problems() lists every
// reason, each naming its field by JSON path (e.g. "spec.redis.host ...").
class SpecError : public std::runtime_error {
 public:
  explicit SpecError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

struct ProbeSpec {
  std::string path = "/?q=healthz";  // the app answers 400 without a q parameter
  int period_seconds = 5;
  int timeout_seconds = 2;
  int failure_threshold = 3;
  int initial_delay_seconds = 0;       // before the first startup check
  int startup_failure_threshold = 30;  // startup checks allowed to fail
};

struct SecretKeyRef {
  std::string name;
  std::string key = "password";
};

enum class RedisMode { Local, External, Endpoints };
std::string_view to_string(RedisMode mode);

// Local Redis data on a PersistentVolumeClaim, written as an append-only
// file, instead of an emptyDir that a restart of the Redis pod empties.
struct RedisPersistenceSpec {
  std::string size;                // a quantity, e.g. "1Gi"
  std::string storage_class_name;  // "": the cluster's default class
};

struct LocalRedisSpec {
  std::string image = "redis:7.4.2-alpine";
  nlohmann::json resources = default_resources();  // core/v1 ResourceRequirements
  std::optional<RedisPersistenceSpec> persistence;

  static nlohmann::json default_resources();
};

struct RedisSpec {
  RedisMode mode = RedisMode::Local;
  std::string host;  // External: an ElastiCache primary endpoint
  int port = 6379;
  std::vector<std::string> addresses;  // Endpoints: IPs of the Redis servers
  bool tls = false;
  // The name the server's certificate carries, when the URL cannot name it
  // (Endpoints: the URL names the <name>-redis alias).
  std::string tls_server_name;
  std::optional<SecretKeyRef> auth_secret_ref;
  LocalRedisSpec local;
};

// Consumed by stagger planning (stagger.h).
struct StaggerSpec {
  // unset: learned from observed crashes; 0: a stable app, never recycled
  std::optional<int> app_lifetime_seconds;
  int recycle_margin_seconds = 5;
  int start_interval_seconds = 10;
  // A new pod's creation -> Ready, the lead of every replacement. Unset:
  // learned from the instance's pods (status.stagger.observedStartupSeconds).
  std::optional<int> startup_seconds;
};

struct AlbSpec {
  std::string certificate_arn;
  std::string scheme = "internet-facing";
};

struct IngressSpec {
  bool enabled = false;
  std::string class_name;  // "" = the cluster's default IngressClass
  std::string host;
  std::string tls_secret_name;
  std::map<std::string, std::string> annotations;
  AlbSpec alb;
};

struct NetworkPolicySpec {
  bool enabled = true;
};

struct PodDisruptionBudgetSpec {
  bool enabled = true;
};

struct TopologySpreadSpec {
  bool enabled = true;
  std::string topology_key = "topology.kubernetes.io/zone";
  std::string when_unsatisfiable = "ScheduleAnyway";
};

struct SrerachaSpec {
  std::string image;
  std::string image_pull_policy;  // "" = Kubernetes' default for the tag
  std::vector<std::string> image_pull_secrets;
  int replicas = 2;
  int port = 80;
  // Unset: kDefaultAppUid / kDefaultAppGid (render.h), never the image's
  // USER: a named USER (the app's "www") cannot be verified as non-root.
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  ProbeSpec probe;
  nlohmann::json resources = default_resources();  // core/v1 ResourceRequirements
  nlohmann::json env = nlohmann::json::array();    // []core/v1 EnvVar
  StaggerSpec stagger;
  RedisSpec redis;
  IngressSpec ingress;
  NetworkPolicySpec network_policy;
  PodDisruptionBudgetSpec pod_disruption_budget;
  TopologySpreadSpec topology_spread;
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();  // []core/v1 Toleration
  nlohmann::json affinity;                               // core/v1 Affinity; null = unset
  std::map<std::string, std::string> pod_annotations;
  std::map<std::string, std::string> pod_labels;

  static nlohmann::json default_resources();
};

// One Sreracha object: identity plus spec.
struct Instance {
  std::string name;
  std::string ns;   // "" when read from a file without metadata.namespace
  std::string uid;  // "" when read from a file
  int64_t generation = 0;
  SrerachaSpec spec;
};

// Reads `spec` (the value of a Sreracha's .spec), applying the CRD's defaults.
// Throws SpecError on a wrong type, an unknown field or an unknown enum value.
SrerachaSpec parse_spec(const nlohmann::json& spec);

// Every rule of the CRD (bounds, enums, CEL rules) that `spec` breaks, as the
// messages the API server would give for the CEL rules. Empty when valid.
std::vector<std::string> validate(const SrerachaSpec& spec);

// Problems with an instance name: it names Services ("<name>-redis"), so it
// must be a DNS label short enough for the suffix.
std::vector<std::string> validate_name(const std::string& name);

// Reads a whole Sreracha object (apiVersion, kind, metadata, spec), then
// validates it. Throws SpecError listing every problem.
Instance parse_instance(const nlohmann::json& cr);

// The messages of the CRD's CEL rules, shared with tests that check the CRD
// states the very same text.
namespace messages {
inline constexpr std::string_view kProbePathNeedsQ =
    "spec.probe.path must contain the query parameter q= (the app answers 400 without it), "
    "e.g. /?q=healthz";
inline constexpr std::string_view kExternalNeedsHost =
    "spec.redis.host is required when spec.redis.mode is External (the ElastiCache primary "
    "endpoint)";
inline constexpr std::string_view kHostIsDnsName =
    "spec.redis.host must be a lower-case DNS name (it becomes the Service's externalName)";
inline constexpr std::string_view kEndpointsNeedAddresses =
    "spec.redis.addresses must list at least one IP when spec.redis.mode is Endpoints";
inline constexpr std::string_view kAddressIsIp =
    "spec.redis.addresses entries must be IPv4 or IPv6 addresses";
inline constexpr std::string_view kAddressesOneFamily =
    "spec.redis.addresses must be all IPv4 or all IPv6 (one EndpointSlice has one address type)";
inline constexpr std::string_view kEndpointsTlsNeedsServerName =
    "spec.redis.tlsServerName is required when spec.redis.mode is Endpoints and spec.redis.tls "
    "is true (the URL names the <name>-redis alias, which no certificate carries)";
inline constexpr std::string_view kServerNameNeedsTls =
    "spec.redis.tlsServerName needs spec.redis.tls: true";
inline constexpr std::string_view kServerNameIsDnsName =
    "spec.redis.tlsServerName must be a lower-case DNS name";
inline constexpr std::string_view kLocalNoTls =
    "spec.redis.tls is not supported with spec.redis.mode Local (the local Redis serves plain "
    "TCP)";
inline constexpr std::string_view kIngressNeedsHost =
    "spec.ingress.host is required when spec.ingress.enabled is true";
inline constexpr std::string_view kAlbNeedsCertificate =
    "spec.ingress with className alb needs spec.ingress.alb.certificateArn or "
    "spec.ingress.tlsSecretName";
inline constexpr std::string_view kIngressNeedsTlsSecret =
    "spec.ingress.tlsSecretName is required unless spec.ingress.className is alb (the Ingress "
    "terminates TLS with that Secret)";
inline constexpr std::string_view kEnvReserved =
    "spec.env must not set REDIS_URL, REDIS_AUTH or REDIS_TLS_SERVER_NAME; the operator sets "
    "them from spec.redis";
inline constexpr std::string_view kMarginBelowLifetime =
    "spec.stagger.recycleMarginSeconds must be less than spec.stagger.appLifetimeSeconds";
inline constexpr std::string_view kStartupFitsLifetime =
    "spec.stagger.startupSeconds plus recycleMarginSeconds must be less than "
    "spec.stagger.appLifetimeSeconds (a replacement must be Ready before the pod it replaces ends)";
inline constexpr std::string_view kRequestsWithinLimits =
    "spec.resources.requests must not exceed spec.resources.limits (the API server refuses "
    "such a Pod)";
inline constexpr std::string_view kRedisRequestsWithinLimits =
    "spec.redis.local.resources.requests must not exceed spec.redis.local.resources.limits (the "
    "API server refuses such a Pod)";
inline constexpr std::string_view kIngressHostIsDnsName =
    "spec.ingress.host must be a lower-case DNS name, optionally starting with *. (the API "
    "server refuses any other Ingress host)";
inline constexpr std::string_view kNameLength =
    "metadata.name must be at most 57 characters (the Service <name>-redis must fit in 63)";
inline constexpr std::string_view kNameDnsLabel =
    "metadata.name must be a DNS label starting with a letter (lower-case letters, digits, '-'), "
    "because it names Services";
}  // namespace messages

}  // namespace sreracha
