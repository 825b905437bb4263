// Change detection and the connection cache, the per-socket work of every
// polling cycle.
//
//   build/bin/cache_bench [benchmark flags]
//
//   BM_CompareUnchanged   parse::Compare of two equal snapshots (the common
//                         case: the socket did not change)
//   BM_CompareChanged     the same with a counter changed
//   BM_ObserveUnchanged/N Cache::Observe over N connections that did not
//                         change (lookup + compare), cycling through them
//   BM_ObserveChanged/N   every Observe a change (lookup + compare + copy)
//   BM_CycleUnchanged/N   a whole cycle: Observe N unchanged connections in
//                         dump order, then EndCycle (nothing closed)
//   BM_MemoryPerConnection/N  heap (live) and resident bytes per connection
//                         of a Cache holding N 6.18-sized snapshots

#include <cstdio>
#include <string>
#include <vector>

#include "bench/memory.h"
#include "bench/mlab_records.h"
#include "benchmark/benchmark.h"
#include "cache/cache.h"
#include "cache/packed_record.h"
#include "parse/change.h"
#include "tcp/tcp_info.h"

namespace {

using parse::ArchivalRecord;

// N connections, each with two distinct real snapshots of the same size.
// Like the messages of a dump, each set lies in one contiguous buffer, in
// connection order.
struct Connections {
  std::string a_bytes, b_bytes;
  std::vector<parse::RecordView> a_views, b_views;

  explicit Connections(int n) {
    const auto& records = bench::LongConnection();
    std::vector<size_t> a_at, b_at;
    for (int i = 0; i < n; ++i) {
      a_at.push_back(Append(
          bench::AsConnection(records[100 + i % 300], 1000 + i), &a_bytes));
      b_at.push_back(Append(
          bench::AsConnection(records[101 + i % 300], 1000 + i), &b_bytes));
    }
    for (int i = 0; i < n; ++i) {
      a_views.push_back(View(a_bytes, a_at, i));
      b_views.push_back(View(b_bytes, b_at, i));
    }
  }

 private:
  static size_t Append(const ArchivalRecord& r, std::string* bytes) {
    const size_t at = bytes->size();
    bytes->resize(at + cache::PackedSize(r.View()));
    cache::Pack(r.View(), bytes->data() + at);
    return at;
  }
  static parse::RecordView View(const std::string& bytes,
                                const std::vector<size_t>& at, size_t i) {
    const size_t end = i + 1 < at.size() ? at[i + 1] : bytes.size();
    return cache::Unpack(absl::string_view(bytes).substr(at[i], end - at[i]));
  }
};

void BM_CompareUnchanged(benchmark::State& state) {
  const ArchivalRecord x = bench::AsConnection(bench::LongConnection()[100], 1);
  const ArchivalRecord y =  // separate buffers, equal bytes
      bench::AsConnection(bench::LongConnection()[100], 1);
  const parse::RecordView vx = x.View(), vy = y.View();
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse::Compare(vx, vy));
  }
}
BENCHMARK(BM_CompareUnchanged);

void BM_CompareChanged(benchmark::State& state) {
  const ArchivalRecord x = bench::AsConnection(bench::LongConnection()[100], 1);
  ArchivalRecord y = x;
  (*y.attributes[inetdiag::kInfo])[offsetof(tcp::TcpInfo, busy_time) - 1] ^= 1;
  const parse::RecordView vx = x.View(), vy = y.View();
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse::Compare(vx, vy));
  }
}
BENCHMARK(BM_CompareChanged);

void BM_Unpack(benchmark::State& state) {
  const ArchivalRecord x = bench::AsConnection(bench::LongConnection()[100], 1);
  std::string packed(cache::PackedSize(x.View()), '\0');
  cache::Pack(x.View(), packed.data());
  for (auto _ : state) {
    parse::RecordView v = cache::Unpack(packed);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_Unpack);

void BM_ObserveUnchanged(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Connections conns(n);
  cache::Cache cache;
  for (const auto& v : conns.a_views) cache.Observe(v);
  int i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Observe(conns.a_views[i]));
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObserveUnchanged)->Arg(1000)->Arg(15000)->Arg(50000);

void BM_ObserveChanged(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Connections conns(n);
  cache::Cache cache;
  for (const auto& v : conns.a_views) cache.Observe(v);
  int i = 0;
  bool odd = true;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        cache.Observe(odd ? conns.b_views[i] : conns.a_views[i]));
    if (++i == n) i = 0, odd = !odd;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ObserveChanged)->Arg(1000)->Arg(15000);

void BM_CycleUnchanged(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Connections conns(n);
  cache::Cache cache;
  for (auto _ : state) {
    for (const auto& v : conns.a_views) cache.Observe(v);
    benchmark::DoNotOptimize(cache.EndCycle([](uint64_t) {}));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CycleUnchanged)->Arg(15000)->Unit(benchmark::kMicrosecond);

// The same, prefetching the next connection's slot as a collector can.
void BM_CycleUnchangedPrefetch(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Connections conns(n);
  cache::Cache cache;
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      if (i + 1 < n) cache.Prefetch(conns.a_views[i + 1].Cookie());
      cache.Observe(conns.a_views[i]);
    }
    benchmark::DoNotOptimize(cache.EndCycle([](uint64_t) {}));
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CycleUnchangedPrefetch)->Arg(15000)->Unit(benchmark::kMicrosecond);

void BM_MemoryPerConnection(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const Connections conns(n);
  double rss = 0, heap = 0;
  for (auto _ : state) {
    const long rss_before = bench::ResidentBytes();
    const size_t heap_before = bench::HeapBytes();
    auto cache = std::make_unique<cache::Cache>();
    for (const auto& v : conns.a_views) cache->Observe(v);
    rss = static_cast<double>(bench::ResidentBytes() - rss_before) / n;
    heap = (static_cast<double>(bench::HeapBytes()) - heap_before) / n;
    benchmark::DoNotOptimize(cache->size());
  }
  state.counters["rss_bytes_per_conn"] = rss;
  state.counters["heap_bytes_per_conn"] = heap;
}
BENCHMARK(BM_MemoryPerConnection)->Arg(15000)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
