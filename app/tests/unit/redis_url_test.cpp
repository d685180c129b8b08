#include "redis_url.h"

#include <gtest/gtest.h>

namespace sreracha {
namespace {

TEST(AppRedisUrl, PlainHostDefaultsPortAndDb) {
  RedisUrl u = parse_redis_url("redis://my-redis");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "my-redis");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.db, 0);
  EXPECT_FALSE(u.password);
  EXPECT_EQ(u.endpoint(), "my-redis:6379");
}

TEST(AppRedisUrl, TlsPortAndDb) {
  RedisUrl u = parse_redis_url("rediss://master.x.cache.amazonaws.com:6380/2");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "master.x.cache.amazonaws.com");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(parse_redis_url("redis://h/").db, 0);
}

TEST(AppRedisUrl, UserinfoPasswordOnlyAndUserAndPassword) {
  RedisUrl p = parse_redis_url("redis://:s3cret@h:1");
  EXPECT_EQ(p.username, "");
  EXPECT_EQ(p.password.value_or("<none>"), "s3cret");
  RedisUrl up = parse_redis_url("redis://app:p%40ss%3Aw@h");
  EXPECT_EQ(up.username, "app");
  EXPECT_EQ(up.password.value_or("<none>"), "p@ss:w");
  // An unescaped '@' in the password: the last '@' ends the userinfo.
  EXPECT_EQ(parse_redis_url("redis://:a@b@h").password.value_or(""), "a@b");
  EXPECT_EQ(parse_redis_url("redis://:a@b@h").host, "h");
  EXPECT_FALSE(parse_redis_url("redis://user@h").password);
}

TEST(AppRedisUrl, RedactedNeverShowsThePassword) {
  RedisUrl u = parse_redis_url("rediss://app:hunter2@h:6380/3");
  EXPECT_EQ(u.redacted(), "rediss://app:***@h:6380/3");
  EXPECT_EQ(u.redacted().find("hunter2"), std::string::npos);
  EXPECT_EQ(parse_redis_url("redis://h").redacted(), "redis://h:6379");
}

TEST(AppRedisUrl, Ipv6) {
  RedisUrl u = parse_redis_url("redis://[::1]:7000");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.endpoint(), "[::1]:7000");
  EXPECT_EQ(parse_redis_url("rediss://:pw@[2001:db8::5]").host, "2001:db8::5");
  EXPECT_EQ(parse_redis_url("rediss://:pw@[2001:db8::5]").port, 6379);
}

void expect_error(std::string_view url, std::string_view needle) {
  try {
    parse_redis_url(url);
    ADD_FAILURE() << url << " parsed";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << url << " -> " << e.what();
  }
}

TEST(AppRedisUrl, BadUrlsSayWhatIsWrong) {
  expect_error("", "no scheme");
  expect_error("localhost:6379", "no scheme");
  expect_error("http://h", "unsupported scheme \"http\"");
  expect_error("redis://", "no host");
  expect_error("redis://:6379", "no host");
  expect_error("redis://h:", "empty port");
  expect_error("redis://h:0", "port \"0\"");
  expect_error("redis://h:65536", "port \"65536\"");
  expect_error("redis://h:63x", "port \"63x\"");
  expect_error("redis://h/db", "database \"db\"");
  expect_error("redis://h/-1", "database \"-1\"");
  expect_error("redis://[::1", "unterminated '['");
  expect_error("redis://[::1]x", "after the IPv6 host");
  expect_error("redis://[]:1", "empty IPv6 host");
  expect_error("redis://[host]:1", "is not an IPv6 address");
  expect_error("redis://::1:6379", "no host");
  expect_error("redis://h?ssl=true", "query parameters");
  expect_error("redis://:%zz@h", "percent-encoding in the password");
  expect_error("redis://h st", "bad character in host");
  // Every message shows the expected form, so the fix is at hand.
  expect_error("redis://", "expected redis[s]://");
}

}  // namespace
}  // namespace sreracha
