// Controller workers (retries, requeue_after, log context, shutdown, metrics)
// and the event handlers that map changes to keys.
#include "runtime/controller.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kube/thread_name.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"

namespace runtime {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A reconciler driven by a test function; records every call.
class FakeReconciler : public Reconciler {
 public:
  using Body = std::function<Result(const Request&, int call)>;
  explicit FakeReconciler(Body body = {}) : body_(std::move(body)) {}

  Result reconcile(const Request& request, const kube::Context&) override {
    int call;
    {
      std::lock_guard lock(mu_);
      call = ++calls_[request.key()];
      times_[request.key()].push_back(Clock::now());
      contexts_.push_back(log_context());
    }
    changed_.notify_all();
    return body_ ? body_(request, call) : Result{};
  }
  int calls(const std::string& key) {
    std::lock_guard lock(mu_);
    return calls_[key];
  }
  bool wait_calls(const std::string& key, int count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return calls_[key] >= count; });
  }
  std::vector<Clock::time_point> times(const std::string& key) {
    std::lock_guard lock(mu_);
    return times_[key];
  }
  std::vector<LogContext> contexts() {
    std::lock_guard lock(mu_);
    return contexts_;
  }

 private:
  Body body_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::vector<Clock::time_point>> times_;
  std::vector<LogContext> contexts_;
};

ControllerOptions options(int workers = 2) {
  ControllerOptions o;
  o.max_concurrent_reconciles = workers;
  o.rate_limits.qps = 0;
  return o;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Controller, ReconcilesQueuedKeysAsRequests) {
  std::promise<Request> seen;
  auto reconciler = std::make_shared<FakeReconciler>([&](const Request& r, int) {
    seen.set_value(r);
    return Result{};
  });
  Controller controller("test", reconciler, options());
  controller.queue().add("ns/web");
  controller.start();
  auto request = seen.get_future();
  ASSERT_EQ(request.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(request.get(), (Request{"ns", "web"}));
}

TEST(Controller, WorkersAreNamedAfterTheController) {
  std::mutex mu;
  std::set<std::string> names;
  auto reconciler = std::make_shared<FakeReconciler>([&](const Request&, int) {
    {
      std::lock_guard lock(mu);
      names.insert(kube::this_thread_name());
    }
    std::this_thread::sleep_for(20ms);  // busy: the next key goes to the other worker
    return Result{};
  });
  Controller controller("test", reconciler, options(2));
  controller.start();
  // Keys until both workers have taken one.
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (names.size() == 2) break;
    }
    controller.queue().add("ns/k" + std::to_string(i));
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(names, (std::set<std::string>{"test/w1", "test/w2"}));
}

TEST(Controller, AThrowingReconcileIsRetriedWithBackoffThenForgotten) {
  auto reconciler = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    if (call <= 3) throw std::runtime_error("apply failed");
    return {};
  });
  MetricsRegistry metrics;
  Controller controller("test", reconciler, options(), &metrics);
  controller.queue().add("ns/a");
  controller.start();
  ASSERT_TRUE(reconciler->wait_calls("ns/a", 4));
  ASSERT_TRUE(controller.stop(1s));
  auto times = reconciler->times("ns/a");
  ASSERT_EQ(times.size(), 4u) << "no retry after the success";
  // 5 ms, 10 ms, 20 ms back-off between the attempts.
  EXPECT_GE(times[1] - times[0], 5ms);
  EXPECT_GE(times[2] - times[1], 10ms);
  EXPECT_GE(times[3] - times[2], 20ms);
  EXPECT_EQ(controller.queue().num_requeues("ns/a"), 0) << "success resets the back-off";
  auto text = metrics.expose();
  EXPECT_TRUE(contains(
      text, "controller_runtime_reconcile_total{controller=\"test\",result=\"error\"} 3\n"))
      << text;
  EXPECT_TRUE(contains(
      text, "controller_runtime_reconcile_total{controller=\"test\",result=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(contains(text, "controller_runtime_reconcile_errors_total{controller=\"test\"} 3\n"))
      << text;
  EXPECT_TRUE(
      contains(text, "controller_runtime_reconcile_time_seconds_count{controller=\"test\"} 4\n"))
      << text;
  EXPECT_TRUE(
      contains(text, "controller_runtime_max_concurrent_reconciles{controller=\"test\"} 2\n"))
      << text;
  EXPECT_TRUE(contains(text, "controller_runtime_active_workers{controller=\"test\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "workqueue_retries_total{name=\"test\"} 3\n")) << text;
}

TEST(Controller, NonStandardExceptionsAreCaughtToo) {
  auto reconciler = std::make_shared<FakeReconciler>([](const Request&, int call) -> Result {
    if (call == 1) throw 42;
    return {};
  });
  Controller controller("test", reconciler, options());
  controller.queue().add("ns/a");
  controller.start();
  EXPECT_TRUE(reconciler->wait_calls("ns/a", 2));
}

TEST(Controller, RequeueAfterReconcilesAgainThen) {
  auto reconciler = std::make_shared<FakeReconciler>(
      [](const Request&, int call) { return call == 1 ? Result{40ms} : Result{}; });
  MetricsRegistry metrics;
  Controller controller("test", reconciler, options(), &metrics);
  controller.queue().add("ns/a");
  controller.start();
  ASSERT_TRUE(reconciler->wait_calls("ns/a", 2));
  auto times = reconciler->times("ns/a");
  EXPECT_GE(times[1] - times[0], 40ms);
  EXPECT_TRUE(contains(
      metrics.expose(),
      "controller_runtime_reconcile_total{controller=\"test\",result=\"requeue_after\"} 1\n"));
}

TEST(Controller, SetsTheLogContextForEachReconcile) {
  auto reconciler = std::make_shared<FakeReconciler>();
  Controller controller("sreracha", reconciler, options(1));
  controller.queue().add("ns/a");
  controller.queue().add("ns/b");
  controller.start();
  ASSERT_TRUE(reconciler->wait_calls("ns/b", 1));
  auto contexts = reconciler->contexts();
  ASSERT_EQ(contexts.size(), 2u);
  EXPECT_EQ(contexts[0].controller, "sreracha");
  EXPECT_EQ(contexts[0].object, "ns/a");
  EXPECT_EQ(contexts[1].object, "ns/b");
  EXPECT_EQ(contexts[0].reconcile_id.size(), 36u);
  EXPECT_NE(contexts[0].reconcile_id, contexts[1].reconcile_id);
}

TEST(Controller, NeverReconcilesOneKeyOnTwoWorkersAtOnce) {
  std::atomic<int> running{0}, overlaps{0};
  auto reconciler = std::make_shared<FakeReconciler>([&](const Request&, int) {
    if (running.fetch_add(1) != 0) ++overlaps;
    std::this_thread::sleep_for(1ms);
    running.fetch_sub(1);
    return Result{};
  });
  Controller controller("test", reconciler, options(8));
  controller.start();
  for (int i = 0; i < 200; ++i) {
    controller.queue().add("ns/same");
    std::this_thread::sleep_for(50us);
  }
  ASSERT_TRUE(controller.stop(2s));
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(reconciler->calls("ns/same"), 1);
}

TEST(Controller, StopWaitsForTheReconcileInFlightWithinTheGrace) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  auto reconciler = std::make_shared<FakeReconciler>([&](const Request&, int) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });
    return Result{};
  });
  Controller controller("test", reconciler, options());
  controller.queue().add("ns/slow");
  controller.start();
  ASSERT_TRUE(reconciler->wait_calls("ns/slow", 1));
  EXPECT_FALSE(controller.stop(20ms)) << "the reconcile is still running";
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  });
  EXPECT_TRUE(controller.stop(2s));
  releaser.join();
  controller.queue().add("ns/slow");
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(reconciler->calls("ns/slow"), 1) << "no new work after stop";
}

// Waits until its Context ends (an hour at most), as a reconcile whose API
// call hangs does; records how each wait ended.
class WaitingReconciler : public Reconciler {
 public:
  Result reconcile(const Request&, const kube::Context& ctx) override {
    {
      std::lock_guard lock(mu_);
      deadlines_.push_back(ctx.deadline());
    }
    changed_.notify_all();
    try {
      ctx.token().wait_until(ctx.deadline().value_or(Clock::now() + 1h));
      ctx.check("waiting");
    } catch (const kube::Cancelled& e) {
      std::lock_guard lock(mu_);
      ends_.push_back(e.deadline_exceeded() ? "deadline" : "cancelled");
      changed_.notify_all();
      throw;
    }
    return {};
  }
  bool wait_started(std::size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return deadlines_.size() >= count; });
  }
  bool wait_ended(std::size_t count) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return ends_.size() >= count; });
  }
  std::vector<std::string> ends() {
    std::lock_guard lock(mu_);
    return ends_;
  }
  std::vector<std::optional<Clock::time_point>> deadlines() {
    std::lock_guard lock(mu_);
    return deadlines_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::optional<Clock::time_point>> deadlines_;
  std::vector<std::string> ends_;
};

TEST(Controller, StopCancelsTheContextOfReconcilesInFlight) {
  auto reconciler = std::make_shared<WaitingReconciler>();
  Controller controller("test", reconciler, options());
  controller.queue().add("ns/a");
  controller.queue().add("ns/b");
  controller.start();
  ASSERT_TRUE(reconciler->wait_started(2));
  EXPECT_FALSE(reconciler->deadlines()[0].has_value()) << "no reconcile timeout by default";
  const auto begin = Clock::now();
  EXPECT_TRUE(controller.stop(5s));
  EXPECT_LT(Clock::now() - begin, 200ms);
  EXPECT_EQ(reconciler->ends(), (std::vector<std::string>{"cancelled", "cancelled"}));
}

TEST(Controller, ReconcileTimeoutBoundsEachReconcile) {
  auto reconciler = std::make_shared<WaitingReconciler>();
  auto o = options(1);
  o.reconcile_timeout = 100ms;
  Controller controller("test", reconciler, o);
  const auto begin = Clock::now();
  controller.queue().add("ns/slow");
  controller.start();
  ASSERT_TRUE(reconciler->wait_ended(1));
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 600ms);
  EXPECT_EQ(reconciler->ends()[0], "deadline");
  ASSERT_TRUE(reconciler->deadlines()[0].has_value());
  // A timed-out reconcile failed: the key comes back with back-off.
  EXPECT_TRUE(reconciler->wait_started(2));
  EXPECT_TRUE(controller.stop(2s));
}

// --- handlers ----------------------------------------------------------------------

Store::Object child(const std::string& ns, const std::string& name, const json& owners) {
  return std::make_shared<const json>(
      json{{"metadata", {{"namespace", ns}, {"name", name}, {"ownerReferences", owners}}}});
}

json owner_ref(const std::string& api_version, const std::string& kind, const std::string& name,
               bool controller = true) {
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"name", name},
          {"uid", "u-" + name},
          {"controller", controller}};
}

std::vector<std::string> drain(WorkQueue& queue) {
  std::vector<std::string> keys;
  while (queue.len() > 0) {
    keys.push_back(*queue.get());
    queue.done(keys.back());
  }
  return keys;
}

TEST(Handlers, EnqueueObjectUsesTheObjectsKey) {
  WorkQueue queue("h");
  auto handler = enqueue_object(queue);
  auto object = child("ns", "web", json::array());
  handler.on_add(object);
  handler.on_update(object, object);
  handler.on_delete(child("ns", "gone", json::array()));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"ns/web", "ns/gone"}));
}

TEST(Handlers, EnqueueOwnerFollowsOnlyTheControllerOfTheRightKind) {
  WorkQueue queue("h");
  std::string kind = "Sreracha";
  auto handler = enqueue_owner(queue, "sreracha.io", [&] { return kind; });
  handler.on_add(
      child("ns", "deploy", json::array({owner_ref("sreracha.io/v1alpha1", "Sreracha", "web")})));
  handler.on_add(child("ns", "not-controller",
                       json::array({owner_ref("sreracha.io/v1alpha1", "Sreracha", "x", false)})));
  handler.on_add(
      child("ns", "other-kind", json::array({owner_ref("apps/v1", "ReplicaSet", "rs")})));
  handler.on_add(
      child("ns", "other-group", json::array({owner_ref("other.io/v1", "Sreracha", "y")})));
  handler.on_delete(
      child("ns2", "svc", json::array({owner_ref("sreracha.io/v1", "Sreracha", "db")})));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"ns/web", "ns2/db"}));

  // Re-parented: both the old and the new owner hear of it.
  handler.on_update(
      child("ns", "c", json::array({owner_ref("sreracha.io/v1alpha1", "Sreracha", "old")})),
      child("ns", "c", json::array({owner_ref("sreracha.io/v1alpha1", "Sreracha", "new")})));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"ns/old", "ns/new"}));

  kind.clear();  // kind not learned yet: nothing is enqueued
  handler.on_add(
      child("ns", "deploy", json::array({owner_ref("sreracha.io/v1alpha1", "Sreracha", "web")})));
  EXPECT_EQ(queue.len(), 0u);
}

TEST(Handlers, EnqueueMappedEnqueuesWhatTheMapperReturns) {
  WorkQueue queue("h");
  auto handler = enqueue_mapped(queue, [](const json& secret) {
    std::vector<Request> out;
    if (secret["metadata"]["name"] == "redis-auth") {
      out.push_back({"ns", "web"});
      out.push_back({"ns", "api"});
    }
    return out;
  });
  handler.on_add(child("ns", "redis-auth", json::array()));
  handler.on_add(child("ns", "unrelated", json::array()));
  EXPECT_EQ(drain(queue), (std::vector<std::string>{"ns/web", "ns/api"}));
}

TEST(ReconcileId, IsAVersion4Uuid) {
  auto id = new_reconcile_id();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '4');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
  EXPECT_NE(id, new_reconcile_id());
}

}  // namespace
}  // namespace runtime
