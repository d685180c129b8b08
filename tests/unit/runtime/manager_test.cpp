// The manager's probe endpoints against an API server that accepts
// connections and never answers: /healthz must not share the client's fate.
#include "runtime/manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include <pplx/threadpool.h>
#include <boost/asio/post.hpp>

#include "unit/kube/caller_driven_io.h"
#include "unit/kube/stalled_server.h"

namespace runtime {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A GET over a plain socket, answered within `limit` or "" (not through
// cpprestsdk: the point is whether its I/O still runs).
std::string raw_get(const std::string& address, const std::string& path,
                    std::chrono::seconds limit = 3s) {
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{static_cast<time_t>(limit.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n\r\n";
    ::send(fd, request.data(), request.size(), 0);
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
      answer.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

TEST(Manager, HealthzAnswersWhileTheApiServerNeverDoes) {
  use_caller_driven_io();
  StalledServer api;
  kube::Config config;
  config.server = api.url();
  kube::ClientOptions client_options;
  client_options.request_timeout = 3s;
  client_options.max_retries = 0;
  kube::Client client(config, client_options);

  ManagerOptions options;
  options.namespace_ = "default";
  options.metrics_bind_address = "0";
  options.health_probe_bind_address = "127.0.0.1:0";
  options.handle_signals = false;
  Manager manager(client, options);
  manager.informer(kube::resources::configmaps);
  manager.informer(kube::resources::secrets);
  auto ran = std::async(std::launch::async, [&manager] { return manager.run(); });

  std::string address;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       address.empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
    address = manager.health_address();
  }
  ASSERT_FALSE(address.empty());
  // Both informers' lists are stuck in the stalled server meanwhile.
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       api.accepted() < 2 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
  }
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto healthz = raw_get(address, "/healthz");
    EXPECT_EQ(healthz.rfind("HTTP/1.1 200", 0), 0u) << healthz;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    const auto readyz = raw_get(address, "/readyz");
    EXPECT_EQ(readyz.rfind("HTTP/1.1 500", 0), 0u) << readyz;
    EXPECT_THAT(readyz, HasSubstr("informer not synced: configmaps in namespace default"));
    std::this_thread::sleep_for(300ms);
  }
  // A handler that blocks (as cpprestsdk's read_line() and listener close()
  // do) holds up the thread that runs it, not the probes.
  std::atomic<bool> release{false};
  boost::asio::post(crossplat::threadpool::shared_instance().service(), [&release] {
    while (!release) std::this_thread::sleep_for(1ms);
  });
  std::this_thread::sleep_for(50ms);
  const auto start = std::chrono::steady_clock::now();
  const auto healthz = raw_get(address, "/healthz");
  EXPECT_EQ(healthz.rfind("HTTP/1.1 200", 0), 0u) << healthz;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  release = true;

  manager.stop();
  ASSERT_EQ(ran.wait_for(20s), std::future_status::ready) << "run() did not return after stop()";
  EXPECT_EQ(ran.get(), 0);
}

// Before calls honoured their Context, each informer's list and the
// elector's get sat in the stalled server for request_timeout (30 s) times
// six attempts, and stop() waited for them.
TEST(Manager, StopIsQuickWhileTheApiServerNeverAnswers) {
  use_caller_driven_io();
  StalledServer api;
  kube::Config config;
  config.server = api.url();
  config.namespace_ = "default";
  kube::Client client(config);  // default timeouts and retries

  ManagerOptions options;
  options.namespace_ = "default";
  options.metrics_bind_address = "0";
  options.health_probe_bind_address = "0";
  options.handle_signals = false;
  options.leader_elect = true;
  options.identity = "manager-test";
  Manager manager(client, options);
  manager.informer(kube::resources::configmaps);
  manager.informer(kube::resources::secrets);
  auto ran = std::async(std::launch::async, [&manager] { return manager.run(); });
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       api.accepted() < 3 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GE(api.accepted(), 3);  // two lists and the elector's get, all stuck
  const auto begin = std::chrono::steady_clock::now();
  manager.stop();
  ASSERT_EQ(ran.wait_for(20s), std::future_status::ready) << "run() did not return after stop()";
  const auto took = std::chrono::steady_clock::now() - begin;
  std::printf("stop() with the API server stalled: run() returned after %.0f ms\n",
              std::chrono::duration<double, std::milli>(took).count());
  EXPECT_LT(took, 1s);
  EXPECT_EQ(ran.get(), 0);
}

}  // namespace
}  // namespace runtime
