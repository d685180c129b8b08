#include "log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace sreracha::log {
namespace {

// Captures what the logger writes, through a pipe.
class Captured {
 public:
  Captured() {
    EXPECT_EQ(::pipe2(fds_, O_NONBLOCK | O_CLOEXEC), 0);
    set_fd(fds_[1]);
  }
  ~Captured() {
    flush();
    set_fd(1);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

 private:
  int fds_[2];
};

TEST(AppLog, LineIsOneJsonObjectWithTimeLevelMsgAndFields) {
  std::string line = format_line(Level::kWarn, "lost \"redis\"\n",
                                 {{"attempt", 3}, {"ok", false}, {"err", "a\tb\x01"}, {"ms", 1.5}});
  ASSERT_TRUE(line.ends_with("}\n"));
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "exactly one line";
  EXPECT_TRUE(line.starts_with("{\"time\":\"20")) << line;
  std::string rest = line.substr(line.find("\",\"level\""));
  EXPECT_EQ(rest,
            "\",\"level\":\"warn\",\"msg\":\"lost \\\"redis\\\"\\n\",\"attempt\":3,\"ok\":false,"
            "\"err\":\"a\\tb\\u0001\",\"ms\":1.500}\n");
  // RFC 3339 UTC with milliseconds: 2026-12-02T00:28:55.676Z
  std::string time = line.substr(9, 24);
  EXPECT_EQ(time.size(), 24u);
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(AppLog, LevelsBelowTheThresholdAreDropped) {
  Captured cap;
  set_level(Level::kWarn);
  info("hidden");
  warn("shown");
  set_level(Level::kInfo);
  std::string out = cap.read_all();
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  EXPECT_NE(out.find("\"msg\":\"shown\""), std::string::npos);
  Level l{};
  EXPECT_TRUE(parse_level("error", l));
  EXPECT_EQ(l, Level::kError);
  EXPECT_FALSE(parse_level("verbose", l));
}

TEST(AppLog, AccessLinesWaitForFlushAndKeepTheirOrderBeforeOtherLines) {
  Captured cap;
  access("GET", "/", 200, 0.25, "127.0.0.1:1");
  EXPECT_EQ(cap.read_all(), "") << "buffered";
  flush();
  std::string first = cap.read_all();
  EXPECT_NE(first.find("\"msg\":\"request\",\"method\":\"GET\",\"path\":\"/\",\"status\":200,"
                       "\"duration_ms\":0.250,\"remote\":\"127.0.0.1:1\"}\n"),
            std::string::npos)
      << first;
  access("HEAD", "/", 400, 0.1, "r");
  info("after");
  std::string both = cap.read_all();
  EXPECT_LT(both.find("\"HEAD\""), both.find("\"after\"")) << both;
}

}  // namespace
}  // namespace sreracha::log
