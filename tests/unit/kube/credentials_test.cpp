// Credentials (kube/credentials.h): exec plugins run from a test script,
// ExecCredential parsing, caching until expiry, token files re-read.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <future>
#include <thread>

#include "config_error.h"
#include "kube/credentials.h"
#include "kube/errors.h"
#include "kube/meta.h"
#include "support/temp_dir.h"

namespace {

using test_support::ScopedEnv;
using test_support::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kPlugin = std::string(SRERACHA_SOURCE_DIR) + "/tests/unit/kube/exec_plugin.sh";

kube::ExecConfig plugin(const std::string& mode, const std::string& count_file = {},
                        const std::string& api_version = "client.authentication.k8s.io/v1") {
  kube::ExecConfig exec;
  exec.api_version = api_version;
  exec.command = kPlugin;
  exec.args = {mode};
  if (!count_file.empty()) exec.args.push_back(count_file);
  exec.env = {{"PLUGIN_TOKEN", "plugin-token"}};
  exec.interactive_mode = "Never";
  return exec;
}

int runs(const std::string& count_file) {
  std::ifstream in(count_file);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

TEST(ExecPlugin, RunsWithArgsEnvAndExecInfo) {
  for (const char* version :
       {"client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"}) {
    SCOPED_TRACE(version);
    const auto credential = kube::run_exec_plugin(plugin("ok", {}, version));
    EXPECT_EQ(credential.token, "plugin-token");  // from the kubeconfig's env entry
    ASSERT_TRUE(credential.expiration.has_value());
    EXPECT_GT(*credential.expiration, std::chrono::system_clock::now() + 50min);
  }
  // KUBERNETES_EXEC_INFO says non-interactive, and stdin is not a terminal.
  EXPECT_EQ(kube::run_exec_plugin(plugin("check-info")).token, "info-ok");
  const auto cert = kube::run_exec_plugin(plugin("cert"));
  EXPECT_EQ(cert.client_cert_pem, "CERT");
  EXPECT_EQ(cert.client_key_pem, "KEY");
  EXPECT_FALSE(cert.expiration.has_value());
}

TEST(ExecPlugin, FailuresAreConfigErrorsNamingThePlugin) {
  EXPECT_THAT(config_error([] { kube::run_exec_plugin(plugin("fail")); }),
              AllOf(HasSubstr("exec plugin " + kPlugin), HasSubstr("exit status 3")));
  EXPECT_THAT(config_error([] { kube::run_exec_plugin(plugin("garbage")); }),
              HasSubstr("not an ExecCredential"));
  auto missing = plugin("ok");
  missing.command = "/nonexistent/aws";
  missing.install_hint = "Install the AWS CLI: https://aws.amazon.com/cli/";
  EXPECT_THAT(config_error([&] { kube::run_exec_plugin(missing); }),
              AllOf(HasSubstr("/nonexistent/aws"), HasSubstr("cannot run"),
                    HasSubstr("Install the AWS CLI")));
  auto always = plugin("ok");
  always.interactive_mode = "Always";
  EXPECT_THAT(config_error([&] { kube::run_exec_plugin(always); }),
              HasSubstr("interactiveMode Always needs a terminal"));
}

// The PID a hang* plugin wrote, once it is there.
pid_t hung_child(const std::string& pid_file) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(pid_file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

// Whether `pid` has died within a second: gone, or a zombie not yet reaped
// by whoever inherited it.
bool gone(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_text, command, state;
    if (!(stat >> pid_text >> command >> state) || state == "Z") return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(ExecPlugin, ARunPastItsTimeoutIsStoppedWithSigterm) {
  TempDir dir;
  const auto pid_file = dir.path() + "/pid";
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_THAT(config_error([&] { kube::run_exec_plugin(plugin("hang", pid_file), 300ms); }),
              AllOf(HasSubstr("exec plugin " + kPlugin), HasSubstr("no answer within 300 ms"),
                    HasSubstr("stopped with SIGTERM"), Not(HasSubstr("SIGKILL"))));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  // What the plugin started went with it (a process group of its own).
  const pid_t child = hung_child(pid_file);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(gone(child));
}

TEST(ExecPlugin, APluginIgnoringSigtermIsKilled) {
  TempDir dir;
  const auto pid_file = dir.path() + "/pid";
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_THAT(config_error([&] { kube::run_exec_plugin(plugin("hang-hard", pid_file), 200ms); }),
              HasSubstr("stopped with SIGTERM, then SIGKILL after 2000 ms"));
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(took, 200ms + kube::kExecKillGrace);
  EXPECT_LT(took, 200ms + kube::kExecKillGrace + 1s);
  const pid_t child = hung_child(pid_file);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(gone(child));
}

// EOF on its stdout is not the end of a plugin: one that closes it and runs
// on is stopped at the timeout like one that says nothing (it once blocked
// in waitpid() for good, and every API call with it).
TEST(ExecPlugin, APluginThatClosesStdoutAndRunsOnIsStopped) {
  TempDir dir;
  const auto pid_file = dir.path() + "/pid";
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_THAT(config_error([&] { kube::run_exec_plugin(plugin("close-stdout", pid_file), 300ms); }),
              AllOf(HasSubstr("no answer within 300 ms"), HasSubstr("stopped with SIGTERM")));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
  const pid_t child = hung_child(pid_file);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(gone(child));
}

TEST(ExecPlugin, TheContextEndsARun) {
  TempDir dir;
  kube::CancelToken token;
  auto canceller = std::async(std::launch::async, [token]() mutable {
    std::this_thread::sleep_for(200ms);
    token.cancel();
  });
  auto begin = std::chrono::steady_clock::now();
  try {
    kube::run_exec_plugin(plugin("hang", dir.path() + "/pid1"), 60s, token);
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_FALSE(e.deadline_exceeded());
    EXPECT_THAT(e.what(), AllOf(HasSubstr("stopped with SIGTERM"), HasSubstr("cancelled")));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 200ms + 500ms);

  begin = std::chrono::steady_clock::now();
  try {
    kube::run_exec_plugin(plugin("hang", dir.path() + "/pid2"), 60s,
                          kube::Context().with_timeout(300ms));
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_TRUE(e.deadline_exceeded());
    EXPECT_THAT(e.what(), HasSubstr("stopped with SIGTERM"));
  }
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 800ms);
}

TEST(ExecPlugin, OutputIsValidated) {
  const auto exec = plugin("ok");
  const auto parsed = kube::parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",
          "status":{"token":"abc","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
      exec);
  EXPECT_EQ(parsed.token, "abc");
  EXPECT_EQ(parsed.expiration, kube::meta::parse_time("2030-01-02T03:04:05Z"));

  EXPECT_THAT(
      config_error([&] {
        kube::parse_exec_credential(
            R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"a"}})",
            exec);
      }),
      HasSubstr("apiVersion \"client.authentication.k8s.io/v1beta1\", want"));
  EXPECT_THAT(config_error([&] {
                kube::parse_exec_credential(
                    R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"})",
                    exec);
              }),
              HasSubstr("no field status"));
  EXPECT_THAT(
      config_error([&] {
        kube::parse_exec_credential(
            R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
            exec);
      }),
      HasSubstr("neither token nor clientCertificateData"));
  EXPECT_THAT(
      config_error([&] {
        kube::parse_exec_credential(
            R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"a","expirationTimestamp":"soon"}})",
            exec);
      }),
      HasSubstr("expirationTimestamp \"soon\" is not RFC 3339"));
}

TEST(Credentials, ExecCredentialIsCachedUntilExpiry) {
  TempDir dir;
  const auto count = dir.path() + "/count";
  kube::Config config;
  config.exec = plugin("ok", count);
  kube::Credentials credentials(config);
  EXPECT_EQ(credentials.authorization(), "Bearer plugin-token");
  EXPECT_EQ(credentials.authorization(), "Bearer plugin-token");
  EXPECT_EQ(runs(count), 1);
  // Close to the expiry (an hour ahead, minus the skew): run again.
  EXPECT_EQ(credentials.authorization(std::chrono::system_clock::now() + 1h),
            "Bearer plugin-token");
  EXPECT_EQ(runs(count), 2);
  // A 401 makes the caller invalidate: the next call runs the plugin again.
  EXPECT_TRUE(credentials.invalidate());
  credentials.authorization();
  EXPECT_EQ(runs(count), 3);
}

TEST(Credentials, ExpiredExecCredentialRunsEveryTime) {
  TempDir dir;
  const auto count = dir.path() + "/count";
  kube::Config config;
  config.exec = plugin("expired", count);
  kube::Credentials credentials(config);
  credentials.authorization();
  credentials.authorization();
  EXPECT_EQ(runs(count), 2);
}

TEST(Credentials, ExecClientCertificate) {
  kube::Config config;
  config.exec = plugin("cert");
  kube::Credentials credentials(config);
  EXPECT_EQ(credentials.authorization(), "");  // no token: the certificate authenticates
  EXPECT_EQ(credentials.exec_client_certificate(),
            std::make_pair(std::string("CERT"), std::string("KEY")));
}

TEST(Credentials, TokenFileIsReReadEveryMinuteAndAfterInvalidate) {
  TempDir dir;
  const auto token = dir.write("token", "first\n");
  kube::Config config;
  config.token_file = token;
  kube::Credentials credentials(config);
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(credentials.authorization(now), "Bearer first");
  dir.write("token", "second\n");  // the kubelet rotated the projected token
  EXPECT_EQ(credentials.authorization(now + 30s), "Bearer first");
  EXPECT_EQ(credentials.authorization(now + 61s), "Bearer second");
  dir.write("token", "third");
  EXPECT_TRUE(credentials.invalidate());
  EXPECT_EQ(credentials.authorization(now + 62s), "Bearer third");
}

TEST(Credentials, StaticTokenAndNone) {
  kube::Config config;
  config.token = "static";
  kube::Credentials with_token(config);
  EXPECT_EQ(with_token.authorization(), "Bearer static");
  EXPECT_FALSE(with_token.invalidate());  // nothing new to fetch: a 401 is final
  kube::Credentials none(kube::Config{});
  EXPECT_EQ(none.authorization(), "");
}

}  // namespace
