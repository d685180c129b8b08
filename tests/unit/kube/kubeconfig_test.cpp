// Loading kubeconfig files and in-cluster configuration (kube/config.h):
// every variant client-go accepts that the operator relies on, and the
// error messages for broken ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cpprest/asyncrt_utils.h>

#include "config_error.h"
#include "kube/config.h"
#include "kube/errors.h"
#include "support/temp_dir.h"

namespace {

using test_support::ScopedEnv;
using test_support::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string b64(const std::string& text) {
  return utility::conversions::to_base64(std::vector<unsigned char>(text.begin(), text.end()));
}

// A kubeconfig with one cluster, one user and one context; `user` and
// `cluster` are the YAML bodies (indented by 4).
std::string kubeconfig(const std::string& cluster, const std::string& user,
                       const std::string& context_extra = "    namespace: team-a\n") {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n- name: c1\n  cluster:\n" +
         cluster + "users:\n- name: u1\n  user:\n" + user +
         "contexts:\n- name: ctx1\n  context:\n    cluster: c1\n    user: u1\n" + context_extra +
         "current-context: ctx1\n";
}

TEST(Kubeconfig, EmbeddedDataIsDecoded) {
  TempDir dir;
  const auto file =
      dir.write("config", kubeconfig("    server: https://10.0.0.1:6443\n"
                                     "    certificate-authority-data: " +
                                         b64("CA PEM") + "\n",
                                     "    client-certificate-data: " + b64("CERT PEM") +
                                         "\n"
                                         "    client-key-data: " +
                                         b64("KEY PEM") + "\n"));
  const auto config = kube::load_kubeconfig({file}, "");
  EXPECT_EQ(config.server, "https://10.0.0.1:6443");
  EXPECT_EQ(config.ca_pem, "CA PEM");
  EXPECT_EQ(config.client_cert_pem, "CERT PEM");
  EXPECT_EQ(config.client_key_pem, "KEY PEM");
  EXPECT_EQ(config.namespace_, "team-a");
  EXPECT_EQ(config.context, "ctx1");
  EXPECT_EQ(config.source, file);
  EXPECT_FALSE(config.insecure_skip_tls_verify);
  EXPECT_FALSE(config.exec.has_value());
}

TEST(Kubeconfig, FilesAreReadRelativeToTheKubeconfig) {
  TempDir dir;
  dir.write("pki/ca.crt", "CA FROM FILE");
  dir.write("pki/client.crt", "CERT FROM FILE");
  dir.write("pki/client.key", "KEY FROM FILE");
  // What minikube writes, but with relative paths.
  const auto file =
      dir.write("kube/config", kubeconfig("    server: https://192.168.49.2:8443\n"
                                          "    certificate-authority: ../pki/ca.crt\n",
                                          "    client-certificate: ../pki/client.crt\n"
                                          "    client-key: " +
                                              dir.path() + "/pki/client.key\n"));
  const auto config = kube::load_kubeconfig({file}, "");
  EXPECT_EQ(config.ca_pem, "CA FROM FILE");
  EXPECT_EQ(config.client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(config.client_key_pem, "KEY FROM FILE");
}

TEST(Kubeconfig, DataWinsOverFile) {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    server: https://h\n"
                                                   "    certificate-authority: /nonexistent/ca\n"
                                                   "    certificate-authority-data: " +
                                                       b64("DATA") + "\n",
                                                   "    token: t\n"));
  EXPECT_EQ(kube::load_kubeconfig({file}, "").ca_pem, "DATA");
}

TEST(Kubeconfig, TokenTokenFileAndTlsOptions) {
  TempDir dir;
  dir.write("token", "from-file\n");
  const auto with_file =
      dir.write("a", kubeconfig("    server: https://h:1\n    insecure-skip-tls-verify: true\n"
                                "    tls-server-name: kubernetes.default\n",
                                "    tokenFile: token\n", ""));
  const auto a = kube::load_kubeconfig({with_file}, "");
  EXPECT_TRUE(a.insecure_skip_tls_verify);
  EXPECT_EQ(a.tls_server_name, "kubernetes.default");
  EXPECT_EQ(a.token_file, dir.path() + "/token");
  EXPECT_EQ(a.token, "");
  EXPECT_EQ(a.namespace_, "default");  // no namespace in the context

  // Both set: token wins, as the kubeconfig documentation says.
  const auto both = dir.write(
      "b", kubeconfig("    server: https://h:1\n", "    token: static\n    tokenFile: token\n"));
  const auto b = kube::load_kubeconfig({both}, "");
  EXPECT_EQ(b.token, "static");
  EXPECT_EQ(b.token_file, "");
}

TEST(Kubeconfig, ExecPlugin) {
  TempDir dir;
  const auto file = dir.write(
      "config",
      kubeconfig("    server: https://eks.example:443\n",
                 "    exec:\n"
                 "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                 "      command: aws\n"
                 "      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]\n"
                 "      env:\n      - name: AWS_PROFILE\n        value: ops\n"
                 "      installHint: Install the AWS CLI\n"));
  const auto config = kube::load_kubeconfig({file}, "");
  ASSERT_TRUE(config.exec.has_value());
  EXPECT_EQ(config.exec->api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_EQ(config.exec->command, "aws");  // a bare name: looked up in PATH
  EXPECT_THAT(config.exec->args, ::testing::ElementsAre("--region", "eu-west-1", "eks", "get-token",
                                                        "--cluster-name", "prod"));
  ASSERT_EQ(config.exec->env.size(), 1u);
  EXPECT_EQ(config.exec->env[0].first, "AWS_PROFILE");
  EXPECT_EQ(config.exec->env[0].second, "ops");
  EXPECT_EQ(config.exec->interactive_mode, "IfAvailable");  // the v1beta1 default
  EXPECT_EQ(config.exec->install_hint, "Install the AWS CLI");

  // A relative command with a slash is relative to the kubeconfig's directory.
  const auto v1 =
      dir.write("sub/config", kubeconfig("    server: https://h\n",
                                         "    exec:\n"
                                         "      apiVersion: client.authentication.k8s.io/v1\n"
                                         "      command: ./bin/get-token\n"
                                         "      interactiveMode: Never\n"));
  const auto config_v1 = kube::load_kubeconfig({v1}, "");
  EXPECT_EQ(config_v1.exec->command, dir.path() + "/sub/bin/get-token");
  EXPECT_EQ(config_v1.exec->interactive_mode, "Never");
}

TEST(Kubeconfig, ContextArgumentOverridesCurrentContext) {
  TempDir dir;
  const auto file = dir.write("config",
                              "clusters:\n"
                              "- {name: a, cluster: {server: 'https://a'}}\n"
                              "- {name: b, cluster: {server: 'https://b'}}\n"
                              "users:\n- {name: u, user: {token: t}}\n"
                              "contexts:\n"
                              "- {name: ca, context: {cluster: a, user: u}}\n"
                              "- {name: cb, context: {cluster: b, user: u, namespace: nb}}\n"
                              "current-context: ca\n");
  EXPECT_EQ(kube::load_kubeconfig({file}, "").server, "https://a");
  const auto b = kube::load_kubeconfig({file}, "cb");
  EXPECT_EQ(b.server, "https://b");
  EXPECT_EQ(b.namespace_, "nb");
  EXPECT_EQ(b.context, "cb");
}

TEST(Kubeconfig, TwoFilesMergeFirstWins) {
  TempDir dir;
  dir.write("one/ca.crt", "CA ONE");
  dir.write("two/ca.crt", "CA TWO");
  // Both define cluster "shared": the first file's wins. The second brings
  // its own context and user, whose relative paths resolve against it.
  const auto first = dir.write("one/config",
                               "clusters:\n"
                               "- {name: shared, cluster: {server: 'https://first', "
                               "certificate-authority: ca.crt}}\n"
                               "current-context: from-two\n");
  const auto second = dir.write("two/config",
                                "clusters:\n"
                                "- {name: shared, cluster: {server: 'https://second', "
                                "certificate-authority: ca.crt}}\n"
                                "- {name: only-two, cluster: {server: 'https://only-two', "
                                "certificate-authority: ca.crt}}\n"
                                "users:\n- {name: u, user: {token: two-token}}\n"
                                "contexts:\n"
                                "- {name: from-two, context: {cluster: shared, user: u}}\n"
                                "- {name: other, context: {cluster: only-two, user: u}}\n"
                                "current-context: other\n");
  const auto merged = kube::load_kubeconfig({first, second}, "");
  EXPECT_EQ(merged.context, "from-two");  // current-context: the first file that sets it
  EXPECT_EQ(merged.server, "https://first");
  EXPECT_EQ(merged.ca_pem, "CA ONE");
  EXPECT_EQ(merged.token, "two-token");

  const auto other = kube::load_kubeconfig({first, second}, "other");
  EXPECT_EQ(other.server, "https://only-two");
  EXPECT_EQ(other.ca_pem, "CA TWO");

  // Swapped order: the second file now wins everything it defines.
  EXPECT_EQ(kube::load_kubeconfig({second, first}, "").server, "https://only-two");
}

TEST(LoadConfig, KubeconfigEnvironmentListSkipsMissingFiles) {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    server: https://env\n", "    token: t\n"));
  ScopedEnv env;
  env.set("KUBECONFIG", dir.path() + "/missing:" + file).unset("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(kube::load_config().server, "https://env");
}

TEST(LoadConfig, ExplicitFileBeatsEnvironment) {
  TempDir dir;
  const auto env_file = dir.write("env", kubeconfig("    server: https://env\n", "    token: t\n"));
  const auto flag_file =
      dir.write("flag", kubeconfig("    server: https://flag\n", "    token: t\n"));
  ScopedEnv env;
  env.set("KUBECONFIG", env_file);
  kube::LoadOptions options;
  options.kubeconfig = flag_file;
  EXPECT_EQ(kube::load_config(options).server, "https://flag");

  options.kubeconfig = dir.path() + "/nope";
  EXPECT_THAT(config_error([&] { kube::load_config(options); }),
              AllOf(HasSubstr(dir.path() + "/nope"), HasSubstr("No such file")));
}

TEST(LoadConfig, HomeKubeConfigIsTheLastResort) {
  TempDir dir;
  dir.write(".kube/config", kubeconfig("    server: https://home\n", "    token: t\n"));
  ScopedEnv env;
  env.unset("KUBECONFIG").unset("KUBERNETES_SERVICE_HOST").set("HOME", dir.path());
  EXPECT_EQ(kube::load_config().server, "https://home");

  env.set("HOME", dir.path() + "/empty");
  EXPECT_THAT(
      config_error([] { kube::load_config(); }),
      AllOf(HasSubstr("KUBECONFIG not set"), HasSubstr(dir.path() + "/empty/.kube/config")));
}

TEST(LoadConfig, InClusterFromServiceAccountDirectory) {
  TempDir dir;
  dir.write("sa/token", "sa-token\n");
  dir.write("sa/ca.crt", "CLUSTER CA");
  dir.write("sa/namespace", "operators\n");
  ScopedEnv env;
  env.unset("KUBECONFIG")
      .set("KUBERNETES_SERVICE_HOST", "10.96.0.1")
      .set("KUBERNETES_SERVICE_PORT", "443")
      .set("SRERACHA_SERVICEACCOUNT_DIR", dir.path() + "/sa");
  const auto config = kube::load_config();
  EXPECT_EQ(config.server, "https://10.96.0.1:443");
  EXPECT_EQ(config.token_file, dir.path() + "/sa/token");  // re-read: projected tokens rotate
  EXPECT_EQ(config.token, "");
  EXPECT_EQ(config.ca_pem, "CLUSTER CA");
  EXPECT_EQ(config.namespace_, "operators");

  // IPv6 service addresses get brackets; the explicit directory wins over the env.
  env.set("KUBERNETES_SERVICE_HOST", "fd00::1");
  dir.write("other/token", "t");
  dir.write("other/ca.crt", "CA");
  const auto v6 = kube::load_in_cluster(dir.path() + "/other");
  EXPECT_EQ(v6.server, "https://[fd00::1]:443");
  EXPECT_EQ(v6.namespace_, "default");  // no namespace file
}

TEST(LoadConfig, InClusterErrors) {
  TempDir dir;
  ScopedEnv env;
  env.unset("KUBERNETES_SERVICE_HOST").unset("KUBERNETES_SERVICE_PORT");
  EXPECT_THAT(config_error([&] { kube::load_in_cluster(dir.path()); }),
              HasSubstr("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"));
  env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1").set("KUBERNETES_SERVICE_PORT", "443");
  EXPECT_THAT(config_error([&] { kube::load_in_cluster(dir.path()); }),
              AllOf(HasSubstr(dir.path() + "/token"), HasSubstr("cannot read")));
  dir.write("token", "t");
  EXPECT_THAT(config_error([&] { kube::load_in_cluster(dir.path()); }),
              AllOf(HasSubstr(dir.path() + "/ca.crt"), HasSubstr("cannot read")));
}

// ---- errors: each names the file and the field ----------------------------

TEST(KubeconfigErrors, MissingFile) {
  EXPECT_THAT(config_error([] { kube::load_kubeconfig({"/nonexistent/kubeconfig"}, ""); }),
              AllOf(HasSubstr("kubeconfig /nonexistent/kubeconfig"), HasSubstr("cannot read")));
}

TEST(KubeconfigErrors, MalformedYaml) {
  TempDir dir;
  const auto file = dir.write("config", "clusters:\n- name: a\n  cluster: {server: [\n");
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({file}, ""); }),
              AllOf(HasSubstr("kubeconfig " + file), HasSubstr("malformed YAML at line")));
  const auto scalar = dir.write("scalar", "just a string\n");
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({scalar}, ""); }),
              AllOf(HasSubstr(scalar), HasSubstr("not a kubeconfig")));
  const auto bad_list = dir.write("list", "clusters: {a: b}\n");
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({bad_list}, ""); }),
              AllOf(HasSubstr(bad_list), HasSubstr("field clusters must be a list")));
}

TEST(KubeconfigErrors, UnknownOrMissingContext) {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    server: https://h\n", "    token: t\n"));
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({file}, "prod"); }),
              AllOf(HasSubstr("kubeconfig " + file), HasSubstr("context \"prod\" not found")));
  const auto no_current = dir.write("nocurrent", "clusters: []\n");
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({no_current}, ""); }),
              AllOf(HasSubstr(no_current), HasSubstr("current-context is not set")));
  const auto dangling =
      dir.write("dangling", "contexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n");
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({dangling}, ""); }),
              AllOf(HasSubstr(dangling), HasSubstr("context \"x\": cluster \"c\" not found")));
}

TEST(KubeconfigErrors, MissingFields) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {kubeconfig("    insecure-skip-tls-verify: false\n", "    token: t\n"),
       "cluster \"c1\": field server is missing"},
      {"contexts:\n- {name: x, context: {user: u}}\ncurrent-context: x\n",
       "context \"x\": field cluster is missing"},
      {"contexts:\n- {context: {cluster: c}}\n", "contexts[0]: field name is missing"},
      {"clusters:\n- {name: c}\n", "cluster \"c\": field cluster is missing"},
      {kubeconfig("    server: https://h\n", "    token: t\n", "")
           .replace(kubeconfig("    server: https://h\n", "    token: t\n", "").find("user: u1"), 8,
                    "user: ghost"),
       "context \"ctx1\": user \"ghost\" not found"},
      {kubeconfig("    server: https://h\n    certificate-authority-data: '###'\n",
                  "    token: t\n"),
       "cluster \"c1\": field certificate-authority-data is not valid base64"},
      {kubeconfig("    server: https://h\n    insecure-skip-tls-verify: maybe\n", "    token: t\n"),
       "field insecure-skip-tls-verify must be true or false"},
      {kubeconfig("    server: https://h\n", "    client-certificate-data: " + b64("C") + "\n"),
       "user \"u1\": field client-key is missing"},
      {kubeconfig("    server: https://h\n",
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"),
       "user \"u1\": field exec.command is missing"},
      {kubeconfig("    server: https://h\n", "    exec:\n      command: aws\n"),
       "field exec.apiVersion is missing"},
      {kubeconfig("    server: https://h\n",
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n"
                  "      command: aws\n"),
       "field exec.apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported"},
      {kubeconfig("    server: https://h\n",
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                  "      command: aws\n"),
       "field exec.interactiveMode is missing"},
      {kubeconfig("    server: https://h\n", "    auth-provider:\n      name: gcp\n"),
       "field auth-provider is not supported"},
      // Found by fuzz/kubeconfig_fuzzer.cpp: an argument that is not a string
      // ended in yaml-cpp's bad conversion, out of main as an abort.
      {kubeconfig("    server: https://h\n",
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                  "      command: aws\n      args: [eks, {a: b}]\n"),
       "field exec.args[1] must be a string"},
      {kubeconfig("    server: https://h\n",
                  "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                  "      command: aws\n      env: [plain]\n"),
       "field exec.env[0].name is missing"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto file = dir.write("config" + std::to_string(i), cases[i].yaml);
    SCOPED_TRACE(cases[i].yaml);
    const std::string context = cases[i].yaml.find("name: x") != std::string::npos ? "x" : "";
    EXPECT_THAT(config_error([&] { kube::load_kubeconfig({file}, context); }),
                AllOf(HasSubstr("kubeconfig " + file), HasSubstr(cases[i].message)));
  }
}

TEST(KubeconfigErrors, UnreadableReferencedFileNamesFileAndField) {
  TempDir dir;
  const auto file = dir.write("config", kubeconfig("    server: https://h\n"
                                                   "    certificate-authority: missing-ca.crt\n",
                                                   "    token: t\n"));
  EXPECT_THAT(config_error([&] { kube::load_kubeconfig({file}, ""); }),
              AllOf(HasSubstr("kubeconfig " + file), HasSubstr("cluster \"c1\""),
                    HasSubstr("certificate-authority " + dir.path() + "/missing-ca.crt"),
                    HasSubstr("cannot read")));
  const auto token_file = dir.write(
      "config2", kubeconfig("    server: https://h\n", "    tokenFile: /nonexistent/token\n"));
  EXPECT_THAT(
      config_error([&] { kube::load_kubeconfig({token_file}, ""); }),
      AllOf(HasSubstr("user \"u1\": tokenFile /nonexistent/token"), HasSubstr("cannot read")));
}

}  // namespace
