// endpoint_sampler: samples the ready endpoints of Services, for bench/stagger.sh.
//
// Every --interval-ms it lists each Service's EndpointSlices (one request per
// Service over a kept-alive connection) and counts ready endpoints. Sampling
// starts once every Service has had a ready endpoint (so neither side is
// charged for its first pod's start-up); "not ready" (replicas minus ready
// endpoints) is counted for a Service only after it first had all --replicas
// ready, so a staggered start-up is not counted as replicas down.
//
// Prints one line per Service:
//   service=<name> samples=<n> zero_ready_pct=<x> max_not_ready=<k> mean_ready=<r>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"

namespace {

int ready_endpoints(kube::Client& client, const std::string& ns, const std::string& service) {
  kube::ListOptions options;
  options.label_selector = "kubernetes.io/service-name=" + service;
  auto list = client.list(kube::resources::endpointslices, ns, options);
  int ready = 0;
  for (const auto& slice : list["items"]) {
    for (const auto& endpoint : slice.value("endpoints", nlohmann::json::array())) {
      const auto conditions = endpoint.value("conditions", nlohmann::json::object());
      if (conditions.value("ready", false)) ++ready;
    }
  }
  return ready;
}

struct Tally {
  long samples = 0;
  long zero_ready = 0;
  long ready_sum = 0;
  bool reached_full = false;
  int max_not_ready = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Samples the ready endpoints of Services"};
  std::string kubeconfig, ns;
  std::vector<std::string> services;
  int replicas = 1, duration_seconds = 60, interval_ms = 100;
  app.add_option("--kubeconfig", kubeconfig, "kubeconfig file")->required();
  app.add_option("--namespace", ns, "namespace of the Services")->required();
  app.add_option("--service", services, "a Service to sample (repeatable)")->required();
  app.add_option("--replicas", replicas, "replicas each Service should have");
  app.add_option("--duration", duration_seconds, "seconds to sample");
  app.add_option("--interval-ms", interval_ms, "sampling interval");
  CLI11_PARSE(app, argc, argv);

  kube::LoadOptions load;
  load.kubeconfig = kubeconfig;
  kube::ClientOptions client_options;
  client_options.qps = 1000;  // sampling is the point: do not throttle it
  client_options.burst = 1000;
  kube::Client client(kube::load_config(load), client_options);

  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(interval_ms);
  // Warm-up: wait (at most 5 minutes) until every Service has a ready endpoint.
  const auto warmup_deadline = Clock::now() + std::chrono::minutes(5);
  for (;;) {
    bool all = true;
    for (const auto& s : services) all = all && ready_endpoints(client, ns, s) > 0;
    if (all) break;
    if (Clock::now() > warmup_deadline) {
      std::fprintf(stderr, "endpoint_sampler: no ready endpoint after 5 minutes\n");
      return 1;
    }
    std::this_thread::sleep_for(interval);
  }

  std::map<std::string, Tally> tallies;
  const auto end = Clock::now() + std::chrono::seconds(duration_seconds);
  auto next = Clock::now();
  while (Clock::now() < end) {
    for (const auto& s : services) {
      Tally& t = tallies[s];
      int ready = ready_endpoints(client, ns, s);
      ++t.samples;
      t.ready_sum += ready;
      if (ready == 0) ++t.zero_ready;
      if (ready >= replicas) t.reached_full = true;
      if (t.reached_full) t.max_not_ready = std::max(t.max_not_ready, replicas - ready);
    }
    next += interval;
    std::this_thread::sleep_until(next);
  }
  for (const auto& s : services) {
    const Tally& t = tallies[s];
    std::printf("service=%s samples=%ld zero_ready_pct=%.2f max_not_ready=%d mean_ready=%.2f\n",
                s.c_str(), t.samples, 100.0 * static_cast<double>(t.zero_ready) / t.samples,
                t.max_not_ready, static_cast<double>(t.ready_sum) / t.samples);
  }
  return 0;
}
