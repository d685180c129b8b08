// render: the child objects of a Sreracha, checked field by field for the
// rules that matter and as a whole against golden files for every example.
//
// Golden files: tests/unit/sreracha/golden/<example>.yaml hold
// `render(examples/<example>.yaml)`. After an intended change, rewrite them
// with SRERACHA_UPDATE_GOLDEN=1 and review the diff.
#include "sreracha/render.h"
#include "sreracha/stagger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

namespace sreracha {
namespace {

using json = nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::filesystem::path kSource = SRERACHA_SOURCE_DIR;

Instance instance(const json& spec_patch = json::object()) {
  json spec = {{"image", "app:1"}};
  spec.merge_patch(spec_patch);
  return parse_instance({{"apiVersion", "sreracha.io/v1alpha1"},
                         {"kind", "Sreracha"},
                         {"metadata", {{"name", "demo"}, {"namespace", "apps"}, {"uid", "uid-1"}}},
                         {"spec", spec}});
}

const json* find(const std::vector<json>& children, const std::string& kind,
                 const std::string& name) {
  for (const auto& child : children) {
    if (child["kind"] == kind && child["metadata"]["name"] == name) return &child;
  }
  return nullptr;
}

// The object, or a test failure.
json get(const std::vector<json>& children, const std::string& kind, const std::string& name) {
  const json* child = find(children, kind, name);
  EXPECT_NE(child, nullptr) << kind << " " << name << " not rendered";
  return child ? *child : json::object();
}

std::vector<std::string> identities(const std::vector<json>& children) {
  std::vector<std::string> out;
  for (const auto& child : children) {
    out.push_back(child["kind"].get<std::string>() + "/" +
                  child["metadata"]["name"].get<std::string>());
  }
  return out;
}

json app_container(const std::vector<json>& children) {
  return get(children, "Deployment", "demo")["spec"]["template"]["spec"]["containers"][0];
}

json env_var(const json& container, const std::string& name) {
  for (const auto& var : container["env"]) {
    if (var["name"] == name) return var;
  }
  return nullptr;
}

// --- golden files ---------------------------------------------------------

const std::vector<std::string> kExamples = {"local", "elasticache", "endpoints", "ingress-nginx",
                                            "ingress-alb"};

std::vector<json> sreracha_documents(const std::vector<json>& documents) {
  std::vector<json> out;
  for (const auto& document : documents) {
    if (document.value("kind", "") == "Sreracha") out.push_back(document);
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, RenderMatchesGoldenFile) {
  const std::string example = GetParam();
  auto documents = load_yaml_file(kSource / "examples" / (example + ".yaml"));
  auto crs = sreracha_documents(documents);
  ASSERT_EQ(crs.size(), 1u) << "examples/" << example << ".yaml should hold one Sreracha";
  std::vector<json> children = render(parse_instance(crs.front()));
  std::string rendered = "# render(examples/" + example +
                         ".yaml); regenerate with SRERACHA_UPDATE_GOLDEN=1 (render_test)\n" +
                         to_yaml(children);
  // What `render -f` prints reads back as exactly the objects (types intact).
  EXPECT_EQ(load_yaml_documents(rendered), children);

  const auto golden = kSource / "tests/unit/sreracha/golden" / (example + ".yaml");
  const char* update = std::getenv("SRERACHA_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(golden) << rendered;
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(std::filesystem::exists(golden))
      << golden << " missing; run with SRERACHA_UPDATE_GOLDEN=1";
  EXPECT_EQ(rendered, read_file(golden)) << "render of examples/" << example
                                         << ".yaml changed; if intended, rerun with "
                                            "SRERACHA_UPDATE_GOLDEN=1 and review the diff";
}

INSTANTIATE_TEST_SUITE_P(Examples, Golden, ::testing::ValuesIn(kExamples), [](const auto& p) {
  std::string name = p.param;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
});

TEST(Examples, EveryExampleWithASrerachaHasAGoldenTest) {
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    if (sreracha_documents(load_yaml_file(entry.path())).empty()) continue;
    EXPECT_THAT(kExamples, Contains(entry.path().stem().string()))
        << entry.path() << " has no golden test; add it to kExamples";
  }
}

// "Each applies on its own": every Secret an example refers to ships with it,
// and the placeholder values never reach a rendered object.
TEST(Examples, ShipTheSecretsTheyNeedAndNeverRenderThem) {
  for (const auto& example : kExamples) {
    SCOPED_TRACE(example);
    auto documents = load_yaml_file(kSource / "examples" / (example + ".yaml"));
    std::map<std::string, json> secrets;
    for (const auto& document : documents) {
      if (document.value("kind", "") == "Secret") {
        json data = document.value("stringData", json::object());
        secrets[document["metadata"]["name"].get<std::string>()] = data;
      }
    }
    Instance inst = parse_instance(sreracha_documents(documents).front());
    std::string rendered = to_yaml(render(inst));
    if (const auto& auth = inst.spec.redis.auth_secret_ref) {
      ASSERT_TRUE(secrets.count(auth->name)) << "missing Secret " << auth->name;
      ASSERT_TRUE(secrets[auth->name].contains(auth->key)) << "Secret lacks key " << auth->key;
    }
    if (inst.spec.ingress.enabled && !inst.spec.ingress.tls_secret_name.empty()) {
      const json& tls = secrets[inst.spec.ingress.tls_secret_name];
      EXPECT_TRUE(tls.contains("tls.crt") && tls.contains("tls.key"))
          << "missing TLS Secret " << inst.spec.ingress.tls_secret_name;
    }
    for (const auto& [name, data] : secrets) {
      for (const auto& [key, value] : data.items()) {
        EXPECT_THAT(rendered, Not(HasSubstr(value.get<std::string>()))) << name << "/" << key;
      }
    }
    EXPECT_THAT(redis_url_for_app(inst), Not(HasSubstr("@")));
  }
}

// --- which children -----------------------------------------------------

TEST(Render, ChildrenPerRedisModeInAFixedOrder) {
  EXPECT_THAT(identities(render(instance())),
              ElementsAre("Deployment/demo-redis", "Service/demo-redis", "NetworkPolicy/demo-redis",
                          "Deployment/demo", "Service/demo", "PodDisruptionBudget/demo"));
  EXPECT_THAT(
      identities(render(instance({{"redis", {{"mode", "External"}, {"host", "r.example.com"}}}}))),
      ElementsAre("Service/demo-redis", "Deployment/demo", "Service/demo",
                  "PodDisruptionBudget/demo"));
  EXPECT_THAT(identities(render(
                  instance({{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1"}}}}}))),
              ElementsAre("Service/demo-redis", "EndpointSlice/demo-redis", "Deployment/demo",
                          "Service/demo", "PodDisruptionBudget/demo"));
}

TEST(Render, GuardsCanBeTurnedOffAndIngressOn) {
  auto children = render(instance(
      {{"networkPolicy", {{"enabled", false}}},
       {"podDisruptionBudget", {{"enabled", false}}},
       {"ingress", {{"enabled", true}, {"host", "a.example.com"}, {"tlsSecretName", "tls"}}}}));
  EXPECT_THAT(identities(children), ElementsAre("Deployment/demo-redis", "Service/demo-redis",
                                                "Deployment/demo", "Service/demo", "Ingress/demo"));
}

TEST(Render, AuthChecksumFollowsThePasswordAndTheSecretAndDoesNotShowEither) {
  const std::string checksum = auth_checksum("uid-1", "cHc=");
  EXPECT_EQ(checksum, auth_checksum("uid-1", "cHc="));
  EXPECT_EQ(checksum.size(), 64u);
  EXPECT_EQ(checksum.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(checksum, auth_checksum("uid-1", "cHd="));
  EXPECT_NE(checksum, auth_checksum("uid-2", "cHc=")) << "salted by the Secret's UID";
  EXPECT_EQ(checksum.find("cHc="), std::string::npos);
}

TEST(Render, PodAnnotationsFromTheOptionsGoOnTheirTemplateAndChangeItsHash) {
  const Instance inst = instance({{"redis", {{"authSecretRef", {{"name", "auth"}}}}}});
  RenderOptions options;
  options.app_pod_annotations[std::string(kAuthChecksumAnnotation)] = "app-sum";
  options.redis_pod_annotations[std::string(kAuthChecksumAnnotation)] = "redis-sum";
  const auto plain = render(inst);
  const auto annotated = render(inst, options);
  const json::json_pointer at("/spec/template/metadata/annotations");
  const std::string checksum(kAuthChecksumAnnotation);
  const std::string template_hash(stagger::kTemplateHashAnnotation);
  ASSERT_NE(find(annotated, "Deployment", "demo"), nullptr);
  ASSERT_NE(find(annotated, "Deployment", "demo-redis"), nullptr);
  EXPECT_EQ(find(annotated, "Deployment", "demo")->at(at)[checksum], "app-sum");
  EXPECT_EQ(find(annotated, "Deployment", "demo-redis")->at(at)[checksum], "redis-sum");
  EXPECT_NE(find(annotated, "Deployment", "demo")->at(at)[template_hash],
            find(plain, "Deployment", "demo")->at(at)[template_hash])
      << "a new password is a new template: stagger planning sees a rollout";
}

TEST(Render, EveryRenderedChildIsAPossibleChild) {
  Instance inst = instance(
      {{"ingress", {{"enabled", true}, {"host", "a.example.com"}, {"tlsSecretName", "tls"}}}});
  auto possible = all_possible_children(inst);
  std::set<ChildRef> possible_set(possible.begin(), possible.end());
  EXPECT_EQ(possible_set.size(), possible.size());
  for (const json& mode :
       {json{{"mode", "Local"}}, json{{"mode", "Endpoints"}, {"addresses", {"10.0.0.1"}}},
        json{{"mode", "External"}, {"host", "r.example.com"}}}) {
    inst.spec.redis = parse_spec({{"image", "a"}, {"redis", mode}}).redis;
    for (const auto& child : render(inst)) {
      ChildRef ref = ref_of(child);
      EXPECT_FALSE(ref.resource.empty()) << ref.kind;
      EXPECT_TRUE(possible_set.count(ref)) << ref.kind << "/" << ref.name;
    }
  }
}

TEST(Render, IsDeterministic) {
  Instance inst = instance({{"podLabels", {{"b", "2"}, {"a", "1"}}}});
  EXPECT_EQ(to_yaml(render(inst)), to_yaml(render(inst)));
  EXPECT_EQ(render(inst), render(inst));
}

// --- identity: labels, namespace, owner ----------------------------------

TEST(Render, EveryChildIsLabelledAndControlledByTheSreracha) {
  for (const auto& child : render(instance())) {
    SCOPED_TRACE(child["kind"].get<std::string>());
    const json& meta = child["metadata"];
    EXPECT_EQ(meta["namespace"], "apps");
    EXPECT_EQ(meta["labels"]["app.kubernetes.io/name"], "sreracha");
    EXPECT_EQ(meta["labels"]["app.kubernetes.io/instance"], "demo");
    EXPECT_EQ(meta["labels"]["app.kubernetes.io/managed-by"], "sreracha-operator");
    EXPECT_TRUE(meta["labels"].contains("app.kubernetes.io/component"));
    EXPECT_EQ(meta["ownerReferences"],
              json::parse(R"([{"apiVersion":"sreracha.io/v1alpha1","kind":"Sreracha",
                "name":"demo","uid":"uid-1","controller":true,"blockOwnerDeletion":true}])"));
  }
}

TEST(Render, WithoutAUidThereIsNoOwnerReferenceOrNamespace) {
  Instance inst = instance();
  inst.uid.clear();
  inst.ns.clear();
  for (const auto& child : render(inst)) {
    EXPECT_FALSE(child["metadata"].contains("ownerReferences"));
    EXPECT_FALSE(child["metadata"].contains("namespace"));
  }
}

TEST(Render, SelectorsAllNameTheAppPods) {
  auto children = render(instance());
  json selector = app_selector_labels(instance());
  json deployment = get(children, "Deployment", "demo");
  EXPECT_EQ(deployment["spec"]["selector"]["matchLabels"], selector);
  EXPECT_EQ(get(children, "Service", "demo")["spec"]["selector"], selector);
  EXPECT_EQ(get(children, "PodDisruptionBudget", "demo")["spec"]["selector"]["matchLabels"],
            selector);
  json pod = deployment["spec"]["template"];
  EXPECT_EQ(pod["spec"]["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"], selector);
  for (const auto& [key, value] : selector.items())
    EXPECT_EQ(pod["metadata"]["labels"][key], value);
  EXPECT_EQ(app_selector_string(instance()),
            "app.kubernetes.io/component=app,app.kubernetes.io/instance=demo,"
            "app.kubernetes.io/name=sreracha");
}

TEST(Render, PodLabelsCannotOverrideSelectorLabels) {
  auto children = render(instance({{"podLabels",
                                    {{"app.kubernetes.io/instance", "other"},
                                     {"app.kubernetes.io/component", "redis"},
                                     {"app.kubernetes.io/name", "x"},
                                     {"app.kubernetes.io/managed-by", "me"},
                                     {"team", "sre"}}}}));
  json labels = get(children, "Deployment", "demo")["spec"]["template"]["metadata"]["labels"];
  EXPECT_EQ(labels["app.kubernetes.io/instance"], "demo");
  EXPECT_EQ(labels["app.kubernetes.io/component"], "app");
  EXPECT_EQ(labels["app.kubernetes.io/name"], "sreracha");
  EXPECT_EQ(labels["app.kubernetes.io/managed-by"], "sreracha-operator");
  EXPECT_EQ(labels["team"], "sre");
}

// --- the app Deployment ---------------------------------------------------

TEST(AppDeployment, RollsMakeBeforeBreakWithTheReplicasAsked) {
  json spec = get(render(instance({{"replicas", 4}})), "Deployment", "demo")["spec"];
  EXPECT_EQ(spec["replicas"], 4);
  EXPECT_EQ(spec["strategy"], json::parse(R"({"type":"RollingUpdate",
    "rollingUpdate":{"maxSurge":1,"maxUnavailable":0}})"));

  RenderOptions options;
  options.deployment_replicas = 1;  // stagger planning raises replicas one at a time
  options.app_pod_annotations = {{"sreracha.io/auth-checksum", "abc"}};
  json staged = get(render(instance({{"replicas", 4}}), options), "Deployment", "demo")["spec"];
  EXPECT_EQ(staged["replicas"], 1);
  EXPECT_EQ(staged["template"]["metadata"]["annotations"]["sreracha.io/auth-checksum"], "abc");
}

TEST(AppDeployment, AnEvictedPodServesUntilItsEndpointIsGone) {
  // A sleep action, not an exec: the app's image need not have a shell.
  EXPECT_EQ(app_container(render(instance()))["lifecycle"],
            json::parse(R"({"preStop":{"sleep":{"seconds":3}}})"));
}

TEST(AppDeployment, ProbesUseTheQPathOnTheAppPort) {
  json container = app_container(render(instance(
      {{"port", 8080},
       {"probe", {{"path", "/?q=ok"}, {"periodSeconds", 7}, {"initialDelaySeconds", 3}}}})));
  EXPECT_EQ(container["ports"],
            json::parse(R"([{"name":"http","containerPort":8080,"protocol":"TCP"}])"));
  for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
    SCOPED_TRACE(probe);
    EXPECT_EQ(container[probe]["httpGet"], json::parse(R"({"path":"/?q=ok","port":"http"})"));
    EXPECT_EQ(container[probe]["periodSeconds"], 7);
    EXPECT_EQ(container[probe]["timeoutSeconds"], 2);
  }
  EXPECT_EQ(container["startupProbe"]["failureThreshold"], 30);
  EXPECT_EQ(container["startupProbe"]["initialDelaySeconds"], 3);
  EXPECT_EQ(container["readinessProbe"]["failureThreshold"], 3);
  EXPECT_FALSE(container["readinessProbe"].contains("initialDelaySeconds"));
}

TEST(AppDeployment, RunsRestrictedAndNonRoot) {
  auto children = render(instance());
  json pod = get(children, "Deployment", "demo")["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  EXPECT_EQ(pod["automountServiceAccountToken"], false);
  EXPECT_EQ(pod["enableServiceLinks"], false);
  json security = pod["containers"][0]["securityContext"];
  EXPECT_EQ(security["allowPrivilegeEscalation"], false);
  EXPECT_EQ(security["readOnlyRootFilesystem"], true);
  EXPECT_EQ(security["runAsNonRoot"], true);
  EXPECT_EQ(security["capabilities"]["drop"], json({"ALL"}));
  EXPECT_FALSE(security["capabilities"].contains("add"));
}

// A named USER (the app's "www") cannot be verified as non-root: the pod
// always names a numeric user and group, the spec's or the default.
TEST(AppDeployment, RunsAsANumericUserAndGroup) {
  auto security = [](json spec) {
    return get(render(instance(std::move(spec))), "Deployment",
               "demo")["spec"]["template"]["spec"]["securityContext"];
  };
  EXPECT_EQ(security(json::object())["runAsUser"], kDefaultAppUid);
  EXPECT_EQ(security(json::object())["runAsGroup"], kDefaultAppGid);
  EXPECT_EQ(security({{"runAsUser", 33}})["runAsUser"], 33);
  EXPECT_EQ(security({{"runAsUser", 33}})["runAsGroup"], kDefaultAppGid);
  EXPECT_EQ(security({{"runAsUser", 33}, {"runAsGroup", 34}})["runAsGroup"], 34);
}

TEST(AppDeployment, UnprivilegedPortSysctlOnlyBelow1024) {
  auto sysctls = [](int port) {
    json pod =
        get(render(instance({{"port", port}})), "Deployment", "demo")["spec"]["template"]["spec"];
    return pod["securityContext"].value("sysctls", json());
  };
  json expected = json::parse(R"([{"name":"net.ipv4.ip_unprivileged_port_start","value":"0"}])");
  EXPECT_EQ(sysctls(80), expected);
  EXPECT_EQ(sysctls(1), expected);
  EXPECT_EQ(sysctls(1023), expected);
  EXPECT_TRUE(sysctls(1024).is_null());
  EXPECT_TRUE(sysctls(8080).is_null());
}

TEST(AppDeployment, SpreadsOverZonesUnlessDisabled) {
  json pod = get(render(instance()), "Deployment", "demo")["spec"]["template"]["spec"];
  json constraint = pod["topologySpreadConstraints"][0];
  EXPECT_EQ(constraint["maxSkew"], 1);
  EXPECT_EQ(constraint["topologyKey"], "topology.kubernetes.io/zone");
  EXPECT_EQ(constraint["whenUnsatisfiable"], "ScheduleAnyway");

  pod = get(render(instance({{"topologySpread", {{"enabled", false}}}})), "Deployment",
            "demo")["spec"]["template"]["spec"];
  EXPECT_FALSE(pod.contains("topologySpreadConstraints"));
}

TEST(AppDeployment, DefaultResourcesAndPassThroughs) {
  json container = app_container(render(instance()));
  EXPECT_EQ(container["resources"], json::parse(R"({"requests":{"cpu":"10m","memory":"16Mi"},
    "limits":{"cpu":"100m","memory":"64Mi"}})"));
  EXPECT_FALSE(container.contains("imagePullPolicy"));

  json tolerations = json::parse(
      R"([{"key":"dedicated","operator":"Equal","value":"web","effect":"NoSchedule"}])");
  json affinity = json::parse(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
    {"nodeSelectorTerms":[{"matchExpressions":[{"key":"arch","operator":"In","values":["arm64"]}]}]}}})");
  auto children = render(instance({{"imagePullPolicy", "Always"},
                                   {"imagePullSecrets", {{{"name", "regcred"}}}},
                                   {"env", {{{"name", "LOG"}, {"value", "debug"}}}},
                                   {"nodeSelector", {{"pool", "web"}}},
                                   {"tolerations", tolerations},
                                   {"affinity", affinity},
                                   {"podAnnotations", {{"prometheus.io/scrape", "true"}}}}));
  json pod = get(children, "Deployment", "demo")["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["annotations"]["prometheus.io/scrape"], "true");
  EXPECT_EQ(pod["metadata"]["annotations"].size(), 2u) << "the user's and the template hash";
  EXPECT_EQ(pod["spec"]["imagePullSecrets"], json::parse(R"([{"name":"regcred"}])"));
  EXPECT_EQ(pod["spec"]["nodeSelector"], json({{"pool", "web"}}));
  EXPECT_EQ(pod["spec"]["tolerations"], tolerations);
  EXPECT_EQ(pod["spec"]["affinity"], affinity);
  // The local Redis goes where the app may go; the app's affinity is its own.
  json redis_pod = get(children, "Deployment", "demo-redis")["spec"]["template"]["spec"];
  EXPECT_EQ(redis_pod["nodeSelector"], json({{"pool", "web"}}));
  EXPECT_EQ(redis_pod["tolerations"], tolerations);
  EXPECT_FALSE(redis_pod.contains("affinity"));
  container = pod["spec"]["containers"][0];
  EXPECT_EQ(container["imagePullPolicy"], "Always");
  EXPECT_EQ(container["env"].back(), json({{"name", "LOG"}, {"value", "debug"}}));
}

// --- REDIS_URL and secrets ------------------------------------------------

struct UrlCase {
  const char* name;
  json redis;
  std::string url;
};

class RedisUrl : public ::testing::TestWithParam<UrlCase> {};

// One URL for the app and for status: it never holds the password.
TEST_P(RedisUrl, NamesTheServerAndNoPassword) {
  const UrlCase& c = GetParam();
  Instance inst = instance({{"redis", c.redis}});
  EXPECT_EQ(redis_url_for_app(inst), c.url);
  EXPECT_EQ(env_var(app_container(render(inst)), "REDIS_URL")["value"], c.url);
}

const json kAuth = {{"name", "auth"}, {"key", "token"}};
const char* const kHost = "master.x.abc.use1.cache.amazonaws.com";

INSTANTIATE_TEST_SUITE_P(
    Forms, RedisUrl,
    ::testing::Values(
        UrlCase{"Local", json::object(), "redis://demo-redis:6379"},
        UrlCase{"LocalAuth", {{"authSecretRef", kAuth}}, "redis://demo-redis:6379"},
        UrlCase{"LocalPort", {{"port", 7000}}, "redis://demo-redis:7000"},
        UrlCase{
            "ExternalPlain", {{"mode", "External"}, {"host", kHost}}, "redis://demo-redis:6379"},
        // TLS names the real host: the certificate would not match the alias.
        UrlCase{"ExternalTls",
                {{"mode", "External"}, {"host", kHost}, {"tls", true}},
                std::string("rediss://") + kHost + ":6379"},
        UrlCase{"ExternalTlsAuth",
                {{"mode", "External"}, {"host", kHost}, {"tls", true}, {"authSecretRef", kAuth}},
                std::string("rediss://") + kHost + ":6379"},
        UrlCase{"Endpoints",
                {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1"}}},
                "redis://demo-redis:6379"},
        UrlCase{"EndpointsTlsAuth",
                {{"mode", "Endpoints"},
                 {"addresses", {"10.0.0.1"}},
                 {"tls", true},
                 {"tlsServerName", "redis.internal"},
                 {"authSecretRef", kAuth}},
                "rediss://demo-redis:6379"}),
    [](const auto& p) { return std::string(p.param.name); });

// Endpoints + TLS: the URL names the alias, the certificate another name.
TEST(RedisTls, TheServerNameGoesToTheAppBesideTheUrl) {
  json container = app_container(render(instance({{"redis",
                                                   {{"mode", "Endpoints"},
                                                    {"addresses", {"10.0.0.1"}},
                                                    {"tls", true},
                                                    {"tlsServerName", "redis.internal"}}}})));
  EXPECT_EQ(env_var(container, "REDIS_URL")["value"], "rediss://demo-redis:6379");
  EXPECT_EQ(env_var(container, "REDIS_TLS_SERVER_NAME")["value"], "redis.internal");
  EXPECT_TRUE(env_var(app_container(render(instance())), "REDIS_TLS_SERVER_NAME").is_null());
}

TEST(Secrets, ThePasswordReachesTheAppOnlyAsRedisAuthFromTheSecret) {
  json container = app_container(render(instance({{"redis", {{"authSecretRef", kAuth}}}})));
  EXPECT_EQ(env_var(container, "REDIS_AUTH"), json::parse(R"({"name":"REDIS_AUTH",
    "valueFrom":{"secretKeyRef":{"name":"auth","key":"token"}}})"));
  EXPECT_THAT(container.dump(), Not(HasSubstr("$(REDIS_AUTH)")))
      << "a password in a URL would need percent-encoding the kubelet cannot do";

  json plain = app_container(render(instance()));
  EXPECT_TRUE(env_var(plain, "REDIS_AUTH").is_null());
}

// No rendered object carries a password or makes the kubelet put one in argv.
TEST(Secrets, NoPasswordInAnyObject) {
  auto children = render(instance({{"redis", {{"authSecretRef", kAuth}}}}));
  for (const auto& child : children) {
    std::string text = child.dump();
    EXPECT_THAT(text, Not(HasSubstr("requirepass\",")));  // not an argument
    EXPECT_THAT(text, Not(HasSubstr("--requirepass")));
    EXPECT_THAT(text, Not(HasSubstr("$(REDISCLI_AUTH)")));  // the kubelet would expand it
  }
  for (const auto& child : children) {
    if (child["kind"] != "Deployment") continue;
    for (const auto& container : child["spec"]["template"]["spec"]["containers"]) {
      EXPECT_FALSE(container.contains("args"));
      for (const auto& var : container.value("env", json::array())) {
        if (var["name"] == "REDIS_AUTH" || var["name"] == "REDISCLI_AUTH") {
          EXPECT_FALSE(var.contains("value")) << var.dump();
          EXPECT_EQ(var["valueFrom"]["secretKeyRef"], kAuth);
        }
      }
    }
  }
}

// --- Redis ----------------------------------------------------------------

TEST(LocalRedis, OneNonRootReplicaWithPingReadiness) {
  auto children = render(instance({{"redis", {{"authSecretRef", kAuth}}}}));
  json deployment = get(children, "Deployment", "demo-redis");
  EXPECT_EQ(deployment["metadata"]["labels"]["app.kubernetes.io/component"], "redis");
  EXPECT_EQ(deployment["spec"]["replicas"], 1);
  EXPECT_EQ(deployment["spec"]["strategy"]["type"], "Recreate");
  json pod = deployment["spec"]["template"]["spec"];
  EXPECT_EQ(pod["securityContext"]["runAsUser"], 999);
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  json container = pod["containers"][0];
  EXPECT_EQ(container["image"], "redis:7.4.2-alpine");
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"], "/data");
  EXPECT_EQ(container["readinessProbe"]["exec"]["command"],
            json({"sh", "-c", "redis-cli ping | grep -q PONG"}));
  EXPECT_EQ(container["env"], json::parse(R"([{"name":"REDISCLI_AUTH",
    "valueFrom":{"secretKeyRef":{"name":"auth","key":"token"}}}])"));
  EXPECT_EQ(container["resources"]["limits"]["memory"], "128Mi");
  std::string script = container["command"][2];
  EXPECT_THAT(script, HasSubstr("requirepass \"$pass\""));
  EXPECT_THAT(script, HasSubstr("exec redis-server -"));

  json open = get(render(instance()), "Deployment", "demo-redis");
  std::string open_script = open["spec"]["template"]["spec"]["containers"][0]["command"][2];
  EXPECT_THAT(open_script, Not(HasSubstr("requirepass")));
  EXPECT_THAT(open_script, HasSubstr("protected-mode no"));
}

// The start script really quotes any password for redis.conf: run it with
// redis-server replaced by cat and read the config it would get.
TEST(LocalRedis, StartScriptQuotesThePasswordForRedisConf) {
  json deployment =
      get(render(instance({{"redis", {{"authSecretRef", kAuth}}}})), "Deployment", "demo-redis");
  std::string script = deployment["spec"]["template"]["spec"]["containers"][0]["command"][2];
  const std::string exec = "exec redis-server -";
  ASSERT_NE(script.find(exec), std::string::npos);
  script.replace(script.find(exec), exec.size(), "exec cat");

  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("sreracha-redis-script-" + std::to_string(::getpid()));
  std::ofstream(file) << script;
  // A password with the characters that matter: quote, backslash, $, space.
  setenv("REDISCLI_AUTH", "p\"a\\s $HOME `x`", 1);
  FILE* out = popen(("sh " + file.string()).c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string config;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, out)) config.append(buf, n);
  EXPECT_EQ(pclose(out), 0);
  unsetenv("REDISCLI_AUTH");
  std::filesystem::remove(file);
  EXPECT_EQ(config, "port 6379\ndir /data\nrequirepass \"p\\\"a\\\\s $HOME `x`\"\n");
}

TEST(RedisService, PerMode) {
  json local = get(render(instance()), "Service", "demo-redis")["spec"];
  EXPECT_EQ(local["type"], "ClusterIP");
  EXPECT_EQ(local["selector"]["app.kubernetes.io/component"], "redis");
  EXPECT_EQ(local["selector"]["app.kubernetes.io/instance"], "demo");
  EXPECT_EQ(local["ports"][0]["port"], 6379);
  EXPECT_EQ(local["ports"][0]["targetPort"], "redis");

  json external =
      get(render(instance({{"redis", {{"mode", "External"}, {"host", kHost}, {"port", 6380}}}})),
          "Service", "demo-redis")["spec"];
  EXPECT_EQ(external["type"], "ExternalName");
  EXPECT_EQ(external["externalName"], kHost);
  EXPECT_FALSE(external.contains("selector"));

  auto children = render(
      instance({{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1", "10.0.0.2"}}}}}));
  json endpoints = get(children, "Service", "demo-redis")["spec"];
  EXPECT_EQ(endpoints["type"], "ClusterIP");
  EXPECT_FALSE(endpoints.contains("selector"));
  EXPECT_EQ(endpoints["ports"][0]["name"], "redis");
}

TEST(RedisEndpointSlice, CarriesTheAddressesForTheService) {
  auto children = render(
      instance({{"redis", {{"mode", "Endpoints"}, {"addresses", {"10.0.0.1", "10.0.0.2"}}}}}));
  json slice = get(children, "EndpointSlice", "demo-redis");
  EXPECT_EQ(slice["apiVersion"], "discovery.k8s.io/v1");
  EXPECT_EQ(slice["metadata"]["labels"]["kubernetes.io/service-name"], "demo-redis");
  EXPECT_EQ(slice["addressType"], "IPv4");
  EXPECT_EQ(slice["ports"], json::parse(R"([{"name":"redis","port":6379,"protocol":"TCP"}])"));
  EXPECT_EQ(slice["endpoints"], json::parse(R"([
    {"addresses":["10.0.0.1"],"conditions":{"ready":true}},
    {"addresses":["10.0.0.2"],"conditions":{"ready":true}}])"));

  json v6 = get(render(instance({{"redis", {{"mode", "Endpoints"}, {"addresses", {"fd00::10"}}}}})),
                "EndpointSlice", "demo-redis");
  EXPECT_EQ(v6["addressType"], "IPv6");
}

TEST(RedisNetworkPolicy, OnlyThisInstancesAppPodsOnTheRedisPort) {
  json spec = get(render(instance()), "NetworkPolicy", "demo-redis")["spec"];
  EXPECT_EQ(spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"], "redis");
  EXPECT_EQ(spec["policyTypes"], json({"Ingress"}));
  ASSERT_EQ(spec["ingress"].size(), 1u);
  EXPECT_EQ(spec["ingress"][0]["from"],
            json({{{"podSelector", {{"matchLabels", app_selector_labels(instance())}}}}}));
  EXPECT_EQ(spec["ingress"][0]["ports"], json::parse(R"([{"protocol":"TCP","port":6379}])"));
}

// --- Service, PDB, Ingress -------------------------------------------------

TEST(AppService, Port80ToTheAppPort) {
  json spec = get(render(instance({{"port", 8080}})), "Service", "demo")["spec"];
  EXPECT_EQ(spec["type"], "ClusterIP");
  EXPECT_EQ(spec["ports"],
            json::parse(R"([{"name":"http","port":80,"targetPort":"http","protocol":"TCP"}])"));
}

TEST(PodDisruptionBudget, AtMostOneOfTheSpecsReplicasAtATime) {
  json pdb = get(render(instance({{"replicas", 3}})), "PodDisruptionBudget", "demo");
  EXPECT_EQ(pdb["apiVersion"], "policy/v1");
  // Counted from the spec, not from the Deployment's replicas, which
  // staggering raises by the replacements it starts.
  EXPECT_EQ(pdb["spec"]["minAvailable"], 2);
  EXPECT_FALSE(pdb["spec"].contains("maxUnavailable"));
  EXPECT_EQ(pdb["spec"]["unhealthyPodEvictionPolicy"], "AlwaysAllow");
  EXPECT_EQ(get(render(instance({{"replicas", 1}})), "PodDisruptionBudget",
                "demo")["spec"]["minAvailable"],
            0);
}

TEST(AppDeployment, PodsCarryTheHashOfTheirTemplate) {
  auto hash_of = [](const json& spec) {
    return get(render(instance(spec)), "Deployment",
               "demo")["spec"]["template"]["metadata"]["annotations"]
                      [std::string(stagger::kTemplateHashAnnotation)];
  };
  const json base = hash_of(json::object());
  ASSERT_TRUE(base.is_string());
  EXPECT_EQ(base.get<std::string>().size(), 16u);
  EXPECT_EQ(hash_of({{"replicas", 7}}), base) << "replicas are not in the template";
  EXPECT_NE(hash_of({{"image", "sreracha:2"}}), base);
  EXPECT_NE(hash_of({{"env", {{{"name", "A"}, {"value", "1"}}}}}), base);
}

TEST(Ingress, AlbGetsTheLoadBalancerControllerAnnotations) {
  auto children = render(instance(
      {{"probe", {{"path", "/?q=alb"}}},
       {"ingress",
        {{"enabled", true},
         {"className", "alb"},
         {"host", "a.example.com"},
         {"annotations", {{"alb.ingress.kubernetes.io/scheme", "internal"}, {"extra", "1"}}},
         {"alb", {{"certificateArn", "arn:aws:acm:cert"}}}}}}));
  json ingress = get(children, "Ingress", "demo");
  EXPECT_EQ(ingress["metadata"]["annotations"], json::parse(R"({
    "alb.ingress.kubernetes.io/scheme": "internal",
    "alb.ingress.kubernetes.io/target-type": "ip",
    "alb.ingress.kubernetes.io/listen-ports": "[{\"HTTP\":80},{\"HTTPS\":443}]",
    "alb.ingress.kubernetes.io/ssl-redirect": "443",
    "alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:cert",
    "alb.ingress.kubernetes.io/healthcheck-path": "/?q=alb",
    "alb.ingress.kubernetes.io/success-codes": "200",
    "extra": "1"})"));
  EXPECT_EQ(ingress["spec"]["ingressClassName"], "alb");
  EXPECT_EQ(ingress["spec"]["tls"], json::parse(R"([{"hosts":["a.example.com"]}])"));
  EXPECT_EQ(ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"],
            json::parse(R"({"service":{"name":"demo","port":{"name":"http"}}})"));
}

TEST(Ingress, NginxRedirectsAndUsesTheTlsSecret) {
  json ingress = get(render(instance({{"ingress",
                                       {{"enabled", true},
                                        {"className", "nginx"},
                                        {"host", "a.example.com"},
                                        {"tlsSecretName", "web-tls"}}}})),
                     "Ingress", "demo");
  EXPECT_EQ(ingress["metadata"]["annotations"],
            json({{"nginx.ingress.kubernetes.io/force-ssl-redirect", "true"}}));
  EXPECT_EQ(ingress["spec"]["tls"],
            json::parse(R"([{"hosts":["a.example.com"],"secretName":"web-tls"}])"));
  EXPECT_EQ(ingress["spec"]["rules"][0]["host"], "a.example.com");
}

TEST(Ingress, OtherClassesGetNoAnnotationsOfOurs) {
  json ingress =
      get(render(instance(
              {{"ingress",
                {{"enabled", true}, {"host", "a.example.com"}, {"tlsSecretName", "web-tls"}}}})),
          "Ingress", "demo");
  EXPECT_FALSE(ingress["metadata"].contains("annotations"));
  EXPECT_FALSE(ingress["spec"].contains("ingressClassName"));
}

}  // namespace
}  // namespace sreracha
