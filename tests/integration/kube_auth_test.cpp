// Every way kube::Client authenticates, against a real API server: bearer
// token (RBAC-limited service account), client certificate from files, exec
// credential plugin, and in-cluster mode. The identity is checked with a
// SelfSubjectReview ("who am I"), so a test cannot pass as the wrong user.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cpprest/uri.h>

#include <vector>

#include "kube/client.h"
#include "kube_fixtures/test_cluster.h"

namespace {

using kube_it::NamespaceSuite;
using kube_it::TempDir;
using test_support::ScopedEnv;
using ::testing::HasSubstr;
namespace res = kube::resources;

const std::string kExecToken =
    std::string(SRERACHA_SOURCE_DIR) + "/tests/integration/kube_fixtures/exec_token.sh";

// The user name the API server sees for this client.
std::string whoami(kube::Client& client) {
  static const kube::Resource reviews{"authentication.k8s.io", "v1", "selfsubjectreviews", false};
  const auto review = client.create(
      reviews, "", {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  return review["status"]["userInfo"]["username"].get<std::string>();
}

// A service account "reader" that may read and create ConfigMaps in the
// suite's namespace and nothing else.
class KubeAuth : public NamespaceSuite {
 protected:
  static void SetUpTestSuite() {
    NamespaceSuite::SetUpTestSuite();
    admin().create(res::serviceaccounts, ns(),
                   {{"apiVersion", "v1"},
                    {"kind", "ServiceAccount"},
                    {"metadata", {{"name", "reader"}, {"namespace", ns()}}}});
    const kube::Resource roles{"rbac.authorization.k8s.io", "v1", "roles"};
    const kube::Resource bindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
    admin().create(roles, ns(),
                   {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                    {"kind", "Role"},
                    {"metadata", {{"name", "configmaps"}, {"namespace", ns()}}},
                    {"rules",
                     {{{"apiGroups", {""}},
                       {"resources", {"configmaps"}},
                       {"verbs", {"get", "list", "create"}}}}}});
    admin().create(
        bindings, ns(),
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "RoleBinding"},
         {"metadata", {{"name", "reader-configmaps"}, {"namespace", ns()}}},
         {"roleRef",
          {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "configmaps"}}},
         {"subjects", {{{"kind", "ServiceAccount"}, {"name", "reader"}, {"namespace", ns()}}}}});
    admin().create(res::configmaps, ns(), configmap("readable", {{"k", "v"}}));
  }

  static std::string reader_token() {
    return kube_it::run("kubectl create token reader -n " + ns() + " --duration=10m");
  }
  static std::string reader_name() { return "system:serviceaccount:" + ns() + ":reader"; }

  // The admin's cluster (server, CA) with no credentials.
  static kube::Config anonymous() {
    kube::Config c;
    c.server = config().server;
    c.ca_pem = config().ca_pem;
    c.tls_server_name = config().tls_server_name;
    c.insecure_skip_tls_verify = config().insecure_skip_tls_verify;
    return c;
  }
};

TEST_F(KubeAuth, AdminKubeconfigUsesItsClientCertificate) {
  EXPECT_FALSE(config().client_cert_pem.empty() && config().token.empty() && !config().exec)
      << "the admin kubeconfig has no credentials";
  kube::Client client(config());
  EXPECT_FALSE(whoami(client).empty());
}

TEST_F(KubeAuth, ClientCertificateFromFiles) {
  if (config().client_cert_pem.empty())
    GTEST_SKIP() << "the admin kubeconfig uses no client certificate";
  TempDir dir;
  dir.write("admin.crt", config().client_cert_pem);
  dir.write("admin.key", config().client_key_pem);
  dir.write("ca.crt", config().ca_pem);
  // What minikube writes: files next to the kubeconfig, here relative.
  const auto file =
      dir.write("config",
                "apiVersion: v1\nkind: Config\n"
                "clusters:\n- name: local\n  cluster:\n    server: " +
                    config().server +
                    "\n    certificate-authority: ca.crt\n"
                    "users:\n- name: admin\n  user:\n"
                    "    client-certificate: admin.crt\n    client-key: admin.key\n"
                    "contexts:\n- name: local\n  context: {cluster: local, user: admin, "
                    "namespace: " +
                    ns() + "}\ncurrent-context: local\n");
  kube::Client client(kube::load_kubeconfig({file}, ""));
  EXPECT_EQ(client.config().namespace_, ns());
  kube::Client admin_client(config());
  EXPECT_EQ(whoami(client), whoami(admin_client));
  EXPECT_EQ(client.get(res::configmaps, ns(), "readable")["data"]["k"], "v");
}

TEST_F(KubeAuth, BearerTokenWithRbac) {
  auto c = anonymous();
  c.token = reader_token();
  kube::Client client(c);
  EXPECT_EQ(whoami(client), reader_name());
  EXPECT_EQ(client.get(res::configmaps, ns(), "readable")["data"]["k"], "v");
  EXPECT_EQ(client.list(res::configmaps, ns())["items"].size(), 2u);  // + kube-root-ca.crt
}

TEST_F(KubeAuth, ForbiddenCarriesTheServersMessage) {
  auto c = anonymous();
  c.token = reader_token();
  kube::Client client(c);
  try {
    client.get(res::secrets, ns(), "anything");
    FAIL() << "reading a Secret was allowed";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_forbidden());
    EXPECT_EQ(e.reason(), "Forbidden");
    // The server's own words, naming the user, the verb and the resource.
    EXPECT_THAT(e.message(),
                HasSubstr("User \"" + reader_name() + "\" cannot get resource \"secrets\""));
    EXPECT_THAT(e.what(),
                HasSubstr("get secrets " + ns() + "/anything: Forbidden (403): " + e.message()));
  }
  try {
    client.remove(res::configmaps, ns(), "readable");
    FAIL() << "deleting was allowed";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_forbidden());
    EXPECT_THAT(e.message(), HasSubstr("cannot delete resource \"configmaps\""));
  }
}

TEST_F(KubeAuth, BadStaticTokenIsUnauthorizedWithoutRetry) {
  auto c = anonymous();
  c.token = "not-a-token";
  int calls = 0;
  kube::ClientOptions options;
  options.on_request = [&](const kube::RequestInfo&) { ++calls; };
  kube::Client client(c, options);
  try {
    client.get(res::configmaps, ns(), "readable");
    FAIL() << "a garbage token was accepted";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_unauthorized());
    EXPECT_EQ(e.reason(), "Unauthorized");
  }
  EXPECT_EQ(calls, 1);  // a static token cannot change: no second try
}

TEST_F(KubeAuth, ExecPluginToken) {
  TempDir dir;
  const auto token_file = dir.write("token", reader_token());
  const auto count_file = dir.path() + "/runs";
  for (const char* version :
       {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    SCOPED_TRACE(version);
    std::filesystem::remove(count_file);
    // The way EKS kubeconfigs look: the cluster, and a user that runs a command.
    const auto file = dir.write(
        "config",
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: c\n  cluster:\n    server: " +
            config().server + "\n    certificate-authority: ca.crt\n" +
            "users:\n- name: u\n  user:\n    exec:\n      apiVersion: " + version +
            "\n      command: " + kExecToken + "\n      args: [" + token_file + ", " + count_file +
            "]\n      interactiveMode: Never\n"
            "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n");
    dir.write("ca.crt", config().ca_pem);
    kube::Client client(kube::load_kubeconfig({file}, ""));
    EXPECT_EQ(whoami(client), reader_name());
    EXPECT_EQ(client.get(res::configmaps, ns(), "readable")["data"]["k"], "v");
    // Cached until its expirationTimestamp (10 minutes ahead): one run.
    EXPECT_EQ(kube_it::run("wc -l < " + count_file), "1");
  }
}

TEST_F(KubeAuth, ExecPluginRunsAgainAfter401) {
  TempDir dir;
  // The first run hands out a token the server rejects and rotates in a
  // good one, as when a cached cloud token was revoked.
  const auto token_file = dir.write("token", "revoked-token");
  dir.write("token.next", reader_token());
  const auto count_file = dir.path() + "/runs";
  auto c = anonymous();
  c.exec = kube::ExecConfig{
      "client.authentication.k8s.io/v1", kExecToken, {token_file, count_file}, {}, "Never"};
  std::vector<int> codes;
  kube::ClientOptions options;
  options.on_request = [&](const kube::RequestInfo& info) { codes.push_back(info.code); };
  kube::Client client(c, options);
  EXPECT_EQ(client.get(res::configmaps, ns(), "readable")["data"]["k"], "v");
  EXPECT_THAT(codes, ::testing::ElementsAre(401, 200));
  EXPECT_EQ(kube_it::run("wc -l < " + count_file), "2");
}

TEST_F(KubeAuth, InClusterWithRotatingToken) {
  TempDir dir;
  const auto good_token = reader_token();  // kubectl needs KUBECONFIG, unset below
  const auto token_path = dir.write("token", good_token);
  dir.write("ca.crt", config().ca_pem);
  dir.write("namespace", ns());
  const web::uri server(config().server);
  ScopedEnv env;
  env.unset("KUBECONFIG")
      .set("KUBERNETES_SERVICE_HOST", server.host())
      .set("KUBERNETES_SERVICE_PORT", std::to_string(server.port() > 0 ? server.port() : 443))
      .set("SRERACHA_SERVICEACCOUNT_DIR", dir.path());

  // With no kubeconfig anywhere, load_config() picks in-cluster mode.
  const auto in_cluster = kube::load_config();
  EXPECT_EQ(in_cluster.namespace_, ns());
  EXPECT_EQ(in_cluster.token_file, token_path);
  kube::Client client(in_cluster);
  EXPECT_EQ(whoami(client), reader_name());
  EXPECT_EQ(client.get(res::configmaps, client.config().namespace_, "readable")["data"]["k"], "v");

  // The kubelet rotates the projected token. A client holding a token the
  // server rejects (401) re-reads the file at once instead of waiting for
  // its once-a-minute refresh.
  std::vector<int> codes;
  kube::ClientOptions options;
  options.on_request = [&](const kube::RequestInfo& info) { codes.push_back(info.code); };
  kube::Client rotating(in_cluster, options);
  dir.write("token", "expired-token");
  // 401, re-read (still the bad one), 401: the error surfaces.
  EXPECT_THROW(rotating.get(res::configmaps, ns(), "readable"), kube::ApiError);
  dir.write("token", good_token);
  // 401 with the cached bad token, re-read, 200.
  EXPECT_EQ(rotating.get(res::configmaps, ns(), "readable")["data"]["k"], "v");
  EXPECT_THAT(codes, ::testing::ElementsAre(401, 401, 401, 200));
}

}  // namespace
