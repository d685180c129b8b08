// kube/tls.h: connections load an empty default trust, the real one is
// loaded once, and exec plugins still see the SSL_CERT_FILE we were given.
#include "kube/tls.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "kube/credentials.h"
#include "support/temp_dir.h"

namespace {

using test_support::ScopedEnv;
using test_support::TempDir;

int certificates_in(X509_STORE* store) {
  return sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
}

TEST(Tls, ConnectionsGetAnEmptyDefaultAndTheRealTrustIsLoadedOnce) {
  TempDir dir;
  const std::string ca = dir.file("ca.crt");
  ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                         "-nodes -subj /CN=tls-test -days 1 -keyout " +
                         dir.file("ca.key") + " -out " + ca + " 2>/dev/null")
                            .c_str()),
            0);
  ScopedEnv env;
  env.set("SSL_CERT_FILE", ca).set("SSL_CERT_DIR", dir.file("no-such-dir"));

  kube::tls::isolate_default_trust();
  EXPECT_STREQ(std::getenv("SSL_CERT_FILE"), "/dev/null");
  EXPECT_EQ(kube::tls::original_cert_file(), ca);

  // What cpprestsdk's set_default_verify_paths() now loads per connection.
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_EQ(SSL_CTX_set_default_verify_paths(ctx), 1);
  EXPECT_EQ(certificates_in(SSL_CTX_get_cert_store(ctx)), 0);
  SSL_CTX_free(ctx);

  X509_STORE* trust = kube::tls::system_trust();
  EXPECT_EQ(certificates_in(trust), 1) << "the file SSL_CERT_FILE named at start";
  EXPECT_EQ(kube::tls::system_trust(), trust) << "loaded once";

  kube::ExecConfig exec;
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.command = std::string(SRERACHA_SOURCE_DIR) + "/tests/unit/kube/exec_plugin.sh";
  exec.args = {"cert-file"};
  exec.interactive_mode = "Never";
  EXPECT_EQ(kube::run_exec_plugin(exec).token, ca) << "the plugin gets the variable we were given";
}

}  // namespace
