// The app pointed at a replica (an ElastiCache reader endpoint): writes are
// refused with READONLY; the log says why and names the fix, once a minute.
#include <gtest/gtest.h>

#include "redis_connection.h"
#include "support/http_client.h"
#include "support/process.h"

namespace test_support {
namespace {

using namespace std::chrono_literals;

TEST(AppRedisReplica, ReadonlyIsExplainedOnceAMinuteNamingThePrimaryEndpoint) {
  TempDir primary_dir, replica_dir, app_dir;
  RedisServer primary(primary_dir.path(), free_port());
  primary.start();
  RedisServer replica(replica_dir.path(), free_port(),
                      {"--replicaof", "127.0.0.1", std::to_string(primary.port())});
  replica.start();
  App app(app_dir.path(), "app",
          {"--redis-url", "redis://127.0.0.1:" + std::to_string(replica.port())});
  ASSERT_NE(app.port(), 0);
  ASSERT_TRUE(app.wait_for_log("READONLY", 5s)) << app.logs();
  std::this_thread::sleep_for(3500ms);  // three or four more refused INCRs
  std::string logs = app.logs();
  EXPECT_EQ(count_of(logs, "Redis refused the counter write with READONLY"), 1u) << logs;
  EXPECT_NE(logs.find("point REDIS_URL at the primary endpoint"), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"endpoint\":\"127.0.0.1:" + std::to_string(replica.port()) + "\""),
            std::string::npos)
      << logs;
  auto r = http_get(app.port(), "/?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("unavailable: redis is a read-only replica"), std::string::npos) << r.body;
  // It reconnects after each READONLY (after a failover the endpoint's name
  // leads elsewhere), quietly: one "connected" line, not one a second.
  EXPECT_EQ(count_of(logs, "\"msg\":\"connected to redis\""), 1u) << logs;

  // The replica promoted (what a failover does): the counter comes back.
  sreracha::RedisOptions admin;
  admin.url = sreracha::parse_redis_url("redis://127.0.0.1:" + std::to_string(replica.port()));
  auto conn = sreracha::RedisConnection::open(admin);
  EXPECT_EQ(conn->command({"REPLICAOF", "NO", "ONE"}).str, "OK");
  EXPECT_TRUE(
      wait_until([&] { return count_in(http_get(app.port(), "/?q=1").body).has_value(); }, 5s))
      << app.logs();
}

}  // namespace
}  // namespace test_support
