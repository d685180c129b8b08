// Prometheus metrics: counters, gauges and histograms with labels, exposed in
// the text format 0.0.4 on /metrics.
//
// Usage (the family is created on first call; later calls with the same name
// return the same family):
//
//   auto& recycles = registry.counter("sreracha_pod_recycles_total",
//                                     "Pods replaced before their lifetime ran out.", {"reason"});
//   recycles.labels({"lifetime"}).inc();
//
//   auto& depth = registry.gauge("workqueue_depth", "Current depth of the work queue.", {"name"});
//   depth.labels({"sreracha"}).set(3);
//
//   auto& latency = registry.histogram("x_seconds", "...", {}, MetricsRegistry::default_buckets());
//   latency.labels({}).observe(0.02);
//
// References returned by counter()/gauge()/histogram() and labels() stay valid
// as long as the registry; hot paths keep them instead of looking up again.
//
// Threading: everything here is safe to use from many threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kube/mutex.h"

namespace kube {
struct RequestInfo;
}

namespace runtime {

// A value that only goes up (resets to zero only when the process restarts).
class Counter {
 public:
  void inc(double amount = 1);  // REQUIRES: amount >= 0
  double value() const { return value_.load(std::memory_order_relaxed); }
  // For collectors mirroring a counter kept elsewhere (process CPU time).
  void set_total(double total) { value_.store(total, std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void inc() { add(1); }
  void dec() { add(-1); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets by upper bound (le); +Inf is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative_counts;  // one per upper bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;  // sorted ascending
  mutable kube::Mutex mu_;
  std::vector<std::uint64_t> counts_ GUARDED_BY(mu_);  // per bucket, not cumulative
  double sum_ GUARDED_BY(mu_) = 0;
};

// Common part of a metric family: name, help, type, label names.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::string type,
               std::vector<std::string> label_names);
  virtual ~MetricFamily() = default;

  const std::string& name() const { return name_; }
  const std::string& type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends "# HELP", "# TYPE" and every series to `out`.
  void expose(std::string& out) const;

 protected:
  virtual void expose_series(std::string& out) const = 0;
  // `a="x",b="y"` (values escaped), empty without labels.
  std::string render_labels(const std::vector<std::string>& values) const;
  void check_label_count(const std::vector<std::string>& values) const;

 private:
  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
};

namespace detail {
// The sample lines of one series; `labels` as MetricFamily::render_labels.
void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Counter& counter);
void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Gauge& gauge);
void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Histogram& histogram);
}  // namespace detail

// A family of series of one metric type, one series per label value set.
template <class Metric>
class Family : public MetricFamily {
 public:
  using Factory = std::function<std::unique_ptr<Metric>()>;
  Family(std::string name, std::string help, std::string type, std::vector<std::string> label_names,
         Factory factory)
      : MetricFamily(std::move(name), std::move(help), std::move(type), std::move(label_names)),
        factory_(std::move(factory)) {}

  // The series for these label values (one per label name, in order),
  // created at first use. Throws std::invalid_argument on a count mismatch.
  Metric& labels(const std::vector<std::string>& values) {
    check_label_count(values);
    kube::MutexLock lock(mu_);
    auto& slot = series_[values];
    if (!slot) slot = factory_();
    return *slot;
  }

  // Drops the series for these label values (client_golang's
  // DeleteLabelValues), e.g. when the object they describe is gone; a
  // reference to it from labels() must not be used afterwards. Returns
  // whether there was one.
  bool remove(const std::vector<std::string>& values) {
    check_label_count(values);
    kube::MutexLock lock(mu_);
    return series_.erase(values) > 0;
  }

 private:
  void expose_series(std::string& out) const override {
    kube::MutexLock lock(mu_);
    for (const auto& [values, metric] : series_) {
      detail::append_samples(out, name(), render_labels(values), *metric);
    }
  }

  Factory factory_;
  mutable kube::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_ GUARDED_BY(mu_);
};

class MetricsRegistry {
 public:
  // Returns the family `name`, creating it at first call. Asking again with
  // another type or other label names throws std::logic_error; an invalid
  // metric or label name throws std::invalid_argument.
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& label_names = {},
                               std::vector<double> upper_bounds = default_buckets());

  // Runs `collect` before every exposition (e.g. to read /proc/self).
  void on_collect(std::function<void()> collect);

  // Every family, sorted by name, in the Prometheus text format 0.0.4.
  std::string expose() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Prometheus' default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
  static std::vector<double> default_buckets();
  // start, start*factor, ... (count bounds).
  static std::vector<double> exponential_buckets(double start, double factor, int count);

 private:
  template <class Metric>
  Family<Metric>& family(const std::string& name, const std::string& help, const std::string& type,
                         const std::vector<std::string>& label_names,
                         typename Family<Metric>::Factory factory);

  mutable kube::Mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>> families_ GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ GUARDED_BY(mu_);
};

// The process metrics every Prometheus client exports, read from /proc/self
// at scrape time: process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_start_time_seconds, process_open_fds,
// process_max_fds.
void register_process_metrics(MetricsRegistry& registry);

// A kube::ClientOptions::on_request hook counting every API request in
// rest_client_requests_total{code,method,host} (code "<error>" when no HTTP
// answer came, as client-go does) and timing it in
// rest_client_request_duration_seconds{verb,host}. The registry must outlive
// the client.
std::function<void(const kube::RequestInfo&)> request_metrics_hook(MetricsRegistry& registry);

// Formats a sample value as Prometheus does: "+Inf", "-Inf", "NaN", else the
// shortest decimal that reads back to the same double.
std::string format_metric_value(double value);

}  // namespace runtime
