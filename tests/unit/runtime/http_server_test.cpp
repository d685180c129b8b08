// The probe/metrics HTTP server: bind address parsing, port 0, routing.
#include "runtime/http_server.h"

#include <gtest/gtest.h>

#include <cpprest/http_client.h>

namespace runtime {
namespace {

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
  auto response = client.request(method, path).get();
  return {response.status_code(), response.extract_utf8string(true).get(),
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

TEST(HttpServer, PortZeroListensOnARealPortAndReportsIt) {
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

TEST(HttpServer, RoutesByExactPathAndMethod) {
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

TEST(HttpServer, TwoServersOnPortZeroGetDifferentPorts) {
  HttpServer a("127.0.0.1:0", {});
  HttpServer b("127.0.0.1:0", {});
  a.start();
  b.start();
  EXPECT_NE(a.address(), b.address());
}

TEST(HttpServer, FailsLoudlyOnAPortInUse) {
  HttpServer first("127.0.0.1:0", {});
  first.start();
  HttpServer second(first.address(), {});
  EXPECT_THROW(second.start(), std::runtime_error);
}

TEST(HttpServer, DisabledServerDoesNothing) {
  HttpServer server("0", {});
  server.start();
  EXPECT_FALSE(server.enabled());
  EXPECT_EQ(server.address(), "");
}

TEST(HttpServer, StopClosesTheListener) {
  HttpServer server("127.0.0.1:0", {{"/healthz", [] { return HttpResponse{}; }}});
  server.start();
  const auto address = server.address();
  server.stop();
  EXPECT_EQ(server.address(), "");
  EXPECT_ANY_THROW(http_get(address, "/healthz"));
}

}  // namespace
}  // namespace runtime
