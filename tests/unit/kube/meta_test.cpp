// kube/meta: metav1.Time and MicroTime, RFC 3339 parsing, controller refs.
#include "kube/meta.h"

#include <gtest/gtest.h>

namespace kube::meta {
namespace {

using namespace std::chrono;

TEST(MetaTime, FormatsWholeSecondsAndMicroseconds) {
  const auto time = system_clock::time_point(seconds(1714557600)) + microseconds(123456);
  EXPECT_EQ(format_time(time), "2024-05-01T10:00:00Z");
  EXPECT_EQ(format_micro_time(time), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(format_micro_time(system_clock::time_point(seconds(1714557600))),
            "2024-05-01T10:00:00.000000Z");
}

TEST(MetaTime, ParsesWhatServersAndPluginsWrite) {
  const auto whole = system_clock::time_point(seconds(1714557600));  // 2024-05-01T10:00:00Z
  EXPECT_EQ(parse_time("2024-05-01T10:00:00Z"), whole);
  EXPECT_EQ(parse_time("2024-05-01T10:00:00.5Z"), whole + milliseconds(500));
  EXPECT_EQ(parse_time("2024-05-01T10:00:00.123456Z"), whole + microseconds(123456));
  // Nanoseconds are cut to microseconds.
  EXPECT_EQ(parse_time("2024-05-01T10:00:00.123456789Z"), whole + microseconds(123456));
  // Offsets, as exec credential plugins may write them.
  EXPECT_EQ(parse_time("2024-05-01T12:00:00+02:00"), whole);
  EXPECT_EQ(parse_time("2024-05-01T05:00:00-05:00"), whole);
  EXPECT_EQ(parse_time("2024-05-01T12:00:00.25+02:00"), whole + milliseconds(250));
  EXPECT_EQ(parse_time_value(nlohmann::json("2024-05-01T10:00:00Z")), whole);
}

TEST(MetaTime, RoundTrips) {
  const auto now = time_point_cast<microseconds>(system_clock::now());
  EXPECT_EQ(parse_time(format_micro_time(now)), now);
  EXPECT_EQ(parse_time(format_time(now)), floor<seconds>(now));
}

TEST(MetaTime, RejectsWhatItCannotReadSafely) {
  EXPECT_EQ(parse_time(""), std::nullopt);
  EXPECT_EQ(parse_time("yesterday"), std::nullopt);
  EXPECT_EQ(parse_time("2024-05-01 10:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_time("2024-05-01T10:00:00"), std::nullopt) << "no zone";
  EXPECT_EQ(parse_time("2024-05-01T10:00:00.Z"), std::nullopt) << "a point without digits";
  EXPECT_EQ(parse_time("2024-05-01T10:00:00+0200"), std::nullopt);
  EXPECT_EQ(parse_time("2024-05-01T10:00:00Zjunk"), std::nullopt);
  EXPECT_EQ(parse_time("2024-05-01T10:00:00+02:00junk"), std::nullopt);
  EXPECT_EQ(parse_time_value(nlohmann::json(42)), std::nullopt);
}

TEST(MetaOwners, ControllerRefIsTheOneMarkedController) {
  const nlohmann::json object = {{"metadata",
                                  {{"ownerReferences",
                                    {{{"uid", "a"}},
                                     {{"uid", "b"}, {"controller", false}},
                                     {{"uid", "c"}, {"controller", true}}}}}}};
  ASSERT_NE(controller_ref(object), nullptr);
  EXPECT_EQ((*controller_ref(object))["uid"], "c");
  EXPECT_EQ(controller_ref(nlohmann::json::object()), nullptr);
  EXPECT_EQ(controller_ref({{"metadata", {{"ownerReferences", "garbage"}}}}), nullptr);
  EXPECT_EQ(controller_ref({{"metadata", {{"ownerReferences", {{{"controller", "yes"}}}}}}}),
            nullptr);
}

TEST(MetaResource, ApiVersion) {
  EXPECT_EQ((Resource{"", "v1", "pods"}.api_version()), "v1");
  EXPECT_EQ((Resource{"apps", "v1", "deployments"}.api_version()), "apps/v1");
}

}  // namespace
}  // namespace kube::meta
