#include "counter.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace sreracha {
namespace {

TEST(AppBackoff, DoublesFromInitialUpToTheCap) {
  CounterOptions o;
  o.backoff_initial = std::chrono::milliseconds(250);
  o.backoff_max = std::chrono::milliseconds(5000);
  EXPECT_EQ(backoff_delay(o, 1).count(), 250);
  EXPECT_EQ(backoff_delay(o, 2).count(), 500);
  EXPECT_EQ(backoff_delay(o, 5).count(), 4000);
  EXPECT_EQ(backoff_delay(o, 6).count(), 5000);
  EXPECT_EQ(backoff_delay(o, 1000).count(), 5000);
}

TEST(AppLogThrottle, OneLinePerIntervalCountingWhatItHeldBack) {
  LogThrottle t;
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  const auto minute = std::chrono::seconds(60);
  EXPECT_TRUE(t.allow(t0, minute));
  EXPECT_EQ(t.take_suppressed(), 0);
  EXPECT_FALSE(t.allow(t0 + std::chrono::seconds(1), minute));
  EXPECT_FALSE(t.allow(t0 + std::chrono::seconds(59), minute));
  EXPECT_TRUE(t.allow(t0 + std::chrono::seconds(60), minute));
  EXPECT_EQ(t.take_suppressed(), 2);
  EXPECT_EQ(t.take_suppressed(), 0);
}

// A loopback port nobody listens on: bound, never listened, then closed.
std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(AppCounter, UnreachableRedisIsReportedAndStopIsPrompt) {
  CounterOptions o;
  o.redis.url = parse_redis_url("redis://127.0.0.1:" + std::to_string(closed_port()));
  o.backoff_initial = std::chrono::milliseconds(20);
  Counter counter(o);
  EXPECT_FALSE(counter.snapshot().available);
  EXPECT_EQ(counter.snapshot().reason, "connecting to redis");
  counter.start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (counter.snapshot().reason != "redis unreachable" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(counter.snapshot().reason, "redis unreachable");
  EXPECT_FALSE(counter.snapshot().available);
  auto before = std::chrono::steady_clock::now();
  EXPECT_TRUE(counter.stop(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));
}

}  // namespace
}  // namespace sreracha
