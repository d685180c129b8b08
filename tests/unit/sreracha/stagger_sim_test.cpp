// The stagger planner driven by a simulated cluster (stagger_sim.h) for a
// simulated day per replica count. SRERACHA_SIM_HOURS shortens the day, e.g.
// for sanitizer builds; the learning and outage scenarios always run an hour.
#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "stagger_sim.h"

namespace sreracha::stagger::sim {
namespace {

double sim_hours() {
  if (const char* env = std::getenv("SRERACHA_SIM_HOURS")) return std::atof(env);
  return 24;
}

std::string seconds(Millis ms) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000.0 << "s";
  return out.str();
}

void report(const std::string& label, int n, const Result& r) {
  std::cout << "stagger-sim " << label << " N=" << n << " zero_ready_pct=" << std::fixed
            << std::setprecision(2) << 100.0 * r.zero_ready_fraction()
            << " max_not_ready=" << (n - r.min_ready_after_all_ready)
            << " min_start_gap=" << seconds(r.min_start_gap())
            << " median_start_gap=" << seconds(r.median_start_gap())
            << " after_warm_up(zero_ready=" << seconds(r.zero_ready_after_warm_up)
            << " max_not_ready=" << (n - r.min_ready_after_warm_up) << ")"
            << " recycles=" << r.recycles << " crashes=" << r.crashes
            << " max_replicas=" << r.max_deployment_replicas << "\n";
}

class StaggerSim : public ::testing::TestWithParam<int> {};

TEST_P(StaggerSim, KnownLifetimeKeepsAReadyReplicaAndNeverTwoDown) {
  const int n = GetParam();
  Config config;
  config.replicas = n;
  config.hours = sim_hours();
  config.warm_up = std::min<Millis>(config.warm_up, static_cast<Millis>(config.hours * 1800'000));
  config.seed = 1000 + static_cast<std::uint64_t>(n);
  const Result r = Simulation(config).run();
  report("operator", n, r);

  ASSERT_GE(r.all_ready, 0) << "never reached " << n << " ready replicas";
  EXPECT_LT(r.all_ready, 5 * 60'000) << "start-up took too long";
  EXPECT_EQ(r.zero_ready, 0) << "time without a ready replica";
  EXPECT_GE(r.min_ready_after_all_ready, std::max(1, n - 1)) << "two replicas down at once";
  EXPECT_EQ(r.crashes, 0) << "pods should be replaced before they crash";
  EXPECT_GT(r.recycles, 0);
  EXPECT_EQ(r.plans_breaking_order, 0);
  // Starts spread out: consecutive starts a good part of the ideal gap apart.
  const Millis ideal_gap = 18'000 / n;  // (L - m - lead - settle) / N
  EXPECT_GE(r.median_start_gap(), ideal_gap * 8 / 10);
  // ... and rarely closer than half of it (a new container starts 0.3 to
  // 1.3 s after its pod is created, so some jitter is the cluster's), where
  // the schedule can be safe at all: beyond L / lead replicas replacements
  // overlap by design (unsafe_schedule(), the LifetimeTooShort condition).
  Params safe;
  safe.desired_replicas = n;
  safe.lifetime = Seconds{30};
  if (unsafe_schedule(safe)) return;
  const std::vector<Millis> gaps = r.start_gaps();
  const auto close =
      std::count_if(gaps.begin(), gaps.end(), [&](Millis gap) { return gap < ideal_gap / 2; });
  EXPECT_LT(static_cast<double>(close), 0.05 * static_cast<double>(gaps.size()));
}

TEST_P(StaggerSim, LearnedLifetimeHoldsOnceLearned) {
  const int n = GetParam();
  Config config;
  config.replicas = n;
  config.configured_lifetime.reset();
  config.hours = 1;
  config.seed = 2000 + static_cast<std::uint64_t>(n);
  const Result r = Simulation(config).run();
  report("learned", n, r);

  EXPECT_GT(r.crashes, 0) << "nothing to learn from";
  EXPECT_EQ(r.crashes_after_warm_up, 0);
  EXPECT_EQ(r.zero_ready_after_warm_up, 0);
}

// The operator is away for 5 minutes: its pods crash into back-off and
// come back together. Once back it replaces the crashed pods with fresh ones
// and respreads the starts; 10 minutes later all holds again.
TEST_P(StaggerSim, RecoversFromAnOperatorOutage) {
  const int n = GetParam();
  Config config;
  config.replicas = n;
  config.hours = 1;
  config.seed = 4000 + static_cast<std::uint64_t>(n);
  config.outage_start = 30 * 60'000;
  config.outage_end = 35 * 60'000;
  config.warm_up = 45 * 60'000;
  const Result r = Simulation(config).run();
  report("outage", n, r);

  EXPECT_GT(r.crashes, 0) << "the outage should have let pods crash";
  EXPECT_EQ(r.crashes_after_warm_up, 0);
  EXPECT_EQ(r.zero_ready_after_warm_up, 0);
  EXPECT_GE(r.min_ready_after_warm_up, std::max(1, n - 1));
  EXPECT_EQ(r.plans_breaking_order, 0);
}

// A busy cluster: start-ups log-normal with median 2 s and p99 15 s. The
// learned lead follows them, late replacements happen, and yet there is
// never a moment without a ready replica.
TEST_P(StaggerSim, HeavyTailedStartUpsKeepAReadyReplica) {
  const int n = GetParam();
  if (n < 2) GTEST_SKIP() << "one replica cannot cover its own slow replacement";
  Config config;
  config.replicas = n;
  config.hours = std::min(sim_hours(), 6.0);
  config.seed = 5000 + static_cast<std::uint64_t>(n);
  config.startup_median = 2'000;
  config.startup_p99 = 15'000;
  const Result r = Simulation(config).run();
  report("heavy-tail", n, r);
  std::cout << "stagger-sim heavy-tail N=" << n << " late_replacements=" << r.late_replacements
            << " max_lead=" << r.max_lead.count() << "s\n";

  ASSERT_GE(r.all_ready, 0);
  EXPECT_EQ(r.zero_ready, 0) << "time without a ready replica";
  EXPECT_GT(r.max_lead.count(), 5) << "the lead should have followed the slow start-ups";
  EXPECT_EQ(r.plans_breaking_order, 0);
}

TEST_P(StaggerSim, BaselineWithoutOperatorIsMostlyDown) {
  const int n = GetParam();
  Config config;
  config.replicas = n;
  config.with_operator = false;
  config.hours = sim_hours();
  config.seed = 3000 + static_cast<std::uint64_t>(n);
  const Result r = Simulation(config).run();
  report("baseline", n, r);

  EXPECT_GT(r.zero_ready_fraction(), 0.5);
}

INSTANTIATE_TEST_SUITE_P(Replicas, StaggerSim, ::testing::Range(1, 11),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return "N" + std::to_string(param.param);
                         });

}  // namespace
}  // namespace sreracha::stagger::sim
