// Redis killed and started again: the counter resumes where it was, and
// /?q= never stops answering in between.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace test_support {
namespace {

using namespace std::chrono_literals;

TEST(AppRedisRestart, CounterResumesAndRequestsNeverStopAnswering) {
  TempDir dir;
  // Append-only file, fsync on every write: a SIGKILL loses nothing.
  RedisServer redis(dir.path(), free_port(), {"--appendonly", "yes", "--appendfsync", "always"});
  redis.start();
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(redis.port())});
  ASSERT_NE(app.port(), 0);

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, failed{0}, said_unavailable{0};
  std::string first_failure;
  std::thread poller([&] {
    while (!stop) {
      auto r = http_get(app.port(), "/?q=1", "GET", 2000);
      if (r.status == 200) {
        ++answered;
        if (r.body.find("unavailable: redis unreachable") != std::string::npos) ++said_unavailable;
      } else if (failed++ == 0) {
        first_failure = std::to_string(r.status) + " " + r.error;
      }
      std::this_thread::sleep_for(20ms);
    }
  });

  long before = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        before = count_in(http_get(app.port(), "/?q=1").body).value_or(0);
        return before >= 3;
      },
      6s))
      << app.logs();
  redis.kill_hard();
  EXPECT_TRUE(app.wait_for_log("lost the connection to redis", 3s)) << app.logs();
  EXPECT_TRUE(wait_until([&] { return said_unavailable > 0; }, 3s));
  std::this_thread::sleep_for(1s);  // a few reconnect attempts fail

  redis.start();
  // The first count after the restart: from the persisted value on, not from 1.
  std::optional<long> after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = count_in(http_get(app.port(), "/?q=1").body);
        return after.has_value();
      },
      10s))
      << app.logs();
  stop = true;
  poller.join();
  EXPECT_GT(after.value_or(0), before) << app.logs();
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_GT(answered, 50);
  EXPECT_EQ(count_of(app.logs(), "\"msg\":\"connected to redis\""), 2u) << app.logs();
}

}  // namespace
}  // namespace test_support
