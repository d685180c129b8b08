// Log formats and the per-thread reconcile context.
#include "runtime/logging.h"

#include <gtest/gtest.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace runtime {
namespace {

class Logging : public ::testing::Test {
 protected:
  void TearDown() override { configure_logging("text", "info"); }
};

TEST_F(Logging, JsonLinesCarryTheReconcileContext) {
  configure_logging("json", "info");
  ::testing::internal::CaptureStderr();
  spdlog::info("outside \"quoted\"");
  {
    ScopedLogContext scope({"sreracha", "ns/web", "id-1"});
    spdlog::warn("inside");
  }
  spdlog::debug("below the level");
  const std::string out = ::testing::internal::GetCapturedStderr();

  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  for (auto end = out.find('\n'); end != std::string::npos; end = out.find('\n', start)) {
    lines.push_back(nlohmann::json::parse(out.substr(start, end - start)));
    start = end + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0]["msg"], "outside \"quoted\"");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_FALSE(lines[0].contains("controller"));
  const std::string ts = lines[0]["ts"];
  EXPECT_EQ(ts.size(), std::string("2024-05-01T10:00:00.123456Z").size()) << ts;
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_EQ(lines[1]["controller"], "sreracha");
  EXPECT_EQ(lines[1]["object"], "ns/web");
  EXPECT_EQ(lines[1]["reconcileID"], "id-1");
}

TEST_F(Logging, TextLinesAppendTheContext) {
  configure_logging("text", "debug");
  ::testing::internal::CaptureStderr();
  {
    ScopedLogContext scope({"sreracha", "ns/web", "id-2"});
    spdlog::debug("hello");
  }
  spdlog::debug("bye");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("hello controller=sreracha object=ns/web reconcileID=id-2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("bye\n"), std::string::npos) << out;
}

TEST_F(Logging, ScopedContextRestoresThePreviousOne) {
  ScopedLogContext outer({"c", "ns/outer", "1"});
  {
    ScopedLogContext inner({"c", "ns/inner", "2"});
    EXPECT_EQ(log_context().object, "ns/inner");
  }
  EXPECT_EQ(log_context().object, "ns/outer");
}

TEST_F(Logging, RejectsUnknownFormatsAndLevels) {
  EXPECT_THROW(configure_logging("xml", "info"), std::invalid_argument);
  EXPECT_THROW(configure_logging("json", "loud"), std::invalid_argument);
  EXPECT_NO_THROW(configure_logging("json", "warning"));
}

}  // namespace
}  // namespace runtime
