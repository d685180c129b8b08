// LeaderElector against an in-memory Lease that can be made to hang: each
// attempt is bounded by the renew deadline, stop() cancels the attempt in
// flight, and the Lease is released only when held.
#include "runtime/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "kube/meta.h"

namespace runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kube::json;

// One Lease, with resourceVersion checks as the API server does them. In
// "hung" mode every call waits until its Context ends, as a call to an API
// server that accepts connections and never answers.
class FakeLeaseApi : public kube::Interface {
 public:
  struct Call {
    std::string verb;
    Clock::time_point started, ended;
    std::optional<Clock::time_point> deadline;
  };

  const kube::Config& config() const override { return config_; }

  json get(const kube::Resource&, std::string_view, std::string_view, std::string_view,
           const kube::Context& ctx) override {
    const Recorder call(*this, "get", ctx);
    std::lock_guard lock(mu_);
    if (lease_.is_null()) throw kube::ApiError(404, "NotFound", "leases not found", "get lease");
    return lease_;
  }
  json create(const kube::Resource&, std::string_view, const json& object, std::string_view,
              const kube::Context& ctx) override {
    Recorder call(*this, "create", ctx);
    return write(call, object, ctx, true);
  }
  json replace(const kube::Resource&, std::string_view, std::string_view, const json& object,
               std::string_view, const kube::Context& ctx) override {
    Recorder call(*this, "replace", ctx);
    return write(call, object, ctx, false);
  }
  json list(const kube::Resource&, std::string_view, const kube::ListOptions&,
            const kube::Context&) override {
    throw std::logic_error("unused");
  }
  json merge_patch(const kube::Resource&, std::string_view, std::string_view, const json&,
                   std::string_view, const kube::Context&, const kube::PatchOptions&) override {
    throw std::logic_error("unused");
  }
  json apply(const kube::Resource&, std::string_view, std::string_view, const json&,
             const kube::ApplyOptions&, std::string_view, const kube::Context&) override {
    throw std::logic_error("unused");
  }
  void remove(const kube::Resource&, std::string_view, std::string_view, const kube::DeleteOptions&,
              const kube::Context&) override {
    throw std::logic_error("unused");
  }
  void evict(std::string_view, std::string_view, const kube::DeleteOptions&,
             const kube::Context&) override {
    throw std::logic_error("unused");
  }
  void watch(const kube::Resource&, std::string_view, const kube::WatchOptions&,
             const std::function<bool(kube::WatchEvent&&)>&, const kube::Context&) override {
    throw std::logic_error("unused");
  }

  void hang(bool on) { hung_ = on; }
  // Writes land, and then their callers wait as in hang(): the reply is lost.
  void lose_write_replies(bool on) { replies_lost_ = on; }
  void set_lease(json lease) {
    std::lock_guard lock(mu_);
    lease_ = std::move(lease);
    lease_["metadata"]["resourceVersion"] = std::to_string(++version_);
  }
  json lease() {
    std::lock_guard lock(mu_);
    return lease_;
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  int writes() {
    int n = 0;
    for (const auto& call : calls()) n += call.verb != "get" ? 1 : 0;
    return n;
  }

 private:
  // Records the call; when hung, waits until its Context ends (a Context
  // without one would wait for good: the elector must never send one).
  class Recorder {
   public:
    Recorder(FakeLeaseApi& api, std::string verb, const kube::Context& ctx) : api_(api) {
      call_ = {std::move(verb), Clock::now(), {}, ctx.deadline()};
      if (api_.hung_) hang(ctx);
    }
    ~Recorder() {
      if (!finished_) finish();
    }
    [[noreturn]] void hang(const kube::Context& ctx) {
      ctx.token().wait_until(ctx.deadline().value_or(Clock::now() + 1h));
      finish();
      ctx.check("fake " + call_.verb);
      throw kube::TransportError("fake: a context without a deadline waited an hour");
    }

   private:
    void finish() {
      finished_ = true;
      call_.ended = Clock::now();
      std::lock_guard lock(api_.mu_);
      api_.calls_.push_back(call_);
    }
    FakeLeaseApi& api_;
    Call call_;
    bool finished_ = false;
  };

  json write(Recorder& call, const json& object, const kube::Context& ctx, bool create) {
    json written;
    {
      std::lock_guard lock(mu_);
      if (create && !lease_.is_null()) {
        throw kube::ApiError(409, "AlreadyExists", "lease exists", "create lease");
      }
      if (!create && object["metadata"].value("resourceVersion", "") !=
                         lease_["metadata"].value("resourceVersion", "")) {
        throw kube::ApiError(409, "Conflict", "the object has been modified", "update lease");
      }
      lease_ = object;
      lease_["metadata"]["resourceVersion"] = std::to_string(++version_);
      written = lease_;
    }
    if (replies_lost_) call.hang(ctx);
    return written;
  }

  kube::Config config_;
  std::atomic<bool> hung_{false};
  std::atomic<bool> replies_lost_{false};
  std::mutex mu_;
  json lease_;               // REQUIRES: mu_ held
  int version_ = 0;          // REQUIRES: mu_ held
  std::vector<Call> calls_;  // REQUIRES: mu_ held
};

LeaderElectionConfig fast(const std::string& identity) {
  LeaderElectionConfig config;
  config.lease_namespace = "ns";
  config.lease_name = "lock";
  config.identity = identity;
  config.lease_duration = 3s;
  config.renew_deadline = 2s;
  config.retry_period = 1s;
  return config;
}

bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  for (const auto until = Clock::now() + limit; Clock::now() < until;) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(LeaderElector, AHungRenewEndsAtTheRenewDeadlineWellBeforeTheLeaseExpires) {
  FakeLeaseApi api;
  LeaderElector elector(api, fast("me"));
  std::atomic<bool> lost{false};
  elector.start([] {}, [&lost] { lost = true; });
  ASSERT_TRUE(wait_for([&] { return elector.is_leader(); }, 2s));
  ASSERT_TRUE(wait_for([&] { return api.writes() >= 2; }, 3s));  // one renew done
  api.hang(true);
  const auto hung_at = Clock::now();
  ASSERT_TRUE(wait_for([&] { return lost.load(); }, 4s)) << "leadership never given up";
  const auto gave_up = Clock::now() - hung_at;
  EXPECT_FALSE(elector.is_leader());

  // The last successful write and every call after it.
  const auto calls = api.calls();
  Clock::time_point last_write_start{};
  for (const auto& call : calls) {
    if (call.verb != "get" && call.ended < hung_at) last_write_start = call.started;
  }
  for (const auto& call : calls) {
    ASSERT_TRUE(call.deadline.has_value()) << call.verb << ": a call without a deadline";
    if (call.started < hung_at) continue;
    // No attempt outlives the moment the leader stops leading, and so none
    // the lease the others see (lease_duration after that write).
    EXPECT_LE(call.ended, last_write_start + 2s + 50ms) << call.verb;
    EXPECT_LT(call.ended, last_write_start + 3s) << call.verb;
  }
  std::printf(
      "renews hung: leadership given up %.0f ms later (renew deadline 2000 ms after "
      "the last renew, lease 3000 ms)\n",
      ms(gave_up));
  EXPECT_LT(gave_up, 2s + 100ms);
}

TEST(LeaderElector, StopCancelsAnAttemptInFlightAndWritesNothing) {
  FakeLeaseApi api;
  api.hang(true);
  LeaderElector elector(api, fast("me"));
  elector.start([] {}, [] {});
  std::this_thread::sleep_for(200ms);  // the first get is hanging now
  const auto begin = Clock::now();
  elector.stop();
  EXPECT_LT(Clock::now() - begin, 100ms);
  EXPECT_EQ(api.writes(), 0);
  EXPECT_TRUE(api.lease().is_null());
}

TEST(LeaderElector, StopReleasesAHeldLease) {
  FakeLeaseApi api;
  LeaderElector elector(api, fast("me"));
  elector.start([] {}, [] {});
  ASSERT_TRUE(wait_for([&] { return elector.is_leader(); }, 2s));
  const auto begin = Clock::now();
  elector.stop();
  EXPECT_LT(Clock::now() - begin, 200ms);
  const auto spec = api.lease()["spec"];
  EXPECT_EQ(spec["holderIdentity"], "");
  EXPECT_EQ(spec["leaseDurationSeconds"], 1);
}

// The API server wrote our acquire, and stop() came before its reply: the
// Lease is ours though we never led. Left held, every successor would wait
// out the lease duration (15 s by default) for nothing.
TEST(LeaderElector, StopReleasesALeaseWhoseAcquireLandedUnanswered) {
  FakeLeaseApi api;
  api.lose_write_replies(true);
  LeaderElector elector(api, fast("me"));
  elector.start([] {}, [] {});
  ASSERT_TRUE(wait_for([&] { return !api.lease().is_null(); }, 2s));
  EXPECT_EQ(api.lease()["spec"]["holderIdentity"], "me");
  api.lose_write_replies(false);
  const auto begin = Clock::now();
  elector.stop();
  EXPECT_LT(Clock::now() - begin, 200ms);
  EXPECT_FALSE(elector.is_leader());
  const auto spec = api.lease()["spec"];
  EXPECT_EQ(spec["holderIdentity"], "");
  EXPECT_EQ(spec["leaseDurationSeconds"], 1);
}

TEST(LeaderElector, StopLeavesAnotherHoldersLeaseAlone) {
  FakeLeaseApi api;
  const auto now = kube::meta::format_micro_time(std::chrono::system_clock::now());
  api.set_lease({{"apiVersion", "coordination.k8s.io/v1"},
                 {"kind", "Lease"},
                 {"metadata", {{"name", "lock"}, {"namespace", "ns"}}},
                 {"spec",
                  {{"holderIdentity", "other"},
                   {"leaseDurationSeconds", 3600},
                   {"acquireTime", now},
                   {"renewTime", now},
                   {"leaseTransitions", 4}}}});
  const auto before = api.lease();
  LeaderElector elector(api, fast("me"));
  elector.start([] {}, [] {});
  ASSERT_TRUE(wait_for([&] { return api.calls().size() >= 2; }, 3s));  // two tries
  EXPECT_FALSE(elector.is_leader());
  elector.stop();
  EXPECT_EQ(api.writes(), 0);
  EXPECT_EQ(api.lease(), before);
}

TEST(LeaderElector, StopWithTheApiHungReturnsByTheRenewDeadlineAndKeepsTheLease) {
  FakeLeaseApi api;
  LeaderElector elector(api, fast("me"));
  elector.start([] {}, [] {});
  ASSERT_TRUE(wait_for([&] { return elector.is_leader(); }, 2s));
  const auto held = api.lease();
  api.hang(true);
  const auto begin = Clock::now();
  elector.stop();  // the release's get hangs until our renew deadline
  const auto took = Clock::now() - begin;
  std::printf("stop() with the API hung took %.0f ms (renew deadline 2000 ms)\n", ms(took));
  EXPECT_LT(took, 2s + 100ms);
  EXPECT_FALSE(elector.is_leader());
  EXPECT_EQ(api.lease(), held);  // could not release: still ours, nothing else changed
}

}  // namespace
}  // namespace runtime
