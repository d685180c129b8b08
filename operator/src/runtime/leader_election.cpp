#include "runtime/leader_election.h"

#include <algorithm>
#include <random>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "kube/meta.h"
#include "kube/thread_name.h"
#include "runtime/metrics.h"

namespace runtime {
namespace {

using std::chrono::system_clock;

// Candidates wait retry_period * [1, 1 + kJitter) between tries.
constexpr double kJitter = 0.1;

std::string string_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

long long int_field(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<long long>() : 0;
}

}  // namespace

LeaderElector::LeaderElector(kube::Interface& client, LeaderElectionConfig config,
                             MetricsRegistry* metrics)
    : client_(client), config_(std::move(config)) {
  if (config_.lease_duration <= config_.renew_deadline ||
      std::chrono::duration<double>(config_.renew_deadline) <=
          std::chrono::duration<double>(config_.retry_period) * 1.2) {
    throw std::invalid_argument(
        "leader election needs lease duration > renew deadline > 1.2 * retry period");
  }
  if (config_.identity.empty() || config_.lease_name.empty() || config_.lease_namespace.empty()) {
    throw std::invalid_argument("leader election needs an identity, a lease name and a namespace");
  }
  if (metrics != nullptr) {
    master_status_ = &metrics
                          ->gauge("leader_election_master_status",
                                  "Gauge of if the reporting system is master of the relevant "
                                  "lease, 0 indicates backup, 1 indicates master. 'name' is the "
                                  "string used to identify the lease.",
                                  {"name"})
                          .labels({config_.lease_name});
    master_status_->set(0);
  }
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start(std::function<void()> on_started_leading,
                          std::function<void()> on_stopped_leading) {
  kube::MutexLock lock(mu_);
  if (thread_.joinable() || stopping_) return;
  on_started_ = std::move(on_started_leading);
  on_stopped_ = std::move(on_stopped_leading);
  thread_ = std::thread([this] { run(); });
}

void LeaderElector::stop() {
  {
    kube::MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  stop_token_.cancel();
  if (thread_.joinable()) thread_.join();
  release();
}

LeaderElector::Clock::time_point LeaderElector::leading_until() const {
  return Clock::time_point(Clock::duration(last_renew_.load())) + config_.renew_deadline;
}

bool LeaderElector::is_leader() const { return leading_.load() && Clock::now() < leading_until(); }

void LeaderElector::set_leading(bool leading) {
  leading_.store(leading);
  if (master_status_ != nullptr) master_status_->set(leading ? 1 : 0);
}

bool LeaderElector::sleep_until(Clock::time_point until) {
  kube::MutexLock lock(mu_);
  return !wake_.wait_until(lock.native(), until, [this]() REQUIRES(mu_) { return stopping_; });
}

LeaderElector::Clock::duration LeaderElector::jittered_retry() const {
  thread_local std::mt19937 random{std::random_device{}()};
  const double factor = 1.0 + std::uniform_real_distribution<double>(0.0, kJitter)(random);
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config_.retry_period) * factor);
}

void LeaderElector::run() {
  kube::name_this_thread("leader-elect");
  const std::string lease = config_.lease_namespace + "/" + config_.lease_name;
  spdlog::info("attempting to acquire leader lease {} as {}", lease, config_.identity);
  const kube::Context stoppable(stop_token_);
  Clock::time_point attempt_started;
  while (true) {
    bool acquired = false;
    attempt_started = Clock::now();
    try {
      acquired = try_acquire_or_renew(stoppable.with_timeout(config_.renew_deadline));
    } catch (const kube::Cancelled& e) {
      if (stop_token_.cancelled()) return;
      spdlog::warn("error acquiring leader lease {}: {}", lease, e.what());
    } catch (const std::exception& e) {
      spdlog::warn("error acquiring leader lease {}: {}", lease, e.what());
    }
    if (acquired) break;
    // Try again after the retry period, or right when the lease expires.
    const auto now = Clock::now();
    auto next = now + jittered_retry();
    if (observed_expiry_ > now && observed_expiry_ < next) next = observed_expiry_;
    if (!sleep_until(next)) return;
  }
  last_renew_.store(attempt_started.time_since_epoch().count());
  set_leading(true);
  spdlog::info("successfully acquired lease {}", lease);
  if (on_started_) on_started_();

  while (sleep_until(Clock::now() + config_.retry_period)) {
    bool renewed = false;
    attempt_started = Clock::now();
    try {
      renewed = try_acquire_or_renew(stoppable.with_deadline(leading_until()));
    } catch (const kube::Cancelled& e) {
      if (stop_token_.cancelled()) return;
      spdlog::warn("error renewing leader lease {}: {}", lease, e.what());
    } catch (const std::exception& e) {
      spdlog::warn("error renewing leader lease {}: {}", lease, e.what());
    }
    if (renewed) {
      last_renew_.store(attempt_started.time_since_epoch().count());
      continue;
    }
    const bool taken = !observed_holder_.empty() && observed_holder_ != config_.identity;
    if (taken || !is_leader()) {
      set_leading(false);
      if (taken) {
        spdlog::error("leader election lost: lease {} is now held by {}", lease, observed_holder_);
      } else {
        spdlog::error("leader election lost: lease {} not renewed within {} s", lease,
                      config_.renew_deadline.count());
      }
      if (on_stopped_) on_stopped_();
      return;
    }
  }
}

bool LeaderElector::try_acquire_or_renew(const kube::Context& ctx) {
  const auto wall_now = system_clock::now();
  const auto now = Clock::now();
  const auto& leases = kube::resources::leases;
  const std::string now_text = kube::meta::format_micro_time(wall_now);

  nlohmann::json lease;
  try {
    lease = client_.get(leases, config_.lease_namespace, config_.lease_name, {}, ctx);
    unanswered_write_.reset();  // what it shows is what any earlier write did
  } catch (const kube::ApiError& e) {
    if (!e.is_not_found()) throw;
    unanswered_write_.reset();
    nlohmann::json fresh = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", config_.lease_duration.count()},
          {"acquireTime", now_text},
          {"renewTime", now_text},
          {"leaseTransitions", 0}}}};
    try {
      auto created = write_lease(
          now, [&] { return client_.create(leases, config_.lease_namespace, fresh, {}, ctx); });
      observed_version_ = created["metadata"].value("resourceVersion", "");
      observed_holder_ = config_.identity;
      observed_expiry_ = now + config_.lease_duration;
      return true;
    } catch (const kube::ApiError& create_error) {
      if (create_error.is_already_exists()) return false;  // another candidate was first
      throw;
    }
  }

  nlohmann::json& spec = lease["spec"];
  if (!spec.is_object()) spec = nlohmann::json::object();
  const std::string holder = string_field(spec, "holderIdentity");
  observed_holder_ = holder;
  const std::string version = lease["metadata"].value("resourceVersion", "");
  if (version != observed_version_) {
    // A new record: estimate when it was renewed (see the header).
    observed_version_ = version;
    const auto window = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(config_.retry_period) * (1.0 + kJitter));
    Clock::duration age{0};
    if (auto renewed = kube::meta::parse_time(string_field(spec, "renewTime"))) {
      age = std::clamp(std::chrono::duration_cast<Clock::duration>(wall_now - *renewed),
                       Clock::duration::zero(), window);
    }
    observed_expiry_ = now - age + std::chrono::seconds(int_field(spec, "leaseDurationSeconds"));
  }
  const bool mine = holder == config_.identity;
  if (!holder.empty() && !mine && now < observed_expiry_) return false;

  if (!mine) {
    spec["acquireTime"] = now_text;
    spec["leaseTransitions"] = int_field(spec, "leaseTransitions") + 1;
    if (!holder.empty()) spdlog::info("taking over leader lease from {} (expired)", holder);
  } else if (!spec.contains("acquireTime") || spec["acquireTime"].is_null()) {
    spec["acquireTime"] = now_text;
  }
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] = config_.lease_duration.count();
  spec["renewTime"] = now_text;
  try {
    // Conditional on the resourceVersion just read: a concurrent writer wins
    // and we get a Conflict.
    auto written = write_lease(now, [&] {
      return client_.replace(leases, config_.lease_namespace, config_.lease_name, lease, {}, ctx);
    });
    observed_version_ = written["metadata"].value("resourceVersion", "");
    observed_holder_ = config_.identity;
    observed_expiry_ = now + config_.lease_duration;
    return true;
  } catch (const kube::ApiError& e) {
    if (e.is_conflict()) return false;
    throw;
  }
}

nlohmann::json LeaderElector::write_lease(Clock::time_point sent,
                                          const std::function<nlohmann::json()>& write) {
  unanswered_write_ = sent;
  try {
    auto written = write();
    unanswered_write_.reset();
    return written;
  } catch (const kube::ApiError&) {
    unanswered_write_.reset();  // answered: the API server did not write it
    throw;
  }
}

void LeaderElector::release() {
  const bool was_leading = is_leader();
  set_leading(false);
  auto until = leading_until();
  if (!was_leading) {
    // Never led, or lost: the lease is not ours to clear. Unless stop()
    // cancelled an acquire the API server may have written; then it is
    // ours until the renew deadline that acquire would have given us.
    if (!unanswered_write_) return;
    until = *unanswered_write_ + config_.renew_deadline;
    if (Clock::now() >= until) return;
  }
  // Not the stop token (cancelled by now): our own renew deadline. Past it
  // we no longer count as holding the lease, and an unreachable API server
  // must not hold the shutdown up any longer.
  const kube::Context ctx = kube::Context().with_deadline(until);
  try {
    auto lease =
        client_.get(kube::resources::leases, config_.lease_namespace, config_.lease_name, {}, ctx);
    nlohmann::json& spec = lease["spec"];
    if (string_field(spec, "holderIdentity") != config_.identity) return;
    const std::string now_text = kube::meta::format_micro_time(system_clock::now());
    spec["holderIdentity"] = "";
    spec["leaseDurationSeconds"] = 1;
    spec["acquireTime"] = now_text;
    spec["renewTime"] = now_text;
    client_.replace(kube::resources::leases, config_.lease_namespace, config_.lease_name, lease, {},
                    ctx);
    spdlog::info("released leader lease {}/{}", config_.lease_namespace, config_.lease_name);
  } catch (const std::exception& e) {
    spdlog::warn("could not release leader lease {}/{}: {}", config_.lease_namespace,
                 config_.lease_name, e.what());
  }
}

}  // namespace runtime
