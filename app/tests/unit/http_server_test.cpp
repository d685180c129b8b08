// The server on a loopback port, in this process: what goes over the wire
// (HEAD, 405's Allow, keep-alive, parse errors, limits) and graceful stop.
#include "http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "support/http_client.h"

namespace sreracha {
namespace {

using test_support::http_get;
using test_support::http_raw;
namespace asio = boost::asio;

class AppServer : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds handler_delay = {},
             std::chrono::seconds idle_timeout = std::chrono::seconds(60)) {
    ServerOptions options;
    options.header_limit = 4096;
    options.idle_timeout = idle_timeout;
    options.access_log = false;
    server_ = std::make_unique<HttpServer>(
        io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
        [handler_delay](std::string_view method, std::string_view target) {
          if (handler_delay.count() > 0) std::this_thread::sleep_for(handler_delay);
          return route(method, target, CounterSnapshot{true, 30, ""}, 0);
        },
        options);
    port_ = server_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  // Runs shutdown on the server's thread; the future has the unfinished count.
  std::future<std::size_t> shutdown(std::chrono::milliseconds grace) {
    auto done = std::make_shared<std::promise<std::size_t>>();
    auto future = done->get_future();
    asio::post(io_, [this, grace, done] {
      server_->shutdown(grace, [done](std::size_t unfinished) { done->set_value(unfinished); });
    });
    return future;
  }

  asio::io_context io_{1};
  std::unique_ptr<HttpServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// A connected socket that has sent nothing (an idle keep-alive client).
int connect_idle(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST_F(AppServer, GetAnswersJsonWithLengthAndDate) {
  start();
  auto r = http_get(port_, "/?q=1");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Date: "), std::string::npos) << r.head;
  EXPECT_NE(r.head.find("Content-Length: " + std::to_string(r.body.size())), std::string::npos);
  EXPECT_NE(r.body.find("\"fizzbuzz\":\"FizzBuzz\""), std::string::npos) << r.body;
}

TEST_F(AppServer, HeadSendsGetsLengthAndNoBody) {
  start();
  auto get = http_get(port_, "/?q=1");
  auto head = http_get(port_, "/?q=1", "HEAD");
  EXPECT_EQ(head.status, 200) << head.error;
  EXPECT_EQ(head.body, "");
  EXPECT_NE(head.head.find("Content-Length: " + std::to_string(get.body.size())), std::string::npos)
      << head.head;
}

TEST_F(AppServer, StatusesOverTheWire) {
  start();
  EXPECT_EQ(http_get(port_, "/").status, 400);
  EXPECT_EQ(http_get(port_, "/nope?q=1").status, 404);
  auto post = http_get(port_, "/?q=1", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.head.find("Allow: GET, HEAD"), std::string::npos) << post.head;
}

TEST_F(AppServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  auto r = http_raw(port_,
                    "GET /?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /?q=healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all = r.head + "\r\n\r\n" + r.body;
  EXPECT_NE(all.find("HTTP/1.1 200 OK"), std::string::npos) << all;
  EXPECT_NE(all.find("HTTP/1.1 400 Bad Request"), std::string::npos) << all;
  EXPECT_NE(all.find("{\"status\":\"ok\"}"), std::string::npos) << all;
}

TEST_F(AppServer, MalformedRequestsGet400AndOversizedHeaders431) {
  start();
  EXPECT_EQ(http_raw(port_, "GARBAGE\r\n\r\n").status, 400);
  EXPECT_EQ(http_raw(port_, "GET /?q=1 HTTP/9.9\r\n\r\n").status, 400);
  EXPECT_EQ(http_raw(port_, "GET /?q=1 HTTP/1.1\r\nNo-Colon\r\n\r\n").status, 400);
  std::string huge =
      "GET /?q=1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_EQ(http_raw(port_, huge).status, 431);
  // A long but legal query within the header limit is served.
  EXPECT_EQ(http_get(port_, "/?q=" + std::string(3000, 'x')).status, 200);
  // The server still answers after all that.
  EXPECT_EQ(http_get(port_, "/?q=1").status, 200);
}

TEST_F(AppServer, IdleAndStalledConnectionsAreClosedAfterTheIdleTimeout) {
  start({}, std::chrono::seconds(1));
  int idle = connect_idle(port_);
  int stalled = connect_idle(port_);
  std::string half = "GET /?q=1 HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_EQ(::send(stalled, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
  timeval tv{5, 0};
  auto started = std::chrono::steady_clock::now();
  for (int fd : {idle, stalled}) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    EXPECT_EQ(::recv(fd, &c, 1, 0), 0) << "closed by the server, not by the 5 s receive timeout";
    ::close(fd);
  }
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(3500));
  EXPECT_EQ(http_get(port_, "/?q=1").status, 200) << "and it still serves";
}

TEST_F(AppServer, ShutdownClosesIdleConnectionsAndStopsAccepting) {
  start();
  int idle = connect_idle(port_);
  EXPECT_EQ(http_get(port_, "/?q=1").status, 200);
  auto done = shutdown(std::chrono::seconds(5));
  ASSERT_EQ(done.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(done.get(), 0u);
  char c;
  EXPECT_EQ(::recv(idle, &c, 1, 0), 0) << "the idle connection was closed";
  ::close(idle);
  EXPECT_EQ(http_get(port_, "/?q=1", "GET", 500).status, 0) << "no longer accepting";
}

TEST_F(AppServer, ShutdownLetsARequestInProgressFinish) {
  start(std::chrono::milliseconds(300));
  auto in_flight = std::async(std::launch::async, [this] { return http_get(port_, "/?q=1"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto done = shutdown(std::chrono::seconds(5));
  auto r = in_flight.get();
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(r.body.find("\"answer\""), std::string::npos);
  ASSERT_EQ(done.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(done.get(), 0u);
}

TEST_F(AppServer, ShutdownIsBoundedByTheGracePeriod) {
  start();
  int partial = connect_idle(port_);
  std::string half = "GET /?q=1 HTTP/1.1\r\n";  // and never the rest
  ASSERT_EQ(::send(partial, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto started = std::chrono::steady_clock::now();
  auto done = shutdown(std::chrono::milliseconds(300));
  ASSERT_EQ(done.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  EXPECT_EQ(done.get(), 1u) << "one request was still being read";
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250));
  ::close(partial);
}

}  // namespace
}  // namespace sreracha
