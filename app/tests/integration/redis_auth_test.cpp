// A Redis that requires a password (ElastiCache with an AUTH token).
#include <gtest/gtest.h>

#include "support/http_client.h"
#include "support/process.h"

namespace test_support {
namespace {

using namespace std::chrono_literals;

class AppRedisAuth : public ::testing::Test {
 protected:
  void SetUp() override { redis_.start(); }
  std::string url(const std::string& userinfo = "") const {
    return "redis://" + userinfo + "127.0.0.1:" + std::to_string(redis_.port());
  }
  TempDir dir_;
  RedisServer redis_{dir_.path(), free_port(), {"--requirepass", "correct-horse"}};
};

TEST_F(AppRedisAuth, NoPasswordIsExplainedAndTheCounterIsUnavailable) {
  App app(dir_.path(), "app", {"--redis-url", url()}, {{"REDIS_AUTH", ""}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("requires a password (NOAUTH", 5s)) << app.logs();
  EXPECT_NE(app.logs().find("set REDIS_AUTH"), std::string::npos) << app.logs();
  auto r = http_get(app.port(), "/?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("unavailable: redis refused the password"), std::string::npos) << r.body;
}

TEST_F(AppRedisAuth, WrongPasswordIsRefusedWithAClearLogThatDoesNotShowIt) {
  App app(dir_.path(), "app", {"--redis-url", url()}, {{"REDIS_AUTH", "wrong-battery"}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("refused the password (WRONGPASS", 5s)) << app.logs();
  std::string logs = app.logs();
  EXPECT_NE(logs.find("\"level\":\"error\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("check REDIS_AUTH or the password in REDIS_URL"), std::string::npos);
  EXPECT_EQ(logs.find("wrong-battery"), std::string::npos) << "the password leaked into logs";
  EXPECT_FALSE(count_in(http_get(app.port(), "/?q=1").body));
}

TEST_F(AppRedisAuth, PasswordFromRedisAuthCounts) {
  App app(dir_.path(), "app", {"--redis-url", url()}, {{"REDIS_AUTH", "correct-horse"}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("connected to redis", 5s)) << app.logs();
  EXPECT_TRUE(
      wait_until([&] { return count_in(http_get(app.port(), "/?q=1").body).has_value(); }, 3s));
  EXPECT_EQ(app.logs().find("correct-horse"), std::string::npos);
}

TEST_F(AppRedisAuth, PasswordFromTheUrlCountsAndIsRedactedInLogs) {
  App app(dir_.path(), "app", {"--redis-url", url("default:correct-horse@")}, {{"REDIS_AUTH", ""}});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("connected to redis", 5s)) << app.logs();
  EXPECT_TRUE(
      wait_until([&] { return count_in(http_get(app.port(), "/?q=1").body).has_value(); }, 3s));
  std::string logs = app.logs();
  EXPECT_NE(logs.find("redis://default:***@127.0.0.1:"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("correct-horse"), std::string::npos) << logs;
}

}  // namespace
}  // namespace test_support
