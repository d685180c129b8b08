// kube_get_bench: N sequential GETs of one object through kube::Client; with
// --watch, then the process's resident memory while the client holds one
// open watch.
//
//   kube_get_bench <namespace> <configmap> [count] [--watch]
//
// Uses the cluster in KUBECONFIG. Run through bench/kube_get.sh, which makes
// the object and runs the same loop through curl for comparison.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"

namespace {

using Clock = std::chrono::steady_clock;

// VmRSS from /proc/self/status, in KiB.
long resident_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double percentile_ms(std::vector<double> sorted_ms, double p) {
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted_ms.size() - 1) + 0.5);
  return sorted_ms[std::min(index, sorted_ms.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <namespace> <configmap> [count] [--watch]\n", argv[0]);
    return 2;
  }
  const std::string ns = argv[1];
  const std::string name = argv[2];
  const int count = argc > 3 ? std::stoi(argv[3]) : 1000;
  const bool with_watch = argc > 4 && std::string(argv[4]) == "--watch";

  kube::set_io_threads(kube::kDefaultIoThreads);  // as the operator runs it
  const long rss_start = resident_kib();
  kube::ClientOptions options;
  options.qps = 0;  // measure the client, not its rate limiter (default 20 qps)
  kube::Client client(kube::load_config(), options);

  // Warm-up: the TLS handshake and first allocations are not what we measure
  // (curl's run likewise discards its first transfer).
  for (int i = 0; i < 10; ++i) client.get(kube::resources::configmaps, ns, name);

  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(count));
  const auto begin = Clock::now();
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    client.get(kube::resources::configmaps, ns, name);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf(
      "sreracha-client: %d GETs in %.3f s: %.1f req/s, p50 %.3f ms, p99 %.3f ms, "
      "%llu TLS connection(s)\n",
      count, seconds, count / seconds, percentile_ms(latencies_ms, 0.50),
      percentile_ms(latencies_ms, 0.99),
      static_cast<unsigned long long>(client.connections_opened()));
  const long rss_after_gets = resident_kib();
  if (!with_watch) return 0;

  // One open watch, held until we have measured.
  kube::CancelToken cancel;
  std::atomic<bool> established{false};
  std::thread watcher([&] {
    kube::WatchOptions watch_options;
    watch_options.timeout_seconds = 600;
    client.watch(
        kube::resources::configmaps, ns, watch_options,
        [&](const kube::WatchEvent&) {
          established = true;  // the initial ADDED events arrived: the stream is open
          return true;
        },
        cancel);
  });
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!established && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long rss_watch = resident_kib();
  cancel.cancel();
  watcher.join();
  std::printf(
      "sreracha-client memory: VmRSS %.1f MiB with one open watch (%.1f MiB at start, %.1f MiB "
      "after the GETs)%s\n",
      rss_watch / 1024.0, rss_start / 1024.0, rss_after_gets / 1024.0,
      established ? "" : " [watch not established]");
  return established ? 0 : 1;
}
