// spec: parsing (types, defaults, unknown fields) and every validation rule's
// message.
#include "sreracha/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sreracha {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

json cr(json spec) {
  return {
      {"apiVersion", "sreracha.io/v1alpha1"},
      {"kind", "Sreracha"},
      {"metadata", {{"name", "demo"}, {"namespace", "apps"}, {"uid", "u-1"}, {"generation", 3}}},
      {"spec", std::move(spec)}};
}

// The message of the SpecError that parse_spec throws for `spec`.
std::string parse_error(const json& spec) {
  try {
    parse_spec(spec);
  } catch (const SpecError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseSpec, AppliesTheCrdDefaults) {
  SrerachaSpec spec = parse_spec({{"image", "app:1"}});
  EXPECT_EQ(spec.image, "app:1");
  EXPECT_EQ(spec.replicas, 2);
  EXPECT_EQ(spec.port, 80);
  EXPECT_EQ(spec.probe.path, "/?q=healthz");
  EXPECT_EQ(spec.probe.period_seconds, 5);
  EXPECT_EQ(spec.redis.mode, RedisMode::Local);
  EXPECT_EQ(spec.redis.port, 6379);
  EXPECT_EQ(spec.redis.local.image, "redis:7.4.2-alpine");
  EXPECT_FALSE(spec.redis.auth_secret_ref.has_value());
  EXPECT_FALSE(spec.stagger.app_lifetime_seconds.has_value());
  EXPECT_EQ(spec.stagger.recycle_margin_seconds, 5);
  EXPECT_EQ(spec.stagger.start_interval_seconds, 10);
  EXPECT_FALSE(spec.ingress.enabled);
  EXPECT_TRUE(spec.network_policy.enabled);
  EXPECT_TRUE(spec.pod_disruption_budget.enabled);
  EXPECT_TRUE(spec.topology_spread.enabled);
  EXPECT_EQ(spec.topology_spread.topology_key, "topology.kubernetes.io/zone");
  EXPECT_EQ(spec.resources["requests"]["cpu"], "10m");
  EXPECT_EQ(spec.resources["limits"]["memory"], "64Mi");
  EXPECT_TRUE(spec.affinity.is_null());
  EXPECT_TRUE(validate(spec).empty());
}

TEST(ParseSpec, ReadsEveryField) {
  json input = {
      {"image", "app:2"},
      {"imagePullPolicy", "Always"},
      {"imagePullSecrets", {{{"name", "regcred"}}}},
      {"replicas", 5},
      {"port", 8080},
      {"runAsUser", 1000},
      {"runAsGroup", 1001},
      {"probe",
       {{"path", "/x?q=1"},
        {"periodSeconds", 7},
        {"timeoutSeconds", 3},
        {"failureThreshold", 4},
        {"initialDelaySeconds", 2},
        {"startupFailureThreshold", 9}}},
      {"resources", {{"limits", {{"cpu", 1}}}}},
      {"env", {{{"name", "A"}, {"value", "1"}}}},
      {"stagger",
       {{"appLifetimeSeconds", 30}, {"recycleMarginSeconds", 6}, {"startIntervalSeconds", 4}}},
      {"redis",
       {{"mode", "External"},
        {"host", "primary.example.com"},
        {"port", 6380},
        {"tls", true},
        {"authSecretRef", {{"name", "auth"}, {"key", "token"}}},
        {"local", {{"image", "redis:7"}, {"resources", {{"limits", {{"memory", "1Gi"}}}}}}}}},
      {"ingress",
       {{"enabled", true},
        {"className", "alb"},
        {"host", "a.example.com"},
        {"annotations", {{"k", "v"}}},
        {"alb", {{"certificateArn", "arn:aws:acm:x"}, {"scheme", "internal"}}}}},
      {"networkPolicy", {{"enabled", false}}},
      {"podDisruptionBudget", {{"enabled", false}}},
      {"topologySpread",
       {{"enabled", true},
        {"topologyKey", "kubernetes.io/hostname"},
        {"whenUnsatisfiable", "DoNotSchedule"}}},
      {"nodeSelector", {{"disk", "ssd"}}},
      {"tolerations", {{{"key", "k"}, {"operator", "Exists"}}}},
      {"affinity", {{"nodeAffinity", json::object()}}},
      {"podAnnotations", {{"a", "b"}}},
      {"podLabels", {{"team", "sre"}}},
  };
  SrerachaSpec spec = parse_spec(input);
  EXPECT_EQ(spec.image_pull_policy, "Always");
  EXPECT_THAT(spec.image_pull_secrets, ElementsAre("regcred"));
  EXPECT_EQ(spec.replicas, 5);
  EXPECT_EQ(spec.port, 8080);
  EXPECT_EQ(spec.run_as_user, 1000);
  EXPECT_EQ(spec.run_as_group, 1001);
  EXPECT_EQ(spec.probe.path, "/x?q=1");
  EXPECT_EQ(spec.probe.period_seconds, 7);
  EXPECT_EQ(spec.probe.timeout_seconds, 3);
  EXPECT_EQ(spec.probe.failure_threshold, 4);
  EXPECT_EQ(spec.probe.initial_delay_seconds, 2);
  EXPECT_EQ(spec.probe.startup_failure_threshold, 9);
  EXPECT_EQ(spec.resources, json({{"limits", {{"cpu", 1}}}}));  // replaces the default whole
  EXPECT_EQ(spec.env.size(), 1u);
  EXPECT_EQ(spec.stagger.app_lifetime_seconds, 30);
  EXPECT_EQ(spec.stagger.recycle_margin_seconds, 6);
  EXPECT_EQ(spec.stagger.start_interval_seconds, 4);
  EXPECT_EQ(spec.redis.mode, RedisMode::External);
  EXPECT_EQ(spec.redis.host, "primary.example.com");
  EXPECT_EQ(spec.redis.port, 6380);
  EXPECT_TRUE(spec.redis.tls);
  ASSERT_TRUE(spec.redis.auth_secret_ref.has_value());
  EXPECT_EQ(spec.redis.auth_secret_ref->name, "auth");
  EXPECT_EQ(spec.redis.auth_secret_ref->key, "token");
  EXPECT_EQ(spec.redis.local.image, "redis:7");
  EXPECT_EQ(spec.redis.local.resources["limits"]["memory"], "1Gi");
  EXPECT_TRUE(spec.ingress.enabled);
  EXPECT_EQ(spec.ingress.class_name, "alb");
  EXPECT_EQ(spec.ingress.alb.certificate_arn, "arn:aws:acm:x");
  EXPECT_EQ(spec.ingress.alb.scheme, "internal");
  EXPECT_EQ(spec.ingress.annotations.at("k"), "v");
  EXPECT_FALSE(spec.network_policy.enabled);
  EXPECT_FALSE(spec.pod_disruption_budget.enabled);
  EXPECT_EQ(spec.topology_spread.when_unsatisfiable, "DoNotSchedule");
  EXPECT_EQ(spec.node_selector.at("disk"), "ssd");
  EXPECT_EQ(spec.tolerations.size(), 1u);
  EXPECT_TRUE(spec.affinity.contains("nodeAffinity"));
  EXPECT_EQ(spec.pod_annotations.at("a"), "b");
  EXPECT_EQ(spec.pod_labels.at("team"), "sre");
  EXPECT_TRUE(validate(spec).empty()) << validate(spec).front();
}

TEST(ParseSpec, AuthSecretKeyDefaultsToPassword) {
  SrerachaSpec spec = parse_spec({{"image", "a"}, {"redis", {{"authSecretRef", {{"name", "s"}}}}}});
  ASSERT_TRUE(spec.redis.auth_secret_ref.has_value());
  EXPECT_EQ(spec.redis.auth_secret_ref->key, "password");
}

TEST(ParseSpec, NullMeansAbsent) {
  SrerachaSpec spec = parse_spec({{"image", "a"}, {"replicas", nullptr}, {"redis", nullptr}});
  EXPECT_EQ(spec.replicas, 2);
  EXPECT_EQ(spec.redis.mode, RedisMode::Local);
}

TEST(ParseSpec, WrongTypesNameTheirField) {
  EXPECT_EQ(parse_error({{"image", 5}}), "spec.image: must be a string");
  EXPECT_EQ(parse_error({{"image", "a"}, {"replicas", "2"}}), "spec.replicas: must be an integer");
  EXPECT_EQ(parse_error({{"image", "a"}, {"replicas", 1.5}}), "spec.replicas: must be an integer");
  EXPECT_EQ(parse_error({{"image", "a"}, {"port", 1LL << 40}}), "spec.port: is out of range");
  EXPECT_EQ(parse_error({{"image", "a"}, {"redis", {{"tls", "yes"}}}}),
            "spec.redis.tls: must be true or false");
  EXPECT_EQ(parse_error({{"image", "a"}, {"redis", {{"addresses", {"10.0.0.1", 7}}}}}),
            "spec.redis.addresses[1]: must be a string");
  EXPECT_EQ(parse_error({{"image", "a"}, {"podLabels", {{"team", 1}}}}),
            "spec.podLabels.team: must be a string");
  EXPECT_EQ(parse_error({{"image", "a"}, {"probe", "/?q=1"}}), "spec.probe: must be an object");
  EXPECT_EQ(parse_error({{"image", "a"}, {"env", {{{"value", "x"}}}}}),
            "spec.env[0].name: is required");
  EXPECT_EQ(parse_error({{"image", "a"}, {"tolerations", json::object()}}),
            "spec.tolerations: must be a list");
  EXPECT_EQ(parse_error(json::array()), "spec: must be an object");
}

TEST(ParseSpec, UnknownFieldsAndEnumValuesAreRefused) {
  EXPECT_EQ(parse_error({{"image", "a"}, {"replica", 2}}), "spec.replica: unknown field");
  EXPECT_EQ(parse_error({{"image", "a"}, {"redis", {{"hots", "x"}}}}),
            "spec.redis.hots: unknown field");
  EXPECT_EQ(parse_error({{"image", "a"}, {"redis", {{"mode", "Cluster"}}}}),
            "spec.redis.mode: must be one of Local, External, Endpoints");
}

// One rule broken at a time: validate() names exactly that rule.
struct Rule {
  const char* name;
  json spec;
  std::string message;
};

class ValidateRule : public ::testing::TestWithParam<Rule> {};

TEST_P(ValidateRule, GivesItsMessage) {
  const Rule& rule = GetParam();
  json spec = {{"image", "app:1"}};
  spec.merge_patch(rule.spec);
  EXPECT_THAT(validate(parse_spec(spec)), ElementsAre(rule.message));
}

const std::string ingress_host = "spec.ingress.host is required when spec.ingress.enabled is true";

INSTANTIATE_TEST_SUITE_P(
    AllRules, ValidateRule,
    ::testing::Values(
        Rule{"ImageRequired", {{"image", ""}}, "spec.image is required"},
        Rule{"PullPolicy",
             {{"imagePullPolicy", "Sometimes"}},
             "spec.imagePullPolicy must be Always, IfNotPresent or Never"},
        Rule{"ReplicasNegative", {{"replicas", -1}}, "spec.replicas must be between 0 and 100"},
        Rule{"ReplicasTooMany", {{"replicas", 101}}, "spec.replicas must be between 0 and 100"},
        Rule{"PortZero", {{"port", 0}}, "spec.port must be between 1 and 65535"},
        Rule{"PortTooHigh", {{"port", 65536}}, "spec.port must be between 1 and 65535"},
        Rule{"RunAsRoot", {{"runAsUser", 0}}, "spec.runAsUser must be at least 1"},
        Rule{"RunAsRootGroup", {{"runAsGroup", 0}}, "spec.runAsGroup must be at least 1"},
        Rule{"ProbeWithoutQ",
             {{"probe", {{"path", "/healthz"}}}},
             std::string(messages::kProbePathNeedsQ)},
        Rule{"ProbeQNotAParameter",
             {{"probe", {{"path", "/?aq=1"}}}},
             std::string(messages::kProbePathNeedsQ)},
        Rule{"ProbeRelative",
             {{"probe", {{"path", "?q=1"}}}},
             "spec.probe.path must start with '/'"},
        Rule{"ProbePeriod",
             {{"probe", {{"periodSeconds", 0}}}},
             "spec.probe.periodSeconds must be at least 1"},
        Rule{"ProbeTimeout",
             {{"probe", {{"timeoutSeconds", 0}}}},
             "spec.probe.timeoutSeconds must be at least 1"},
        Rule{"ProbeFailures",
             {{"probe", {{"failureThreshold", 0}}}},
             "spec.probe.failureThreshold must be at least 1"},
        Rule{"ProbeDelay",
             {{"probe", {{"initialDelaySeconds", -1}}}},
             "spec.probe.initialDelaySeconds must be at least 0"},
        Rule{"ProbeStartup",
             {{"probe", {{"startupFailureThreshold", 0}}}},
             "spec.probe.startupFailureThreshold must be at least 1"},
        Rule{"EnvRedisUrl",
             {{"env", {{{"name", "REDIS_URL"}, {"value", "x"}}}}},
             std::string(messages::kEnvReserved)},
        Rule{"EnvRedisAuth",
             {{"env", {{{"name", "REDIS_AUTH"}, {"value", "x"}}}}},
             std::string(messages::kEnvReserved)},
        Rule{"EnvDuplicate",
             {{"env", {{{"name", "A"}, {"value", "1"}}, {{"name", "A"}}}}},
             "spec.env has two entries named A"},
        Rule{"MarginNotBelowLifetime",
             {{"stagger", {{"appLifetimeSeconds", 30}, {"recycleMarginSeconds", 30}}}},
             std::string(messages::kMarginBelowLifetime)},
        Rule{"StartupDoesNotFitLifetime",
             {{"stagger", {{"appLifetimeSeconds", 30}, {"startupSeconds", 25}}}},
             std::string(messages::kStartupFitsLifetime)},
        Rule{"StartupBelowOne",
             {{"stagger", {{"startupSeconds", 0}}}},
             "spec.stagger.startupSeconds must be at least 1"},
        Rule{"StartInterval",
             {{"stagger", {{"startIntervalSeconds", -1}}}},
             "spec.stagger.startIntervalSeconds must be at least 0"},
        Rule{
            "RedisPort", {{"redis", {{"port", 0}}}}, "spec.redis.port must be between 1 and 65535"},
        Rule{"ExternalWithoutHost",
             {{"redis", {{"mode", "External"}}}},
             std::string(messages::kExternalNeedsHost)},
        Rule{"HostNotDns",
             {{"redis", {{"mode", "External"}, {"host", "Primary_Endpoint"}}}},
             std::string(messages::kHostIsDnsName)},
        Rule{"EndpointsWithoutAddresses",
             {{"redis", {{"mode", "Endpoints"}}}},
             std::string(messages::kEndpointsNeedAddresses)},
        Rule{"AddressNotIp",
             {{"redis", {{"mode", "Endpoints"}, {"addresses", {"redis.local"}}}}},
             std::string(messages::kAddressIsIp)},
        Rule{"AddressesMixed",
             {{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1", "fd00::1"}}}}},
             std::string(messages::kAddressesOneFamily)},
        Rule{"LocalTls", {{"redis", {{"tls", true}}}}, std::string(messages::kLocalNoTls)},
        Rule{"PersistenceWithoutSize",
             {{"redis", {{"local", {{"persistence", json::object()}}}}}},
             "spec.redis.local.persistence.size is required"},
        Rule{"EndpointsTlsWithoutServerName",
             {{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1"}}, {"tls", true}}}},
             std::string(messages::kEndpointsTlsNeedsServerName)},
        Rule{"ServerNameWithoutTls",
             {{"redis", {{"mode", "External"}, {"host", "r.example"}, {"tlsServerName", "r"}}}},
             std::string(messages::kServerNameNeedsTls)},
        Rule{"ServerNameNotDns",
             {{"redis",
               {{"mode", "External"},
                {"host", "r.example"},
                {"tls", true},
                {"tlsServerName", "Not_A_Name"}}}},
             std::string(messages::kServerNameIsDnsName)},
        Rule{"EnvTlsServerName",
             {{"env", {{{"name", "REDIS_TLS_SERVER_NAME"}, {"value", "x"}}}}},
             std::string(messages::kEnvReserved)},
        Rule{"AuthKeyEmpty",
             {{"redis", {{"authSecretRef", {{"name", "s"}, {"key", ""}}}}}},
             "spec.redis.authSecretRef.key must not be empty"},
        Rule{"AuthNameEmpty",
             {{"redis", {{"authSecretRef", {{"name", ""}}}}}},
             "spec.redis.authSecretRef.name is required"},
        Rule{"LocalImage",
             {{"redis", {{"local", {{"image", ""}}}}}},
             "spec.redis.local.image must not be empty"},
        Rule{"IngressWithoutHost",
             {{"ingress", {{"enabled", true}, {"tlsSecretName", "t"}}}},
             std::string(messages::kIngressNeedsHost)},
        Rule{
            "IngressHostUpperCase",
            {{"ingress", {{"enabled", true}, {"host", "App.example.com"}, {"tlsSecretName", "t"}}}},
            std::string(messages::kIngressHostIsDnsName)},
        Rule{
            "IngressHostInnerWildcard",
            {{"ingress", {{"enabled", true}, {"host", "a.*.example.com"}, {"tlsSecretName", "t"}}}},
            std::string(messages::kIngressHostIsDnsName)},
        Rule{"RequestsAboveLimits",
             {{"resources", {{"requests", {{"cpu", "2"}}}, {"limits", {{"cpu", 1}}}}}},
             std::string(messages::kRequestsWithinLimits)},
        Rule{"RedisRequestsAboveLimits",
             {{"redis",
               {{"local",
                 {{"resources",
                   {{"requests", {{"memory", "1Gi"}}}, {"limits", {{"memory", "512Mi"}}}}}}}}}},
             std::string(messages::kRedisRequestsWithinLimits)},
        Rule{"AlbWithoutCertificate",
             {{"ingress", {{"enabled", true}, {"className", "alb"}, {"host", "a.example.com"}}}},
             std::string(messages::kAlbNeedsCertificate)},
        Rule{"NginxWithoutSecret",
             {{"ingress", {{"enabled", true}, {"className", "nginx"}, {"host", "a.example.com"}}}},
             std::string(messages::kIngressNeedsTlsSecret)},
        Rule{"AlbScheme",
             {{"ingress", {{"alb", {{"scheme", "public"}}}}}},
             "spec.ingress.alb.scheme must be internet-facing or internal"},
        Rule{"SpreadKey",
             {{"topologySpread", {{"topologyKey", ""}}}},
             "spec.topologySpread.topologyKey must not be empty"},
        Rule{"SpreadWhen",
             {{"topologySpread", {{"whenUnsatisfiable", "Never"}}}},
             "spec.topologySpread.whenUnsatisfiable must be ScheduleAnyway or DoNotSchedule"}),
    [](const ::testing::TestParamInfo<Rule>& p) { return std::string(p.param.name); });

TEST(Validate, LifetimeZeroIsAStableApp) {
  // 0 means "never recycle": no margin or start-up has to fit in it.
  SrerachaSpec stable = parse_spec(
      {{"image", "a"}, {"stagger", {{"appLifetimeSeconds", 0}, {"startupSeconds", 60}}}});
  EXPECT_THAT(validate(stable), IsEmpty());
  SrerachaSpec negative = parse_spec({{"image", "a"}, {"stagger", {{"appLifetimeSeconds", -1}}}});
  EXPECT_THAT(validate(negative),
              ElementsAre("spec.stagger.appLifetimeSeconds must be at least 0"));
}

TEST(Validate, AcceptsTheValidVariants) {
  for (const json& patch : {
           json{{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1", "10.0.0.2"}}}}},
           json{{"redis",
                 {{"mode", "Endpoints"},
                  {"addresses", {"fd00::1"}},
                  {"tls", true},
                  {"tlsServerName", "redis.internal"}}}},
           json{{"redis",
                 {{"mode", "External"}, {"host", "a.b.cache.amazonaws.com"}, {"tls", true}}}},
           json{{"ingress",
                 {{"enabled", true},
                  {"className", "alb"},
                  {"host", "a.example.com"},
                  {"tlsSecretName", "t"}}}},
           json{
               {"ingress", {{"enabled", true}, {"host", "a.example.com"}, {"tlsSecretName", "t"}}}},
           json{{"ingress", {{"enabled", false}, {"className", "nginx"}}}},
           json{
               {"ingress", {{"enabled", true}, {"host", "*.example.com"}, {"tlsSecretName", "t"}}}},
           // Equal, written differently; a malformed quantity is the API
           // server's to refuse; a request without its limit is no conflict.
           json{{"resources",
                 {{"requests", {{"cpu", 1}, {"memory", "1Gi"}, {"example.com/w", "abc"}}},
                  {"limits", {{"cpu", "1000m"}, {"memory", "1024Mi"}, {"example.com/w", 1}}}}}},
           json{{"resources", {{"requests", {{"cpu", "5"}}}}}},
           json{{"replicas", 0}, {"port", 65535}, {"probe", {{"path", "/a?b=1&q=2"}}}},
           json{{"stagger", {{"appLifetimeSeconds", 30}, {"recycleMarginSeconds", 29}}}},
       }) {
    json spec = {{"image", "app:1"}};
    spec.merge_patch(patch);
    auto problems = validate(parse_spec(spec));
    EXPECT_TRUE(problems.empty()) << patch.dump() << ": " << problems.front();
  }
}

TEST(ValidateName, NamesChildrenSoMustBeAShortDnsLabel) {
  EXPECT_TRUE(validate_name("sreracha").empty());
  EXPECT_TRUE(validate_name(std::string(57, 'a')).empty());
  EXPECT_THAT(validate_name(std::string(58, 'a')), ElementsAre(std::string(messages::kNameLength)));
  EXPECT_THAT(validate_name("1abc"), ElementsAre(std::string(messages::kNameDnsLabel)));
  EXPECT_THAT(validate_name("a.b"), ElementsAre(std::string(messages::kNameDnsLabel)));
  EXPECT_THAT(validate_name("Abc"), ElementsAre(std::string(messages::kNameDnsLabel)));
  EXPECT_THAT(validate_name(""), ElementsAre("metadata.name is required"));
}

TEST(ParseInstance, ReadsIdentityAndSpec) {
  Instance inst = parse_instance(cr({{"image", "app:1"}, {"replicas", 3}}));
  EXPECT_EQ(inst.name, "demo");
  EXPECT_EQ(inst.ns, "apps");
  EXPECT_EQ(inst.uid, "u-1");
  EXPECT_EQ(inst.generation, 3);
  EXPECT_EQ(inst.spec.replicas, 3);
}

TEST(ParseInstance, FileWithoutNamespaceOrUid) {
  json object = cr({{"image", "app:1"}});
  object["metadata"] = {{"name", "demo"}};
  Instance inst = parse_instance(object);
  EXPECT_EQ(inst.ns, "");
  EXPECT_EQ(inst.uid, "");
  EXPECT_EQ(inst.generation, 0);
}

TEST(ParseInstance, ListsEveryProblem) {
  json object = cr({{"image", ""}, {"replicas", -1}, {"probe", {{"path", "/healthz"}}}});
  object["metadata"]["name"] = "Bad_Name";
  try {
    parse_instance(object);
    FAIL() << "accepted";
  } catch (const SpecError& e) {
    EXPECT_THAT(e.problems(),
                ElementsAre(std::string(messages::kNameDnsLabel), "spec.image is required",
                            "spec.replicas must be between 0 and 100",
                            std::string(messages::kProbePathNeedsQ)));
    EXPECT_THAT(e.what(), HasSubstr("spec.image is required; spec.replicas"));
  }
}

TEST(ParseInstance, RefusesOtherKindsAndMissingSpec) {
  json object = cr({{"image", "a"}});
  object["kind"] = "Deployment";
  EXPECT_THROW(parse_instance(object), SpecError);
  object = cr({{"image", "a"}});
  object.erase("spec");
  EXPECT_THROW(parse_instance(object), SpecError);
  EXPECT_THROW(parse_instance(json::array()), SpecError);
}

}  // namespace
}  // namespace sreracha
