// The Redis check (sreracha/redis_check.h) against real redis-server
// processes this test starts on 127.0.0.1: a primary with a password, its
// replica, a TLS server whose certificate names redis.test (signed by a CA
// the test makes with openssl), and a port where nothing listens.
#include "sreracha/redis_check.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/http_server.h"
#include "support/temp_dir.h"

namespace sreracha::redis_check {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// Every character a URL would need to encode, and a space.
const std::string kPassword = "p@ss:w/rd?#% 1";

bool accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A redis-server of this test, stopped (by its PID) at the end.
class RedisServer {
 public:
  // Listens on `port` (TLS: on tls_port instead, plain port off).
  RedisServer(const std::string& dir, int port, std::vector<std::string> extra) : port_(port) {
    std::vector<std::string> args = {"redis-server",
                                     "--bind",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port),
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir,
                                     "--logfile",
                                     dir + "/redis-" + std::to_string(port) + ".log"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool wait_listening(int port) const {
    for (int i = 0; i < 100; ++i) {
      if (accepts(port)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

Target target_at(int port, std::string password = kPassword) {
  Target t;
  t.hosts = {"127.0.0.1"};
  t.port = port;
  t.password = std::move(password);
  t.password_source = "Secret test/auth (key password)";
  return t;
}

class RedisCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir();
    const std::string d = dir_->path();
    // A CA, and a server certificate for redis.test that it signed.
    const std::string cmd =
        "cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2"
        " -subj /CN=sreracha-test-ca"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr"
        " -subj /CN=redis.test"
        " && printf 'subjectAltName=DNS:redis.test\\n' > ext"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
        " -out server.crt -days 2 -extfile ext) >/dev/null 2>&1";
    ASSERT_EQ(std::system(("(" + cmd).c_str()), 0) << "openssl could not make the certificates";

    primary_ =
        new RedisServer(d, runtime::pick_free_port("127.0.0.1"), {"--requirepass", kPassword});
    ASSERT_TRUE(primary_->wait_listening(primary_->port()));
    replica_ = new RedisServer(d, runtime::pick_free_port("127.0.0.1"),
                               {"--replicaof", "127.0.0.1", std::to_string(primary_->port()),
                                "--masterauth", kPassword, "--requirepass", kPassword});
    ASSERT_TRUE(replica_->wait_listening(replica_->port()));
    tls_port_ = runtime::pick_free_port("127.0.0.1");
    tls_ = new RedisServer(d, 0,
                           {"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                            d + "/server.crt", "--tls-key-file", d + "/server.key",
                            "--tls-ca-cert-file", d + "/ca.crt", "--tls-auth-clients", "no"});
    ASSERT_TRUE(tls_->wait_listening(tls_port_));
  }
  static void TearDownTestSuite() {
    delete tls_;
    delete replica_;
    delete primary_;
    delete dir_;
  }

  static CheckOptions with_ca() {
    CheckOptions options;
    options.ca_file = dir_->file("ca.crt");
    return options;
  }
  static Target tls_target(std::string name) {
    Target t = target_at(tls_port_, "");
    t.tls = true;
    t.server_name = std::move(name);
    return t;
  }

  static inline test_support::TempDir* dir_ = nullptr;
  static inline RedisServer* primary_ = nullptr;
  static inline RedisServer* replica_ = nullptr;
  static inline RedisServer* tls_ = nullptr;
  static inline int tls_port_ = 0;
};

TEST_F(RedisCheck, APrimaryWithTheRightPasswordIsReady) {
  const Result r = check(target_at(primary_->port()));
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.reason, kReady);
  EXPECT_THAT(r.message, HasSubstr("answers PING as a primary"));
}

TEST_F(RedisCheck, AWrongPasswordIsAuthFailedAndNeverShown) {
  const Result r = check(target_at(primary_->port(), "not-the:password@"));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kAuthFailed);
  EXPECT_THAT(r.message, HasSubstr("Secret test/auth (key password)"));
  EXPECT_THAT(r.message, Not(HasSubstr("not-the:password@")));
}

TEST_F(RedisCheck, NoPasswordWhereOneIsRequiredIsAuthFailed) {
  const Result r = check(target_at(primary_->port(), ""));
  EXPECT_EQ(r.reason, kAuthFailed);
  EXPECT_THAT(r.message, HasSubstr("spec.redis.authSecretRef"));
}

TEST_F(RedisCheck, AReplicaIsReadOnlyReplica) {
  const Result r = check(target_at(replica_->port()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kReadOnlyReplica);
  EXPECT_THAT(r.message, HasSubstr("use the primary endpoint, not the reader"));
}

TEST_F(RedisCheck, NothingListeningIsUnreachable) {
  const Result r = check(target_at(runtime::pick_free_port("127.0.0.1")));
  EXPECT_EQ(r.reason, kUnreachable);
  EXPECT_THAT(r.message, HasSubstr("Connection refused"));
}

TEST_F(RedisCheck, AServerThatStopsIsUnreachableThen) {
  RedisServer server(dir_->path(), runtime::pick_free_port("127.0.0.1"), {});
  ASSERT_TRUE(server.wait_listening(server.port()));
  EXPECT_EQ(check(target_at(server.port(), "")).reason, kReady);
  server.stop();
  EXPECT_EQ(check(target_at(server.port(), "")).reason, kUnreachable);
}

TEST_F(RedisCheck, TlsWithTheCertificatesNameIsReady) {
  const Result r = check(tls_target("redis.test"), with_ca());
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_THAT(r.message, HasSubstr("over TLS"));
}

TEST_F(RedisCheck, TlsWithAnotherNameIsTlsFailed) {
  const Result r = check(tls_target("other.test"), with_ca());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, kTlsFailed);
  EXPECT_THAT(r.message, HasSubstr("hostname mismatch"));
  EXPECT_THAT(r.message, HasSubstr("other.test"));
}

TEST_F(RedisCheck, TlsFromAnUntrustedCaIsTlsFailed) {
  const Result r = check(tls_target("redis.test"));  // the system's CAs only
  EXPECT_EQ(r.reason, kTlsFailed);
}

TEST_F(RedisCheck, PlainTcpToATlsPortIsNotReady) {
  Target t = tls_target("redis.test");
  t.tls = false;
  CheckOptions options;
  options.timeout = 2s;
  EXPECT_FALSE(check(t, options).ok);
}

TEST_F(RedisCheck, EveryAddressIsCheckedAndTheFirstFailureDecides) {
  Target t = target_at(primary_->port());
  t.hosts = {"127.0.0.1", "::1"};  // the primary listens on 127.0.0.1 alone
  const Result r = check(t);
  EXPECT_EQ(r.reason, kUnreachable);
  EXPECT_THAT(r.message, HasSubstr("[::1]"));
}

// The checker: results arrive without the caller waiting, a change wakes
// the key, a failing target is looked at again with back-off, and a new
// target (a new password) is checked at once.
TEST_F(RedisCheck, TheCheckerWakesTheKeyWhenItsResultChanges) {
  std::atomic<int> wakes = 0;
  CheckerOptions options;
  options.period = 200ms;
  options.min_backoff = 100ms;
  options.max_backoff = 400ms;
  RedisChecker checker(options, [&](const std::string& key) {
    EXPECT_EQ(key, "ns/web");
    ++wakes;
  });
  auto until = [](auto predicate) {
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
      if (predicate()) return true;
    }
    return false;
  };

  RedisServer server(dir_->path(), runtime::pick_free_port("127.0.0.1"),
                     {"--requirepass", kPassword});
  ASSERT_TRUE(server.wait_listening(server.port()));
  const Target good = target_at(server.port());
  EXPECT_EQ(checker.observe("ns/web", good), std::nullopt) << "not checked yet";
  ASSERT_TRUE(until([&] { return wakes == 1; }));
  EXPECT_EQ(checker.observe("ns/web", good)->reason, kReady);

  // Re-checked on the period; the same result wakes nobody.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(wakes, 1);

  server.stop();
  ASSERT_TRUE(until([&] { return wakes == 2; }));
  EXPECT_EQ(checker.observe("ns/web", good)->reason, kUnreachable);

  const Target rotated = target_at(server.port(), "a-new-password");
  EXPECT_EQ(checker.observe("ns/web", rotated), std::nullopt) << "a new target starts afresh";
  ASSERT_TRUE(until([&] { return wakes == 3; }));
  EXPECT_EQ(checker.observe("ns/web", rotated)->reason, kUnreachable);

  checker.forget("ns/web");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(wakes, 3) << "a forgotten key is not checked";
}

}  // namespace
}  // namespace sreracha::redis_check
