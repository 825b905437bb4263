// The saver's hot pieces: JSON encoding, zstd compression of a frame, and
// the whole Write -> frame -> file path.
//
//   build/bin/saver_bench [benchmark flags]    (writes under $TMPDIR or /tmp)
//
//   BM_AppendSnapshotJson     one real snapshot to its JSON line
//   BM_CompressFrame/L/N      one frame of N lines at zstd level L
//                             (counter: compressed bytes per record)
//   BM_SaverThroughput/C      Write + Tick + Flush of C connections x 10
//                             snapshots each, one frame per connection, to
//                             real files (records/s, bytes per record; CPU
//                             is the whole process's, writer included)
//   BM_SaverWrite             Write() alone, the polling thread's cost of a
//                             changed socket
//   BM_SnapshotDelta          a pending snapshot as its delta against the
//                             first of its batch, and back (counter: delta
//                             bytes per snapshot, packed bytes)
//   BM_MemoryPerConnection/N/C  heap (live) and resident bytes per idle
//                             connection after each wrote a frame: Saver
//                             alone (C=0) or Cache + Saver (C=1)
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/memory.h"
#include "bench/mlab_records.h"
#include "benchmark/benchmark.h"
#include "cache/cache.h"
#include "cache/packed_record.h"
#include "parse/archival_record.h"
#include "saver/saver.h"
#include "saver/snapshot_delta.h"

namespace {

using parse::ArchivalRecord;

void BM_AppendSnapshotJson(benchmark::State& state) {
  const ArchivalRecord r = bench::AsConnection(bench::LongConnection()[100], 1);
  const parse::RecordView view = r.View();
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    parse::AppendSnapshotJson(r.timestamp, view, &out);
    bytes += out.size();
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendSnapshotJson);

void BM_CompressFrame(benchmark::State& state) {
  const int level = static_cast<int>(state.range(0));
  const int lines = static_cast<int>(state.range(1));
  const auto& records = bench::LongConnection();
  std::string text;
  for (int i = 0; i < lines; ++i) {
    const ArchivalRecord r = bench::AsConnection(records[200 + i], 1);
    parse::AppendSnapshotJson(r.timestamp, r.View(), &text);
  }
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string frame(ZSTD_compressBound(text.size()), '\0');
  size_t size = 0;
  for (auto _ : state) {
    size = ZSTD_compress2(cctx, frame.data(), frame.size(), text.data(),
                          text.size());
    benchmark::DoNotOptimize(size);
  }
  ZSTD_freeCCtx(cctx);
  state.SetBytesProcessed(state.iterations() * text.size());
  state.SetItemsProcessed(state.iterations() * lines);
  state.counters["bytes_per_record"] = static_cast<double>(size) / lines;
  state.counters["json_bytes_per_record"] =
      static_cast<double>(text.size()) / lines;
}
BENCHMARK(BM_CompressFrame)
    ->ArgsProduct({{1, 3}, {1, 10, 100}})
    ->Unit(benchmark::kMicrosecond);

std::string TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/saver_bench.XXXXXX");
  return mkdtemp(dir.data());
}

std::unique_ptr<saver::Saver> NewSaver(const std::string& dir) {
  saver::Options o;
  o.output_dir = dir;
  o.uuid_prefix = "bench_1795300000_unsafe";
  auto s = saver::Saver::Create(o);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(s);
}

void BM_SaverThroughput(benchmark::State& state) {
  const int conns = static_cast<int>(state.range(0));
  constexpr int kPerConnection = 10;
  const auto& records = bench::LongConnection();
  std::vector<ArchivalRecord> snapshots;
  snapshots.reserve(kPerConnection);
  for (int i = 0; i < kPerConnection; ++i) {
    snapshots.push_back(bench::AsConnection(records[300 + i], 1));
  }
  const std::string dir = TempDir();
  auto saver = NewSaver(dir);
  parse::Timestamp t = parse::Timestamp::Now();
  for (auto _ : state) {
    for (int i = 0; i < kPerConnection; ++i) {
      for (int c = 0; c < conns; ++c) {
        saver->Write(1 + c, t, snapshots[i].View());
      }
    }
    t.seconds += 1;
    saver->Tick(t);
    saver->Flush();
  }
  const saver::Stats s = saver->stats();
  state.SetItemsProcessed(state.iterations() * conns * kPerConnection);
  state.counters["bytes_per_record"] =
      static_cast<double>(s.bytes_written) / s.records_written;
  state.counters["write_errors"] = static_cast<double>(s.write_errors);
  saver.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SaverThroughput)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The polling thread's share of a changed socket: Write() packs the
// snapshot into the connection's pending buffer (the writer thread does the
// rest, flushed outside the timing).
void BM_SaverWrite(benchmark::State& state) {
  constexpr int kConnections = 1000;
  const ArchivalRecord r = bench::AsConnection(bench::LongConnection()[300], 1);
  const parse::RecordView view = r.View();
  const std::string dir = TempDir();
  auto saver = NewSaver(dir);
  parse::Timestamp t = parse::Timestamp::Now();
  int c = 0;
  for (auto _ : state) {
    saver->Write(1 + c, t, view);
    if (++c == kConnections) {
      c = 0;
      state.PauseTiming();
      t.seconds += 1;
      saver->Flush();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
  saver.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SaverWrite);

// Real consecutive snapshots of one connection, each against the first of
// its ten (what a second of a streaming connection's batch holds).
void BM_SnapshotDelta(benchmark::State& state) {
  std::vector<std::string> packed;
  for (const ArchivalRecord& r : bench::LongConnection()) {
    const parse::RecordView v = r.View();
    std::string p(cache::PackedSize(v), '\0');
    cache::Pack(v, p.data());
    packed.push_back(std::move(p));
  }
  std::string delta, rebuilt;
  size_t i = 0, deltas = 0, delta_bytes = 0;
  for (auto _ : state) {
    if (++i == packed.size()) i = 1;
    const std::string& first = packed[i - i % 10];
    delta.clear();
    if (saver::AppendDelta(first, packed[i], packed[i].size(), &delta)) {
      rebuilt = first;
      saver::ApplyDelta(delta, &rebuilt);
      ++deltas;
      delta_bytes += delta.size();
    }
    benchmark::DoNotOptimize(rebuilt.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["delta_bytes"] =
      deltas > 0 ? static_cast<double>(delta_bytes) / deltas : 0;
  state.counters["packed_bytes"] = static_cast<double>(packed[0].size());
}
BENCHMARK(BM_SnapshotDelta);

// What the daemon keeps per connection: N connections each written once by
// a Saver (and, with the second argument 1, first observed by a Cache),
// measured after the flush, with 6.18-sized snapshots.
void BM_MemoryPerConnection(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool with_cache = state.range(1) != 0;
  std::vector<ArchivalRecord> conns;
  conns.reserve(n);
  for (int i = 0; i < n; ++i) {
    conns.push_back(
        bench::AsConnection(bench::LongConnection()[300 + i % 500], 1 + i));
  }
  const std::string dir = TempDir();
  double rss = 0, heap = 0;
  for (auto _ : state) {
    auto saver = NewSaver(dir);
    saver->Write(0, parse::Timestamp::Now(), conns[0].View());
    saver->Flush();  // warm up the writer's buffers
    const long rss_before = bench::ResidentBytes();
    const size_t heap_before = bench::HeapBytes();
    cache::Cache cache;
    const parse::Timestamp t = parse::Timestamp::Now();
    for (const ArchivalRecord& r : conns) {
      const parse::RecordView view = r.View();
      if (!with_cache || cache.Observe(view) != parse::Change::kNone) {
        saver->Write(view.Cookie(), t, view);
      }
    }
    saver->Flush();
    rss = static_cast<double>(bench::ResidentBytes() - rss_before) / n;
    heap = (static_cast<double>(bench::HeapBytes()) - heap_before) / n;
  }
  state.counters["rss_bytes_per_conn"] = rss;
  state.counters["heap_bytes_per_conn"] = heap;
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_MemoryPerConnection)
    ->Args({15000, 0})
    ->Args({15000, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
