// EventRecorder against the fake client: one Event per (object, type,
// reason), folded while queued, and its own rate limit.
#include "runtime/events.h"

#include <gtest/gtest.h>

#include <chrono>

#include "kube/interface.h"
#include "support/fake_client.h"

namespace runtime {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const json kObject = {{"apiVersion", "sreracha.io/v1alpha1"},
                      {"kind", "Sreracha"},
                      {"metadata", {{"namespace", "ns"}, {"name", "web"}, {"uid", "u1"}}}};

std::map<std::string, json> events_by_reason(const support::FakeClient& api) {
  std::map<std::string, json> out;
  for (const auto& event : api.objects(kube::resources::events)) out[event["reason"]] = event;
  return out;
}

// A burst of one reason with different messages: the first is written at
// once, the rest fold into one patch (count, and the last message marked as
// combined); another reason gets its own Event.
TEST(EventRecorder, OneEventPerObjectAndReasonWithFoldedBursts) {
  support::FakeClient api;
  EventRecorderOptions options;
  options.qps = 4;  // a token every 250 ms after the first
  options.burst = 1;
  EventRecorder recorder(api, options);
  recorder.event(kObject, "Normal", "Created", "Deployment web created");
  ASSERT_TRUE(recorder.flush(5s));
  for (const char* child : {"Service web", "Service web-redis", "Deployment web-redis"}) {
    recorder.event(kObject, "Normal", "Created", std::string(child) + " created");
  }
  recorder.event(kObject, "Warning", "ApplyFailed", "refused");
  ASSERT_TRUE(recorder.flush(5s));

  const auto events = events_by_reason(api);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events.at("Created")["count"], 4);
  EXPECT_EQ(events.at("Created")["message"],
            "(combined from similar events): Deployment web-redis created");
  EXPECT_EQ(events.at("ApplyFailed")["count"], 1);
  EXPECT_EQ(events.at("ApplyFailed")["message"], "refused");
  std::size_t writes = 0;
  for (const auto& request : api.writes()) writes += request.resource == "events";
  EXPECT_EQ(writes, 3u) << "a create, one patch for the three folded, a create";
}

// The same message again is a count bump, and the message stays plain.
TEST(EventRecorder, TheSameMessageOnlyBumpsTheCount) {
  support::FakeClient api;
  EventRecorder recorder(api);
  for (int i = 0; i < 3; ++i) {
    recorder.event(kObject, "Normal", "Updated", "Deployment web updated to the spec");
    ASSERT_TRUE(recorder.flush(5s));
  }
  const auto events = events_by_reason(api);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events.at("Updated")["count"], 3);
  EXPECT_EQ(events.at("Updated")["message"], "Deployment web updated to the spec");
}

// The sender keeps to its own bucket: 6 Events of distinct reasons at 10/s,
// burst 2, take about 400 ms, however fast the client would go.
TEST(EventRecorder, KeepsToItsOwnRateLimit) {
  support::FakeClient api;
  EventRecorderOptions options;
  options.qps = 10;
  options.burst = 2;
  EventRecorder recorder(api, options);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) recorder.event(kObject, "Normal", "R" + std::to_string(i), "m");
  ASSERT_TRUE(recorder.flush(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 350ms);
  EXPECT_EQ(events_by_reason(api).size(), 6u);
}

}  // namespace
}  // namespace runtime
