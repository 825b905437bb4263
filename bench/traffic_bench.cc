// The traffic layer's per-snapshot work (traffic::TrafficObserver), on real
// M-Lab snapshots: what -traffic adds to a polling cycle for each changed
// connection.
//
//   build/bin/traffic_bench [benchmark flags]
//
//   BM_OnSnapshot/N   OnSnapshot of a changed snapshot, cycling through N
//                     open connections (lookup, tcp_info read, exact
//                     deltas, both directions added to the labelled
//                     counters); per snapshot
//   BM_Collect/N      a scrape's Collect() of the traffic families with N
//                     series

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/mlab_records.h"
#include "benchmark/benchmark.h"
#include "flows/listening_ports.h"
#include "traffic/service_names.h"
#include "traffic/traffic_observer.h"

namespace {

// N connections, each with two distinct real snapshots.
using Snapshots = bench::SnapshotPairs;

struct Fixture {
  explicit Fixture(int n) : s(n) {
    traffic::TrafficOptions o;
    o.services = &services;
    o.listening = &listening;
    observer = std::make_unique<traffic::TrafficObserver>(o);
    observer->OnCycle({});  // connections opened after start count in full
    for (size_t i = 0; i < s.a_views.size(); ++i) {
      observer->OnFlowOpen(1000 + i, {}, s.a_views[i]);
      observer->OnSnapshot(1000 + i, {}, s.a_views[i], parse::Change::kNew);
    }
  }
  Snapshots s;
  traffic::ServiceNames services =
      traffic::ServiceNames::Parse("ndt 3010/tcp\n");
  flows::ListeningPorts listening;
  std::unique_ptr<traffic::TrafficObserver> observer;
};

void BM_OnSnapshot(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Fixture f(n);
  int i = 0;
  bool flip = false;
  for (auto _ : state) {
    const auto& views = flip ? f.s.a_views : f.s.b_views;
    f.observer->OnSnapshot(1000 + i, {}, views[i],
                           parse::Change::kCounterChange);
    if (++i == n) i = 0, flip = !flip;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OnSnapshot)->Arg(100)->Arg(10000);

void BM_Collect(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  metrics::LabelledCounters counters(
      {.families = {{"ntm_bytes_total", ""},
                    {"ntm_packets_total", ""},
                    {"payload", ""}},
       .label_names = {"src", "dst", "service", "proto"},
       .max_series = static_cast<size_t>(n),
       .overflow_value = "other",
       .overflow_name = "",
       .overflow_help = ""});
  for (int i = 0; i < n; ++i) {
    const std::string src = absl::StrCat("10.77.", i / 256, ".", i % 256);
    const std::vector<absl::string_view> labels = {src, "10.77.0.1", "http",
                                                   "tcp"};
    const std::vector<uint64_t> values = {1500, 1, 1448};
    counters.Add(labels, values);
  }
  for (auto _ : state) benchmark::DoNotOptimize(counters.Collect());
}
BENCHMARK(BM_Collect)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
