#include "config.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "support/scoped_env.h"

namespace sreracha {
namespace {

using test_support::ScopedEnv;

// Every variable the app reads, cleared so the machine's own cannot leak in.
void clear_app_env(ScopedEnv& env) {
  for (const char* name :
       {"LISTEN", "REDIS_URL", "REDIS_AUTH", "REDIS_CA", "REDIS_KEY", "REDIS_TLS_SERVER_NAME",
        "REDIS_TIMEOUT", "SRERACHA_EXIT_AFTER", "SRERACHA_EXIT_AFTER_JITTER",
        "SRERACHA_SHUTDOWN_TIMEOUT", "LOG_LEVEL", "SRERACHA_ACCESS_LOG"}) {
    env.unset(name);
  }
}

struct Parsed {
  ParseOutcome outcome;
  std::string out;
  std::string err;
};

Parsed parse(std::vector<const char*> args) {
  args.insert(args.begin(), "sreracha");
  std::ostringstream out, err;
  Parsed p{parse_config(static_cast<int>(args.size()), args.data(), out, err), "", ""};
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(AppConfig, DefaultsAreTheOriginalsContract) {
  ScopedEnv env;
  clear_app_env(env);
  Parsed p = parse({});
  ASSERT_TRUE(p.outcome.config) << p.err;
  const Config& c = *p.outcome.config;
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 80);
  EXPECT_EQ(c.redis_url.host, "127.0.0.1");
  EXPECT_EQ(c.redis_url.port, 6379);
  EXPECT_EQ(c.exit_after_seconds, 0);  // no crash unless asked
  EXPECT_TRUE(c.access_log);
  EXPECT_EQ(c.log_level, log::Level::kInfo);
}

TEST(AppConfig, EnvironmentIsReadWhenNoFlagIsGiven) {
  ScopedEnv env;
  clear_app_env(env);
  env.set("LISTEN", "127.0.0.1:8080");
  env.set("REDIS_URL", "rediss://cache.example:6380/1");
  env.set("REDIS_AUTH", "from-env");
  env.set("REDIS_TLS_SERVER_NAME", "redis.internal");
  env.set("SRERACHA_EXIT_AFTER", "30");
  env.set("SRERACHA_EXIT_AFTER_JITTER", "5");
  env.set("LOG_LEVEL", "debug");
  env.set("SRERACHA_ACCESS_LOG", "false");
  Parsed p = parse({});
  ASSERT_TRUE(p.outcome.config) << p.err;
  const Config& c = *p.outcome.config;
  EXPECT_EQ(c.listen.port, 8080);
  EXPECT_TRUE(c.redis_url.tls);
  EXPECT_EQ(c.redis_url.host, "cache.example");
  EXPECT_EQ(c.redis_auth, "from-env");
  EXPECT_EQ(c.redis_tls_server_name, "redis.internal");
  EXPECT_EQ(c.exit_after_seconds, 30);
  EXPECT_EQ(c.exit_after_jitter_seconds, 5);
  EXPECT_EQ(c.log_level, log::Level::kDebug);
  EXPECT_FALSE(c.access_log);
}

TEST(AppConfig, FlagsWinOverTheEnvironment) {
  ScopedEnv env;
  clear_app_env(env);
  env.set("LISTEN", "127.0.0.1:8080");
  env.set("REDIS_URL", "redis://from-env");
  env.set("REDIS_AUTH", "from-env");
  env.set("REDIS_TLS_SERVER_NAME", "redis.internal");
  env.set("SRERACHA_EXIT_AFTER", "30");
  Parsed p = parse({"--listen", "127.0.0.1:9090", "--redis-url", "redis://from-flag:7000",
                    "--redis-auth", "from-flag", "--exit-after", "0"});
  ASSERT_TRUE(p.outcome.config) << p.err;
  const Config& c = *p.outcome.config;
  EXPECT_EQ(c.listen.port, 9090);
  EXPECT_EQ(c.redis_url.host, "from-flag");
  EXPECT_EQ(c.redis_url.port, 7000);
  EXPECT_EQ(c.redis_auth, "from-flag");
  EXPECT_EQ(c.exit_after_seconds, 0);
}

TEST(AppConfig, BadRedisUrlIsAClearErrorAndExitCode2) {
  ScopedEnv env;
  clear_app_env(env);
  env.set("REDIS_URL", "redis://cache:99999");
  Parsed p = parse({});
  EXPECT_FALSE(p.outcome.config);
  EXPECT_EQ(p.outcome.exit_code, 2);
  EXPECT_EQ(p.err,
            "sreracha: --redis-url/REDIS_URL: invalid Redis URL: port \"99999\" is not a number "
            "from 1 to 65535 (expected redis[s]://[[user]:password@]host[:port][/db])\n");
}

TEST(AppConfig, BadListenAndBadNumbersExit2) {
  ScopedEnv env;
  clear_app_env(env);
  Parsed listen = parse({"--listen", "localhost"});
  EXPECT_EQ(listen.outcome.exit_code, 2);
  EXPECT_NE(listen.err.find("--listen/LISTEN"), std::string::npos) << listen.err;
  Parsed exit_after = parse({"--exit-after", "-1"});
  EXPECT_FALSE(exit_after.outcome.config);
  EXPECT_EQ(exit_after.outcome.exit_code, 2);
  Parsed level = parse({"--log-level", "verbose"});
  EXPECT_EQ(level.outcome.exit_code, 2);
  Parsed ca = parse({"--redis-ca", "/nonexistent/ca.pem"});
  EXPECT_EQ(ca.outcome.exit_code, 2);
  Parsed unknown = parse({"--no-such-flag"});
  EXPECT_EQ(unknown.outcome.exit_code, 2);
}

TEST(AppConfig, HelpAndVersionExit0) {
  ScopedEnv env;
  clear_app_env(env);
  Parsed help = parse({"--help"});
  EXPECT_FALSE(help.outcome.config);
  EXPECT_EQ(help.outcome.exit_code, 0);
  for (const char* needle : {"--listen", "LISTEN", "REDIS_URL", "REDIS_AUTH", "--redis-ca",
                             "SRERACHA_EXIT_AFTER", "--version"}) {
    EXPECT_NE(help.out.find(needle), std::string::npos) << needle;
  }
  Parsed version = parse({"--version"});
  EXPECT_EQ(version.outcome.exit_code, 0);
  EXPECT_EQ(version.out, std::string("sreracha ") + SRERACHA_VERSION + "\n");
}

TEST(AppParseListen, Forms) {
  EXPECT_EQ(parse_listen(":80").host, "0.0.0.0");
  EXPECT_EQ(parse_listen(":80").port, 80);
  EXPECT_EQ(parse_listen("127.0.0.1:0").port, 0);
  EXPECT_EQ(parse_listen("[::]:8080").host, "::");
  EXPECT_EQ(parse_listen("[::1]:8080").port, 8080);
  EXPECT_THROW(parse_listen("127.0.0.1"), ConfigError);
  EXPECT_THROW(parse_listen("127.0.0.1:"), ConfigError);
  EXPECT_THROW(parse_listen("127.0.0.1:70000"), ConfigError);
  EXPECT_THROW(parse_listen("::1:80"), ConfigError);
  EXPECT_THROW(parse_listen("[::1]80"), ConfigError);
}

}  // namespace
}  // namespace sreracha
