// rediss:// against a TLS-only redis-server with a CA made for the test: the
// certificate is checked against --redis-ca (or the system store) and the
// URL's host name.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace test_support {
namespace {

using namespace std::chrono_literals;

class AppRedisTls : public ::testing::Test {
 protected:
  void SetUp() override {
    // A CA, and a server certificate from it for the name "localhost" only
    // (no IP SAN: dialing 127.0.0.1 must then fail the name check).
    std::ofstream(dir_.file("ext.cnf")) << "subjectAltName=DNS:localhost\n";
    std::string d = dir_.path();
    std::string script =
        "set -e; cd '" + d + "'; " +
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.pem -days 1 -subj /CN=sreracha-test-ca; "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout server.key -out server.csr -subj /CN=localhost; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 1 -extfile ext.cnf";
    std::string command = "bash -c \"" + script + "\" >'" + d + "/openssl.log' 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << read_file(dir_.file("openssl.log"));
    redis_.emplace(
        dir_.path(), free_port(),
        std::vector<std::string>{"--tls-cert-file", dir_.file("server.pem"), "--tls-key-file",
                                 dir_.file("server.key"), "--tls-ca-cert-file", dir_.file("ca.pem"),
                                 "--tls-auth-clients", "no"},
        true);
    redis_->start();
  }
  std::string url(const std::string& host) const {
    return "rediss://" + host + ":" + std::to_string(redis_->port());
  }
  TempDir dir_;
  std::optional<RedisServer> redis_;
};

TEST_F(AppRedisTls, TestCaAndTheServersNameConnect) {
  App app(dir_.path(), "app", {"--redis-url", url("localhost"), "--redis-ca", dir_.file("ca.pem")});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("\"msg\":\"connected to redis\"", 5s)) << app.logs();
  EXPECT_NE(app.logs().find("\"tls\":true"), std::string::npos);
  EXPECT_TRUE(
      wait_until([&] { return count_in(http_get(app.port(), "/?q=1").body).has_value(); }, 3s))
      << app.logs();
}

TEST_F(AppRedisTls, TheSystemStoreDoesNotTrustTheTestCa) {
  App app(dir_.path(), "app", {"--redis-url", url("localhost")}, {{"REDIS_CA", ""}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("certificate verification failed", 5s)) << app.logs();
  EXPECT_EQ(app.logs().find("\"msg\":\"connected to redis\""), std::string::npos);
  EXPECT_NE(http_get(app.port(), "/?q=1").body.find("unavailable: tls to redis failed"),
            std::string::npos);
}

TEST_F(AppRedisTls, ANameTheCertificateDoesNotCarryIsRefused) {
  App app(dir_.path(), "app", {"--redis-url", url("127.0.0.1")},
          {{"REDIS_CA", dir_.file("ca.pem")}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("certificate verification failed: IP address mismatch", 5s))
      << app.logs();
  EXPECT_FALSE(count_in(http_get(app.port(), "/?q=1").body));
}

// The URL names an address (or an alias) the certificate does not carry;
// the server name given apart is what is verified.
TEST_F(AppRedisTls, AServerNameGivenApartIsTheOneVerified) {
  App app(dir_.path(), "app-server-name", {"--redis-url", url("127.0.0.1")},
          {{"REDIS_CA", dir_.file("ca.pem")}, {"REDIS_TLS_SERVER_NAME", "localhost"}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("\"msg\":\"connected to redis\"", 5s)) << app.logs();

  App wrong(dir_.path(), "app-wrong-name", {"--redis-url", url("localhost")},
            {{"REDIS_CA", dir_.file("ca.pem")}, {"REDIS_TLS_SERVER_NAME", "redis.example"}});
  ASSERT_NE(wrong.port(), 0);
  ASSERT_TRUE(wrong.wait_for_log("certificate verification failed", 5s)) << wrong.logs();
}

TEST_F(AppRedisTls, APeerThatHangsUpMidHandshakeDoesNotKillTheApp) {
  // openssl s_server with nothing on stdin accepts one connection and hangs
  // up in the middle of the handshake: OpenSSL then writes to a closed
  // socket, which raises SIGPIPE unless the app ignores it.
  std::uint16_t port = free_port();
  Process peer({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                "-cert", dir_.file("server.pem"), "-key", dir_.file("server.key"), "-naccept", "1"},
               dir_.file("peer.log"), dir_.file("peer.log"));
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir_.file("peer.log")).find("ACCEPT") != std::string::npos; }, 5s))
      << read_file(dir_.file("peer.log"));
  App app(dir_.path(), "app",
          {"--redis-url", "rediss://localhost:" + std::to_string(port), "--redis-ca",
           dir_.file("ca.pem")});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("TLS handshake with localhost:" + std::to_string(port), 5s))
      << app.logs();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(app.process().running()) << app.stderr_text();
  EXPECT_EQ(http_get(app.port(), "/?q=1").status, 200);
}

// What openssl s_server -tlsextdebug saw of the server name (SNI) the app
// sent to an endpoint given as `host` (and `server_name`, if any): the
// extension's hex dump, or "".
std::string sni_seen_by_peer(const TempDir& dir, const std::string& host,
                             const std::string& server_name = "") {
  std::uint16_t port = free_port();
  std::string log = dir.file("sni-" + host + "-" + server_name + ".log");
  // -www: answers by itself, so it does not hang up when stdin is empty.
  Process peer({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                "-cert", dir.file("server.pem"), "-key", dir.file("server.key"), "-www",
                "-tlsextdebug", "-naccept", "1"},
               log, log);
  EXPECT_TRUE(wait_until([&] { return read_file(log).find("ACCEPT") != std::string::npos; }, 5s));
  std::vector<std::string> args = {
      "--redis-url",     "rediss://" + host + ":" + std::to_string(port),
      "--redis-ca",      dir.file("ca.pem"),
      "--redis-timeout", "0.5"};
  if (!server_name.empty()) {
    args.insert(args.end(), {"--redis-tls-server-name", server_name});
  }
  App app(dir.path(), "sni-app-" + host + server_name, args);
  EXPECT_TRUE(
      wait_until([&] { return read_file(log).find("EC point formats") != std::string::npos; }, 5s))
      << read_file(log);
  std::string seen = read_file(log);
  std::size_t at = seen.find("TLS client extension \"server name\"");
  if (at == std::string::npos) return "";
  return seen.substr(at, seen.find("TLS client extension", at + 10) - at);
}

TEST_F(AppRedisTls, SniIsTheUrlsHostNameAndNoneForAnAddress) {
  std::string by_name = sni_seen_by_peer(dir_, "localhost");
  EXPECT_NE(by_name.find(".localhost"), std::string::npos) << by_name;
  EXPECT_EQ(sni_seen_by_peer(dir_, "127.0.0.1"), "") << "an IP address is not a server name";
  EXPECT_NE(sni_seen_by_peer(dir_, "127.0.0.1", "localhost").find(".localhost"), std::string::npos)
      << "a server name given apart is sent";
}

}  // namespace
}  // namespace test_support
