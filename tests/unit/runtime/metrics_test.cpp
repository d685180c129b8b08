// The Prometheus text exposition, registration rules, process metrics and
// the kube client request hook.
#include "runtime/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "kube/client.h"

namespace runtime {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricsRegistry, ExposesCountersAndGaugesInTextFormat004) {
  MetricsRegistry registry;
  auto& recycles = registry.counter("sreracha_pod_recycles_total", "Pods replaced.", {"reason"});
  recycles.labels({"lifetime"}).inc();
  recycles.labels({"lifetime"}).inc(2);
  recycles.labels({"crash"}).inc();
  registry.gauge("a_gauge", "A gauge.").labels({}).set(-1.5);

  EXPECT_EQ(registry.expose(),
            "# HELP a_gauge A gauge.\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge -1.5\n"
            "# HELP sreracha_pod_recycles_total Pods replaced.\n"
            "# TYPE sreracha_pod_recycles_total counter\n"
            "sreracha_pod_recycles_total{reason=\"crash\"} 1\n"
            "sreracha_pod_recycles_total{reason=\"lifetime\"} 3\n");
}

TEST(MetricsRegistry, RemovedSeriesAreNoLongerExposed) {
  MetricsRegistry registry;
  auto& ready = registry.gauge("ready", "Ready.", {"namespace", "name"});
  ready.labels({"a", "web"}).set(2);
  ready.labels({"a", "shop"}).set(1);
  EXPECT_TRUE(ready.remove({"a", "web"}));
  EXPECT_FALSE(ready.remove({"a", "web"})) << "already gone";
  EXPECT_EQ(registry.expose(),
            "# HELP ready Ready.\n"
            "# TYPE ready gauge\n"
            "ready{namespace=\"a\",name=\"shop\"} 1\n");
  EXPECT_EQ(ready.labels({"a", "web"}).value(), 0) << "a new series starts afresh";
}

TEST(MetricsRegistry, ExposesHistogramsWithCumulativeBuckets) {
  MetricsRegistry registry;
  auto& latency = registry.histogram("op_seconds", "Op latency.", {"op"}, {0.1, 1});
  auto& get = latency.labels({"get"});
  get.observe(0.05);
  get.observe(0.1);  // le is inclusive
  get.observe(0.5);
  get.observe(7);

  EXPECT_EQ(registry.expose(),
            "# HELP op_seconds Op latency.\n"
            "# TYPE op_seconds histogram\n"
            "op_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n"
            "op_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
            "op_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
            "op_seconds_sum{op=\"get\"} 7.65\n"
            "op_seconds_count{op=\"get\"} 4\n");
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry.counter("c_total", "Line one\nback\\slash \"quoted\"", {"v"})
      .labels({"a\"b\\c\nd"})
      .inc();
  auto text = registry.expose();
  EXPECT_TRUE(contains(text, "# HELP c_total Line one\\nback\\\\slash \"quoted\"\n")) << text;
  EXPECT_TRUE(contains(text, "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n")) << text;
}

TEST(MetricsRegistry, SameNameReturnsTheSameFamily) {
  MetricsRegistry registry;
  auto& first = registry.counter("x_total", "X.", {"a"});
  auto& second = registry.counter("x_total", "X.", {"a"});
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first.labels({"1"}), &second.labels({"1"}));
}

TEST(MetricsRegistry, RejectsConflictingOrInvalidRegistrations) {
  MetricsRegistry registry;
  registry.counter("x_total", "X.", {"a"});
  EXPECT_THROW(registry.gauge("x_total", "X."), std::logic_error);
  EXPECT_THROW(registry.counter("x_total", "X.", {"b"}), std::logic_error);
  EXPECT_THROW(registry.counter("1bad", "Bad."), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad-name", "Bad."), std::invalid_argument);
  EXPECT_THROW(registry.counter("ok_total", "Ok.", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("h", "H.", {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("x_total", "X.", {"a"}).labels({}), std::invalid_argument);
  EXPECT_THROW(registry.counter("x_total", "X.", {"a"}).labels({"1"}).inc(-1),
               std::invalid_argument);
  // A failed registration leaves no half-made family behind.
  EXPECT_FALSE(contains(registry.expose(), "1bad"));
}

TEST(MetricsRegistry, FormatsSpecialValuesAsPrometheusDoes) {
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_metric_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_metric_value(std::nan("")), "NaN");
  EXPECT_EQ(format_metric_value(42), "42");
  EXPECT_EQ(format_metric_value(0.005), "0.005");
  EXPECT_EQ(std::stod(format_metric_value(1712345678.25)), 1712345678.25);
}

TEST(MetricsRegistry, ExponentialBuckets) {
  EXPECT_EQ(MetricsRegistry::exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_THROW(MetricsRegistry::exponential_buckets(0, 2, 4), std::invalid_argument);
}

TEST(MetricsRegistry, CountersAreSafeToIncrementFromManyThreads) {
  MetricsRegistry registry;
  auto& family = registry.counter("n_total", "N.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) family.labels({"x"}).inc();
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(family.labels({"x"}).value(), 40000);
}

double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(ProcessMetrics, ReadsTheProcessFromProc) {
  MetricsRegistry registry;
  register_process_metrics(registry);
  auto text = registry.expose();
  EXPECT_GT(sample(text, "process_resident_memory_bytes"), 1e6) << text;
  EXPECT_GT(sample(text, "process_virtual_memory_bytes"), 1e6) << text;
  EXPECT_GT(sample(text, "process_open_fds"), 2) << text;
  EXPECT_GT(sample(text, "process_max_fds"), 2) << text;
  EXPECT_GE(sample(text, "process_cpu_seconds_total"), 0) << text;
  const double now = static_cast<double>(std::time(nullptr));
  const double start = sample(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1) << text;
  EXPECT_GT(start, now - 3600) << "a unit test process started within the hour";
}

TEST(RequestMetricsHook, CountsRequestsByCodeMethodAndHost) {
  MetricsRegistry registry;
  auto hook = request_metrics_hook(registry);
  kube::RequestInfo ok{"GET", "get", "127.0.0.1:6443", 200, std::chrono::milliseconds(3)};
  hook(ok);
  hook(ok);
  hook(kube::RequestInfo{"POST", "create", "127.0.0.1:6443", 0, {}});
  auto text = registry.expose();
  EXPECT_TRUE(contains(
      text, "rest_client_requests_total{code=\"200\",method=\"GET\",host=\"127.0.0.1:6443\"} 2\n"))
      << text;
  EXPECT_TRUE(contains(
      text,
      "rest_client_requests_total{code=\"<error>\",method=\"POST\",host=\"127.0.0.1:6443\"} 1\n"))
      << text;
  EXPECT_TRUE(contains(
      text, "rest_client_request_duration_seconds_count{verb=\"get\",host=\"127.0.0.1:6443\"} 2\n"))
      << text;
}

}  // namespace
}  // namespace runtime
