// The CRD, offline: it parses, its schema is structural and documented on
// every field, its defaults are spec.h's defaults, and its CEL messages are
// sreracha::messages. (That the API server accepts it, and refuses bad
// objects with these messages, is tests/e2e/crd_validation_test.sh.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "sreracha/render.h"

namespace sreracha {
namespace {

using json = nlohmann::json;

const std::filesystem::path kCrd =
    std::filesystem::path(SRERACHA_SOURCE_DIR) / "crds" / "sreracha.io_srerachas.yaml";

json crd() {
  auto documents = load_yaml_file(kCrd);
  EXPECT_EQ(documents.size(), 1u);
  return documents.empty() ? json::object() : documents.front();
}

const json& version(const json& crd) { return crd["spec"]["versions"][0]; }

json root_schema() { return version(crd())["schema"]["openAPIV3Schema"]; }

// Calls visit(path, schema) for every schema node reachable by properties,
// items and additionalProperties.
template <typename Visit>
void walk(const json& schema, const std::string& path, const Visit& visit) {
  visit(path, schema);
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      walk(child, path.empty() ? name : path + "." + name, visit);
    }
  }
  if (schema.contains("items")) walk(schema["items"], path + "[]", visit);
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
    walk(schema["additionalProperties"], path + ".*", visit);
  }
}

// What the API server does to a new object: a field absent from the object
// with a default in the schema gets it, then defaulting continues inside.
json apply_defaults(json value, const json& schema) {
  if (value.is_object() && schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      if (!value.contains(name) && child.contains("default")) value[name] = child["default"];
      if (value.contains(name)) value[name] = apply_defaults(value[name], child);
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (auto& item : value) item = apply_defaults(item, schema["items"]);
  }
  return value;
}

TEST(Crd, NamesAndScope) {
  json object = crd();
  EXPECT_EQ(object["apiVersion"], "apiextensions.k8s.io/v1");
  EXPECT_EQ(object["metadata"]["name"], "srerachas.sreracha.io");
  EXPECT_EQ(object["spec"]["group"], kGroup);
  EXPECT_EQ(object["spec"]["scope"], "Namespaced");
  EXPECT_EQ(object["spec"]["names"]["kind"], kKind);
  EXPECT_EQ(object["spec"]["names"]["plural"], kPlural);
  EXPECT_EQ(object["spec"]["names"]["singular"], "sreracha");
  EXPECT_EQ(object["spec"]["names"]["shortNames"], json({"sr"}));
  EXPECT_EQ(version(object)["name"], "v1alpha1");
  EXPECT_EQ(version(object)["served"], true);
  EXPECT_EQ(version(object)["storage"], true);
}

TEST(Crd, StatusAndScaleSubresources) {
  json subresources = version(crd())["subresources"];
  EXPECT_TRUE(subresources.contains("status"));
  EXPECT_EQ(subresources["scale"], json::parse(R"({"specReplicasPath":".spec.replicas",
    "statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"})"));
}

TEST(Crd, PrinterColumns) {
  std::map<std::string, std::string> columns;
  json object = crd();
  for (const auto& column : version(object)["additionalPrinterColumns"]) {
    columns[column["name"].get<std::string>()] = column["jsonPath"].get<std::string>();
  }
  EXPECT_EQ(columns["Ready"], R"(.status.conditions[?(@.type=="Ready")].status)");
  EXPECT_EQ(columns["Replicas"], ".spec.replicas");
  EXPECT_EQ(columns["Redis"], ".spec.redis.mode");
  EXPECT_EQ(columns["Age"], ".metadata.creationTimestamp");
}

TEST(Crd, EveryFieldHasADescription) {
  int fields = 0;
  walk(root_schema(), "", [&](const std::string& path, const json& schema) {
    if (path.empty() || path.ends_with("[]") || path.ends_with(".*")) return;
    // The API server refuses anything but `type: object` on metadata.
    if (path == "metadata") return;
    ++fields;
    EXPECT_FALSE(schema.value("description", "").empty()) << path << " has no description";
  });
  EXPECT_GT(fields, 80);  // the walk did reach the whole schema
}

// Structural: every node says its type, except the int-or-string ones.
TEST(Crd, SchemaIsStructural) {
  walk(root_schema(), "", [&](const std::string& path, const json& schema) {
    if (schema.value("x-kubernetes-int-or-string", false)) {
      EXPECT_EQ(schema["anyOf"], json::parse(R"([{"type":"integer"},{"type":"string"}])")) << path;
      return;
    }
    EXPECT_TRUE(schema.contains("type")) << path << " has no type";
    for (const char* forbidden : {"oneOf", "allOf", "not"}) {
      EXPECT_FALSE(schema.contains(forbidden)) << path;
    }
    if (schema.value("type", "") == "array") {
      EXPECT_TRUE(schema.contains("items")) << path;
    }
  });
  json status = root_schema()["properties"]["status"]["properties"];
  EXPECT_EQ(status["conditions"]["x-kubernetes-list-type"], "map");
  EXPECT_EQ(status["conditions"]["x-kubernetes-list-map-keys"], json({"type"}));
  for (const char* field :
       {"observedGeneration", "replicas", "readyReplicas", "selector", "redisURL", "stagger"}) {
    EXPECT_TRUE(status.contains(field)) << "status." << field;
  }
}

TEST(Crd, BoundsAndRequiredFields) {
  json spec = root_schema()["properties"]["spec"];
  EXPECT_EQ(spec["required"], json({"image"}));
  EXPECT_EQ(spec["properties"]["replicas"]["minimum"], 0);
  EXPECT_EQ(spec["properties"]["replicas"]["maximum"], 100);
  EXPECT_EQ(spec["properties"]["port"]["minimum"], 1);
  EXPECT_EQ(spec["properties"]["port"]["maximum"], 65535);
  EXPECT_EQ(spec["properties"]["redis"]["properties"]["mode"]["enum"],
            json({"Local", "External", "Endpoints"}));
}

// Both directions: every CEL message is one of sreracha::messages, and every
// one of those (which validate() returns) is stated by some CEL rule.
TEST(Crd, CelMessagesAreTheMessagesOfValidate) {
  std::set<std::string> in_crd;
  walk(root_schema(), "", [&](const std::string& path, const json& schema) {
    for (const auto& rule : schema.value("x-kubernetes-validations", json::array())) {
      EXPECT_FALSE(rule.value("rule", "").empty()) << path;
      in_crd.insert(rule.value("message", ""));
    }
  });
  const std::set<std::string> expected = {
      std::string(messages::kProbePathNeedsQ),
      std::string(messages::kExternalNeedsHost),
      std::string(messages::kHostIsDnsName),
      std::string(messages::kEndpointsNeedAddresses),
      std::string(messages::kAddressIsIp),
      std::string(messages::kAddressesOneFamily),
      std::string(messages::kLocalNoTls),
      std::string(messages::kIngressNeedsHost),
      std::string(messages::kAlbNeedsCertificate),
      std::string(messages::kIngressNeedsTlsSecret),
      std::string(messages::kEnvReserved),
      std::string(messages::kMarginBelowLifetime),
      std::string(messages::kStartupFitsLifetime),
      std::string(messages::kNameLength),
      std::string(messages::kNameDnsLabel),
      std::string(messages::kEndpointsTlsNeedsServerName),
      std::string(messages::kServerNameNeedsTls),
      std::string(messages::kServerNameIsDnsName),
      std::string(messages::kRequestsWithinLimits),
      std::string(messages::kRedisRequestsWithinLimits),
      std::string(messages::kIngressHostIsDnsName),
  };
  EXPECT_EQ(in_crd, expected);
}

// A spec defaulted by the CRD renders exactly like the same spec defaulted by
// spec.h, for specs that leave different parts to the defaults.
TEST(Crd, DefaultsAreSpecHDefaults) {
  json spec_schema = root_schema()["properties"]["spec"];
  for (const json& spec : {
           json{{"image", "a"}},
           json{{"image", "a"},
                {"redis", {{"authSecretRef", {{"name", "s"}}}, {"local", json::object()}}}},
           json{{"image", "a"},
                {"probe", {{"periodSeconds", 9}}},
                {"stagger", {{"appLifetimeSeconds", 40}}}},
           json{{"image", "a"},
                {"ingress",
                 {{"enabled", true},
                  {"className", "alb"},
                  {"host", "h.example.com"},
                  {"alb", {{"certificateArn", "arn"}}}}}},
       }) {
    SCOPED_TRACE(spec.dump());
    json defaulted = apply_defaults(spec, spec_schema);
    SrerachaSpec ours = parse_spec(spec);
    SrerachaSpec theirs = parse_spec(defaulted);
    EXPECT_TRUE(validate(theirs).empty());
    Instance a{"demo", "ns", "uid", 1, ours};
    Instance b{"demo", "ns", "uid", 1, theirs};
    EXPECT_EQ(render(a), render(b));
    // Stagger settings are not rendered; compare them directly.
    EXPECT_EQ(ours.stagger.app_lifetime_seconds, theirs.stagger.app_lifetime_seconds);
    EXPECT_EQ(ours.stagger.recycle_margin_seconds, theirs.stagger.recycle_margin_seconds);
    EXPECT_EQ(ours.stagger.start_interval_seconds, theirs.stagger.start_interval_seconds);
    EXPECT_EQ(ours.stagger.startup_seconds, theirs.stagger.startup_seconds);
  }
  // The walk above would pass trivially if the CRD had no defaults at all.
  json defaulted = apply_defaults({{"image", "a"}}, spec_schema);
  EXPECT_EQ(defaulted["replicas"], 2);
  EXPECT_EQ(defaulted["probe"]["path"], "/?q=healthz");
  EXPECT_EQ(defaulted["stagger"]["recycleMarginSeconds"], 5);
  EXPECT_EQ(defaulted["stagger"]["startIntervalSeconds"], 10);
  EXPECT_EQ(defaulted["redis"]["local"]["image"], "redis:7.4.2-alpine");
}

}  // namespace
}  // namespace sreracha
