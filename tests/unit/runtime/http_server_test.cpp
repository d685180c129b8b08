// The probe/metrics HTTP server: bind address parsing, port 0, routing.
#include "runtime/http_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>

#include <cpprest/http_client.h>

#include "kube/io.h"
#include "unit/kube/caller_driven_io.h"

namespace runtime {
namespace {

using namespace std::chrono_literals;

// As the operator runs it: no I/O pool, waiting threads run the I/O.
class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { use_caller_driven_io(); }
};

struct Answer {
  int status;
  std::string body;
  std::string content_type;
};

Answer http_get(const std::string& address, const std::string& path,
                const std::string& method = "GET") {
  web::http::client::http_client_config config;
  config.set_timeout(std::chrono::seconds(5));
  web::http::client::http_client client("http://" + address, config);
  auto response = kube::io::await(client.request(method, path));
  return {response.status_code(), kube::io::await(response.extract_utf8string(true)),
          response.headers().content_type()};
}

TEST(BindAddress, ParsesTheFlagForms) {
  auto all = parse_bind_address(":8080");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->host, "");
  EXPECT_EQ(all->port, 8080);
  auto local = parse_bind_address("127.0.0.1:0");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 0);
  EXPECT_FALSE(parse_bind_address("0")) << "0 disables the server";
  EXPECT_FALSE(parse_bind_address(""));
  for (const char* bad : {"8080", ":http", ":70000", "host:", "::1:80", ":-1"}) {
    EXPECT_THROW(parse_bind_address(bad), std::invalid_argument) << bad;
  }
}

TEST_F(HttpServerTest, PortZeroListensOnARealPortAndReportsIt) {
  HttpServer server("127.0.0.1:0", {{"/healthz", [] {
                                       return HttpResponse{200, "text/plain", "ok"};
                                     }}});
  server.start();
  const auto address = server.address();
  ASSERT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
  EXPECT_NE(address, "127.0.0.1:0");
  auto answer = http_get(address, "/healthz");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "ok");
}

TEST_F(HttpServerTest, RoutesByExactPathAndMethod) {
  HttpServer server(
      "127.0.0.1:0",
      {{"/metrics",
        [] {
          return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", "x 1\n"};
        }},
       {"/boom", []() -> HttpResponse { throw std::runtime_error("broken"); }}});
  server.start();
  auto metrics = http_get(server.address(), "/metrics?debug=1");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "x 1\n");
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(http_get(server.address(), "/nope").status, 404);
  EXPECT_EQ(http_get(server.address(), "/metrics", "POST").status, 405);
  auto boom = http_get(server.address(), "/boom");
  EXPECT_EQ(boom.status, 500);
  EXPECT_EQ(boom.body, "broken\n");
}

TEST_F(HttpServerTest, TwoServersOnPortZeroGetDifferentPorts) {
  HttpServer a("127.0.0.1:0", {});
  HttpServer b("127.0.0.1:0", {});
  a.start();
  b.start();
  EXPECT_NE(a.address(), b.address());
}

TEST_F(HttpServerTest, FailsLoudlyOnAPortInUse) {
  HttpServer first("127.0.0.1:0", {});
  first.start();
  HttpServer second(first.address(), {});
  EXPECT_THROW(second.start(), std::runtime_error);
}

TEST_F(HttpServerTest, DisabledServerDoesNothing) {
  HttpServer server("0", {});
  server.start();
  EXPECT_FALSE(server.enabled());
  EXPECT_EQ(server.address(), "");
}

TEST_F(HttpServerTest, StopClosesTheListener) {
  HttpServer server("127.0.0.1:0", {{"/healthz", [] { return HttpResponse{}; }}});
  server.start();
  const auto address = server.address();
  server.stop();
  EXPECT_EQ(server.address(), "");
  EXPECT_ANY_THROW(http_get(address, "/healthz"));
}

// A kept-alive connection (a Prometheus scrape, a kubelet probe) is still
// open at shutdown: cpprestsdk's close() waits for it inside its own task.
TEST_F(HttpServerTest, StopReturnsWhileAClientKeepsItsConnectionOpen) {
  HttpServer server("127.0.0.1:0", {{"/healthz", [] { return HttpResponse{}; }}});
  server.start();
  const auto address = server.address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: " + address + "\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  char answer[512] = {};
  ASSERT_GT(::recv(fd, answer, sizeof answer - 1, 0), 0);  // answered; the connection stays
  EXPECT_EQ(std::string(answer).rfind("HTTP/1.1 200", 0), 0u) << answer;

  auto stopped = std::async(std::launch::async, [&server] { server.stop(); });
  if (stopped.wait_for(10s) != std::future_status::ready) {
    // Nothing can end a stuck stop() (the I/O it waits for runs on its own
    // thread), and the future would wait for it: report and end here.
    std::fputs("stop() hung while a connection was open\n", stderr);
    std::abort();
  }
  ::close(fd);
}

}  // namespace
}  // namespace runtime
