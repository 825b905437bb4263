// The flows layer's per-snapshot and per-cycle work (flows::FlowTracker),
// on real M-Lab snapshots.
//
//   build/bin/flows_bench [benchmark flags]
//
//   BM_OnSnapshot/N        OnSnapshot of a changed snapshot, cycling through
//                          N open flows (lookup, tcp_info read, counters)
//   BM_OnCycleNoneDue/N    OnCycle with N open flows, none due
//   BM_InterimRecords/N    OnCycle with N open flows all due, most of them
//                          moved: an interim record each (handed to a
//                          consumer that drops it); per record
//   BM_MemoryPerFlow/N     heap bytes per open flow of a tracker holding N

#include <chrono>
#include <memory>
#include <vector>

#include "bench/memory.h"
#include "bench/mlab_records.h"
#include "benchmark/benchmark.h"
#include "collector/observer.h"
#include "flows/flow_tracker.h"

namespace {

class DroppingConsumer : public flows::RecordConsumer {
 public:
  void Consume(flows::FlowRecord record) override {
    benchmark::DoNotOptimize(record.seq);
    ++records;
  }
  int64_t records = 0;
};

// N connections, each with two distinct real snapshots.
using Snapshots = bench::SnapshotPairs;

flows::FlowTrackerOptions Options() {
  flows::FlowTrackerOptions o;
  o.uuid_prefix = "host_1795310322_unsafe";
  o.active_timeout = absl::Seconds(10);
  o.watch_listeners = false;
  return o;
}

collector::CycleStats CycleAt(std::chrono::nanoseconds t) {
  collector::CycleStats s;
  s.monotonic_start = std::chrono::steady_clock::time_point(t);
  return s;
}

// A tracker with the N flows of `s` open, after one cycle at time 0.
std::unique_ptr<flows::FlowTracker> Opened(const Snapshots& s,
                                           DroppingConsumer* consumer) {
  auto t = std::make_unique<flows::FlowTracker>(Options(), consumer);
  for (size_t i = 0; i < s.a_views.size(); ++i) {
    const uint64_t cookie = 1000 + i;
    t->OnFlowOpen(cookie, {}, s.a_views[i]);
    t->OnSnapshot(cookie, {}, s.a_views[i], parse::Change::kNew);
  }
  t->OnCycle(CycleAt(std::chrono::nanoseconds(0)));
  return t;
}

void BM_OnSnapshot(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Snapshots s(n);
  DroppingConsumer consumer;
  auto tracker = Opened(s, &consumer);
  int i = 0;
  bool flip = false;
  for (auto _ : state) {
    const auto& views = flip ? s.a_views : s.b_views;
    tracker->OnSnapshot(1000 + i, {}, views[i], parse::Change::kCounterChange);
    if (++i == n) i = 0, flip = !flip;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OnSnapshot)->Arg(1000)->Arg(10000)->Arg(50000);

void BM_OnCycleNoneDue(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Snapshots s(n);
  DroppingConsumer consumer;
  auto tracker = Opened(s, &consumer);
  const collector::CycleStats later = CycleAt(std::chrono::milliseconds(10));
  for (auto _ : state) tracker->OnCycle(later);
  if (consumer.records != 0) state.SkipWithError("a record was made");
}
BENCHMARK(BM_OnCycleNoneDue)->Arg(10000);

void BM_InterimRecords(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Snapshots s(n);
  DroppingConsumer consumer;
  auto tracker = Opened(s, &consumer);
  std::chrono::nanoseconds now(0);
  bool flip = false;
  for (auto _ : state) {
    state.PauseTiming();
    flip = !flip;
    const auto& views = flip ? s.b_views : s.a_views;
    for (int i = 0; i < n; ++i) {
      tracker->OnSnapshot(1000 + i, {}, views[i],
                          parse::Change::kCounterChange);
    }
    now += std::chrono::seconds(10);
    state.ResumeTiming();
    tracker->OnCycle(CycleAt(now));
  }
  // A pair of real snapshots may differ in fields other than the counters:
  // such flows are idle, and make no record.
  if (consumer.records < state.iterations() * n / 2) {
    state.SkipWithError("most flows made no record");
  }
  state.SetItemsProcessed(consumer.records);
  state.counters["records_per_cycle"] =
      static_cast<double>(consumer.records) / state.iterations();
}
BENCHMARK(BM_InterimRecords)->Arg(10000);

void BM_MemoryPerFlow(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Snapshots s(n);
  double heap = 0;
  for (auto _ : state) {
    DroppingConsumer consumer;
    const size_t before = bench::HeapBytes();
    auto tracker = Opened(s, &consumer);
    heap = static_cast<double>(bench::HeapBytes() - before) / n;
    benchmark::DoNotOptimize(tracker->open_flows());
  }
  state.counters["heap_bytes_per_flow"] = heap;
}
BENCHMARK(BM_MemoryPerFlow)->Arg(10000)->Arg(50000)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
