// The Lease time format (MicroTime) the leader elector writes and reads.
#include "runtime/leader_election.h"

#include <gtest/gtest.h>

namespace runtime {
namespace {

using namespace std::chrono;

TEST(MicroTime, FormatsUtcWithMicroseconds) {
  const auto time = system_clock::time_point(seconds(1714557600)) + microseconds(123456);
  EXPECT_EQ(format_micro_time(time), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(format_micro_time(system_clock::time_point(seconds(1714557600))),
            "2024-05-01T10:00:00.000000Z");
}

TEST(MicroTime, ParsesWhatTheApiServerWrites) {
  const auto whole = system_clock::time_point(seconds(1714557600));
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00Z"), whole);
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00.5Z"), whole + milliseconds(500));
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00.123456Z"), whole + microseconds(123456));
  // Nanoseconds are cut to microseconds.
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00.123456789Z"), whole + microseconds(123456));
}

TEST(MicroTime, RoundTrips) {
  const auto now = time_point_cast<microseconds>(system_clock::now());
  EXPECT_EQ(parse_micro_time(format_micro_time(now)), now);
}

TEST(MicroTime, RejectsWhatItCannotReadSafely) {
  EXPECT_EQ(parse_micro_time(""), std::nullopt);
  EXPECT_EQ(parse_micro_time("yesterday"), std::nullopt);
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00"), std::nullopt) << "no zone";
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00+02:00"), std::nullopt) << "only Z is written";
  EXPECT_EQ(parse_micro_time("2024-05-01T10:00:00Zjunk"), std::nullopt);
}

}  // namespace
}  // namespace runtime
