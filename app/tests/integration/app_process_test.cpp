// The binary as the kubelet runs it: start-up errors, probes without Redis,
// JSON logs, SIGTERM, --exit-after. One real redis-server where a counter is needed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <set>
#include <sstream>
#include <thread>

#include "redis_connection.h"
#include "support/http_client.h"
#include "support/process.h"

namespace test_support {
namespace {

using namespace std::chrono_literals;

TEST(AppProcess, BadRedisUrlFailsAtStartUpWithAClearError) {
  TempDir dir;
  Process p({app_binary(), "--listen", "127.0.0.1:0"}, dir.file("out"), dir.file("err"),
            {{"REDIS_URL", "redis://[::1:6379"}});
  auto status = p.wait(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  EXPECT_EQ(read_file(dir.file("err")),
            "sreracha: --redis-url/REDIS_URL: invalid Redis URL: unterminated '[' in an IPv6 host "
            "(expected redis[s]://[[user]:password@]host[:port][/db])\n");
}

TEST(AppProcess, ProbesAnswerWithoutRedisAndSayTheCounterIsUnavailable) {
  TempDir dir;
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(free_port())});
  ASSERT_NE(app.port(), 0) << app.logs() << app.stderr_text();
  EXPECT_EQ(http_get(app.port(), "/?q=healthz").body, "{\"status\":\"ok\"}\n");
  ASSERT_TRUE(app.wait_for_log("cannot reach redis", 5s)) << app.logs();
  auto r = http_get(app.port(), "/?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"counter\":\"unavailable: redis unreachable\""), std::string::npos)
      << r.body;
  EXPECT_EQ(http_get(app.port(), "/").status, 400);
}

TEST(AppProcess, LogsAreOneJsonObjectPerLineWithAccessLines) {
  TempDir dir;
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(free_port())});
  ASSERT_NE(app.port(), 0);
  http_get(app.port(), "/?q=secret-question");
  http_get(app.port(), "/nope");
  ASSERT_TRUE(app.wait_for_log("\"status\":404", 2s)) << app.logs();
  std::istringstream lines(app.logs());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_TRUE(line.starts_with("{\"time\":\"") && line.ends_with("}")) << line;
    EXPECT_NE(line.find("\"level\":\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"msg\":\""), std::string::npos) << line;
  }
  EXPECT_GE(n, 3);
  std::string logs = app.logs();
  EXPECT_NE(logs.find("\"msg\":\"request\",\"method\":\"GET\",\"path\":\"/\",\"status\":200,"
                      "\"duration_ms\":"),
            std::string::npos)
      << logs;
  EXPECT_EQ(logs.find("secret-question"), std::string::npos) << "queries are not logged";
}

TEST(AppProcess, SigtermExitsZero) {
  TempDir dir;
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(free_port())});
  ASSERT_NE(app.port(), 0);
  EXPECT_EQ(http_get(app.port(), "/?q=1").status, 200);
  app.process().signal(SIGTERM);
  auto status = app.process().wait(5s);
  ASSERT_TRUE(status) << "still running 5 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_NE(app.logs().find("\"msg\":\"shutting down\",\"signal\":\"SIGTERM\""), std::string::npos);
  EXPECT_NE(app.logs().find("\"msg\":\"stopped\""), std::string::npos);
}

TEST(AppProcess, ExitAfterCrashesLikeTheOriginal) {
  TempDir dir;
  auto started = std::chrono::steady_clock::now();
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(free_port())},
          {{"SRERACHA_EXIT_AFTER", "1"}, {"SRERACHA_EXIT_AFTER_JITTER", "0.5"}});
  ASSERT_NE(app.port(), 0);
  EXPECT_EQ(http_get(app.port(), "/?q=1").status, 200) << "serves until then";
  auto status = app.process().wait(5s);
  auto lived = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(status) << "did not exit";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  EXPECT_GE(lived, 950ms);
  EXPECT_LT(lived, 3s);
  EXPECT_TRUE(app.stderr_text().starts_with("panic: sreracha: simulated crash after 1."))
      << app.stderr_text();
  EXPECT_NE(app.logs().find("\"level\":\"fatal\""), std::string::npos) << app.logs();
}

TEST(AppProcess, ExitAfterIsOffByDefault) {
  TempDir dir;
  App app(dir.path(), "app", {"--redis-url", "redis://127.0.0.1:" + std::to_string(free_port())},
          {{"SRERACHA_EXIT_AFTER", ""}});
  ASSERT_NE(app.port(), 0);
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(app.process().running());
}

// The counts an app logged at debug level, one per INCR it made.
std::set<long> counts_logged(const std::string& logs) {
  std::set<long> counts;
  const std::string marker = "\"msg\":\"counter\",\"count\":";
  for (std::size_t at = logs.find(marker); at != std::string::npos;
       at = logs.find(marker, at + 1)) {
    counts.insert(std::stol(logs.substr(at + marker.size())));
  }
  return counts;
}

TEST(AppProcess, CounterIsSharedByTwoAppsOnOneRedis) {
  TempDir dir;
  RedisServer redis(dir.path(), free_port());
  redis.start();
  std::string url = "redis://127.0.0.1:" + std::to_string(redis.port());
  std::string key = "test:shared";
  App a(dir.path(), "a", {"--redis-url", url, "--redis-key", key, "--log-level", "debug"});
  App b(dir.path(), "b", {"--redis-url", url, "--redis-key", key, "--log-level", "debug"});
  ASSERT_NE(a.port(), 0);
  ASSERT_NE(b.port(), 0);
  std::this_thread::sleep_for(3500ms);
  auto answer = http_get(a.port(), "/?q=1");
  for (App* app : {&a, &b}) {
    app->process().signal(SIGTERM);
    ASSERT_TRUE(app->process().wait(5s));
  }
  // Every INCR of either app got the next number of one sequence: together
  // they logged 1..N, each number once, and Redis holds N.
  std::set<long> from_a = counts_logged(a.logs()), from_b = counts_logged(b.logs());
  EXPECT_GE(from_a.size(), 3u) << a.logs();
  EXPECT_GE(from_b.size(), 3u) << b.logs();
  std::set<long> all = from_a;
  for (long n : from_b) EXPECT_TRUE(all.insert(n).second) << n << " was INCRed by both";
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(static_cast<std::size_t>(*all.rbegin()), all.size()) << "a gap in 1..N";
  sreracha::RedisOptions admin;
  admin.url = sreracha::parse_redis_url(url);
  EXPECT_EQ(sreracha::RedisConnection::open(admin)->command({"GET", key}).str,
            std::to_string(*all.rbegin()));
  // And the answer carries a count of that sequence with its FizzBuzz.
  auto count = count_in(answer.body);
  ASSERT_TRUE(count) << answer.body;
  EXPECT_TRUE(all.count(*count)) << answer.body;
  std::string fb = *count % 15 == 0  ? "FizzBuzz"
                   : *count % 3 == 0 ? "Fizz"
                   : *count % 5 == 0 ? "Buzz"
                                     : std::to_string(*count);
  EXPECT_NE(answer.body.find("\"fizzbuzz\":\"" + fb + "\""), std::string::npos) << answer.body;
}

}  // namespace
}  // namespace test_support
