#include "runtime/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "kube/client.h"

namespace runtime {
namespace {

bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Label values escape backslash, double quote and newline; help text escapes
// backslash and newline only (text format 0.0.4).
std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

void append_line(std::string& out, const std::string& name, const std::string& labels,
                 double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += format_metric_value(value);
  out += '\n';
}

}  // namespace

// --- metric types ----------------------------------------------------------

void Counter::inc(double amount) {
  if (amount < 0) throw std::invalid_argument("a counter cannot decrease");
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_([&] {
        std::sort(upper_bounds.begin(), upper_bounds.end());
        // +Inf is always the last bucket; an explicit one would repeat it.
        while (!upper_bounds.empty() && std::isinf(upper_bounds.back())) upper_bounds.pop_back();
        return upper_bounds;
      }()),
      counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  kube::MutexLock lock(mu_);
  ++counts_[static_cast<std::size_t>(bucket - upper_bounds_.begin())];
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  kube::MutexLock lock(mu_);
  std::uint64_t running = 0;
  for (auto count : counts_) {
    running += count;
    snap.cumulative_counts.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_;
  return snap;
}

// --- families ----------------------------------------------------------------

MetricFamily::MetricFamily(std::string name, std::string help, std::string type,
                           std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(std::move(type)),
      label_names_(std::move(label_names)) {
  if (!valid_name(name_, true)) throw std::invalid_argument("invalid metric name '" + name_ + "'");
  for (const auto& label : label_names_) {
    // "le" is the histogram bucket label; "__" prefixes are reserved.
    if (!valid_name(label, false) || label.rfind("__", 0) == 0 ||
        (type_ == "histogram" && label == "le")) {
      throw std::invalid_argument("invalid label name '" + label + "' for metric " + name_);
    }
  }
}

void MetricFamily::expose(std::string& out) const {
  out += "# HELP " + name_ + " " + escape(help_, false) + "\n";
  out += "# TYPE " + name_ + " " + type_ + "\n";
  expose_series(out);
}

std::string MetricFamily::render_labels(const std::vector<std::string>& values) const {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names_[i] + "=\"" + escape(values[i], true) + "\"";
  }
  return out;
}

void MetricFamily::check_label_count(const std::vector<std::string>& values) const {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {} has {} label(s), got {} value(s)", name_,
                                            label_names_.size(), values.size()));
  }
}

namespace detail {

void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Counter& counter) {
  append_line(out, name, labels, counter.value());
}

void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Gauge& gauge) {
  append_line(out, name, labels, gauge.value());
}

void append_samples(std::string& out, const std::string& name, const std::string& labels,
                    const Histogram& histogram) {
  auto snap = histogram.snapshot();
  const std::string prefix = labels.empty() ? "" : labels + ",";
  const auto& bounds = histogram.upper_bounds();
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    std::string le = i < bounds.size() ? format_metric_value(bounds[i]) : "+Inf";
    append_line(out, name + "_bucket", prefix + "le=\"" + le + "\"",
                static_cast<double>(snap.cumulative_counts[i]));
  }
  append_line(out, name + "_sum", labels, snap.sum);
  append_line(out, name + "_count", labels, static_cast<double>(snap.count));
}

}  // namespace detail

// --- registry ------------------------------------------------------------------

template <class Metric>
Family<Metric>& MetricsRegistry::family(const std::string& name, const std::string& help,
                                        const std::string& type,
                                        const std::vector<std::string>& label_names,
                                        typename Family<Metric>::Factory factory) {
  kube::MutexLock lock(mu_);
  auto& slot = families_[name];
  if (!slot) {
    try {
      slot = std::make_unique<Family<Metric>>(name, help, type, label_names, std::move(factory));
    } catch (...) {
      families_.erase(name);
      throw;
    }
  }
  auto* existing = dynamic_cast<Family<Metric>*>(slot.get());
  if (existing == nullptr || existing->type() != type || existing->label_names() != label_names) {
    throw std::logic_error("metric " + name + " is already registered as a " + slot->type() +
                           " with other labels");
  }
  return *existing;
}

Family<Counter>& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                          const std::vector<std::string>& label_names) {
  return family<Counter>(name, help, "counter", label_names,
                         [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                      const std::vector<std::string>& label_names) {
  return family<Gauge>(name, help, "gauge", label_names, [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                              const std::vector<std::string>& label_names,
                                              std::vector<double> upper_bounds) {
  return family<Histogram>(name, help, "histogram", label_names,
                           [upper_bounds] { return std::make_unique<Histogram>(upper_bounds); });
}

void MetricsRegistry::on_collect(std::function<void()> collect) {
  kube::MutexLock lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::expose() const {
  std::vector<std::function<void()>> collectors;
  {
    kube::MutexLock lock(mu_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();  // may register families: not under mu_

  std::string out;
  kube::MutexLock lock(mu_);
  for (const auto& [name, family] : families_) family->expose(out);
  return out;
}

std::vector<double> MetricsRegistry::default_buckets() {
  return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
}

std::vector<double> MetricsRegistry::exponential_buckets(double start, double factor, int count) {
  if (start <= 0 || factor <= 1 || count < 1) {
    throw std::invalid_argument("exponential_buckets needs start > 0, factor > 1, count >= 1");
  }
  std::vector<double> bounds;
  for (int i = 0; i < count; ++i, start *= factor) bounds.push_back(start);
  return bounds;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

// --- process metrics -----------------------------------------------------------

namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_ticks = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

// /proc/self/stat: "pid (comm) state ppid ..."; comm may contain spaces and
// parentheses, so fields are counted from the last ')'.
ProcStat read_proc_stat() {
  ProcStat stat;
  std::ifstream file("/proc/self/stat");
  std::string line;
  if (!std::getline(file, line)) return stat;
  auto close = line.rfind(')');
  if (close == std::string::npos) return stat;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> field;  // field[0] is field 3 (state) of proc(5)
  for (std::string f; fields >> f;) field.push_back(f);
  if (field.size() < 22) return stat;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  stat.cpu_seconds = (std::stod(field[11]) + std::stod(field[12])) / ticks;  // utime + stime
  stat.start_ticks = std::stod(field[19]);                                   // starttime
  stat.virtual_bytes = std::stod(field[20]);                                 // vsize
  stat.resident_bytes = std::stod(field[21]) * page;                         // rss (pages)
  return stat;
}

double boot_time_seconds() {
  std::ifstream file("/proc/stat");
  for (std::string key; file >> key;) {
    if (key == "btime") {
      double btime = 0;
      file >> btime;
      return btime;
    }
    file.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

}  // namespace

void register_process_metrics(MetricsRegistry& registry) {
  auto& resident =
      registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").labels({});
  auto& virt =
      registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").labels({});
  auto& cpu =
      registry
          .counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
          .labels({});
  auto& start = registry
                    .gauge("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.")
                    .labels({});
  auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.").labels({});
  auto& max_fds =
      registry.gauge("process_max_fds", "Maximum number of open file descriptors.").labels({});

  start.set(boot_time_seconds() +
            read_proc_stat().start_ticks / static_cast<double>(sysconf(_SC_CLK_TCK)));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) max_fds.set(static_cast<double>(limit.rlim_cur));

  registry.on_collect([&resident, &virt, &cpu, &fds] {
    auto stat = read_proc_stat();
    resident.set(stat.resident_bytes);
    virt.set(stat.virtual_bytes);
    cpu.set_total(stat.cpu_seconds);
    fds.set(open_fds());
  });
}

std::function<void(const kube::RequestInfo&)> request_metrics_hook(MetricsRegistry& registry) {
  auto& requests = registry.counter("rest_client_requests_total",
                                    "Number of HTTP requests, partitioned by status code, method, "
                                    "and host.",
                                    {"code", "method", "host"});
  // client-go's buckets for the same histogram.
  auto& latency = registry.histogram(
      "rest_client_request_duration_seconds",
      "Request latency in seconds. Broken down by verb, and host.", {"verb", "host"},
      {0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0});
  return [&requests, &latency](const kube::RequestInfo& info) {
    requests
        .labels({info.code == 0 ? "<error>" : std::to_string(info.code), info.method, info.host})
        .inc();
    // A watch's latency is the life of the stream, not an answer time.
    if (info.verb != "watch") {
      latency.labels({info.verb, info.host})
          .observe(std::chrono::duration<double>(info.latency).count());
    }
  };
}

}  // namespace runtime
