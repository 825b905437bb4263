// Sink throughput: flow records per second into a real SQLite database and
// a real JSONL file in $TMPDIR (default /tmp), each benchmark on a fresh
// file.
//
//   build/bin/sinks_bench [benchmark flags]
//
//   BM_SqliteWrite/B   SqliteWriter::Write in batches of B records (one
//                      transaction each), the sink thread's own cost
//   BM_JsonlWrite/B    JsonlWriter::Write in batches of B records
//   BM_SqliteRunner    the whole path: SinkRunner::Offer of 100,000 records
//                      (as the polling thread does) until Stop() has
//                      written them all (default batches of 1000)
//   BM_JsonlRunner     the same into a JSONL file
//
// records_per_second is the figure; the README quotes it.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "sinks/sink_runner.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"

namespace {

// A fresh directory under $TMPDIR, removed when done.
class BenchDir {
 public:
  BenchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                          "/sinks_bench_XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// 100,000 distinct records (unique (uuid, seq)), made once.
const std::vector<flows::FlowRecord>& Records() {
  static const auto* records =
      new std::vector<flows::FlowRecord>(testutil::MakeFlowRecords(0, 100000));
  return *records;
}

std::unique_ptr<sinks::SinkWriter> Writer(const std::string& url_text,
                                          benchmark::State& state) {
  absl::StatusOr<sinks::SinkUrl> url = sinks::ParseSinkUrl(url_text);
  if (!url.ok()) {
    state.SkipWithError(std::string(url.status().message()).c_str());
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<sinks::SinkWriter>> w =
      sinks::MakeWriter(*url);
  if (!w.ok()) {
    state.SkipWithError(std::string(w.status().message()).c_str());
    return nullptr;
  }
  return *std::move(w);
}

void WriteBatches(benchmark::State& state, const std::string& scheme,
                  const std::string& file) {
  BenchDir dir;
  std::unique_ptr<sinks::SinkWriter> w =
      Writer(scheme + ":" + dir.path() + "/" + file, state);
  if (w == nullptr) return;
  if (!w->Connect().ok()) return state.SkipWithError("connect");
  const auto& records = Records();
  const size_t batch = static_cast<size_t>(state.range(0));
  size_t next = 0, written = 0;
  for (auto _ : state) {
    // Each pass writes records not written yet: after the 100,000 the
    // table starts over on a new file, so every insert is a new row.
    if (next + batch > records.size()) {
      state.PauseTiming();
      w->Close(absl::Now());
      std::filesystem::remove(dir.path() + "/" + file);
      if (!w->Connect().ok()) return state.SkipWithError("connect");
      next = 0;
      state.ResumeTiming();
    }
    sinks::SinkWriter::WriteResult r =
        w->Write(absl::MakeConstSpan(records).subspan(next, batch));
    if (!r.status.ok()) return state.SkipWithError("write");
    next += batch;
    written += r.written;
  }
  w->Close(absl::Now());
  state.counters["records_per_second"] = benchmark::Counter(
      static_cast<double>(written), benchmark::Counter::kIsRate);
}

void BM_SqliteWrite(benchmark::State& state) {
  WriteBatches(state, "sqlite", "flows.db");
}
BENCHMARK(BM_SqliteWrite)->Arg(100)->Arg(1000)->Arg(5000)->UseRealTime();

void BM_JsonlWrite(benchmark::State& state) {
  WriteBatches(state, "jsonl", "flows.jsonl");
}
BENCHMARK(BM_JsonlWrite)->Arg(100)->Arg(1000)->UseRealTime();

void RunnerPath(benchmark::State& state, const std::string& scheme,
                const std::string& file) {
  const auto& records = Records();
  size_t written = 0;
  for (auto _ : state) {
    state.PauseTiming();
    BenchDir dir;
    std::unique_ptr<sinks::SinkWriter> w =
        Writer(scheme + ":" + dir.path() + "/" + file, state);
    if (w == nullptr) return;
    sinks::SinkOptions options;
    options.queue_records = records.size();
    sinks::SinkRunner runner("bench", std::move(w), options);
    std::vector<flows::FlowRecord> copies = records;
    state.ResumeTiming();
    runner.Start();
    for (flows::FlowRecord& r : copies) runner.Offer(std::move(r));
    runner.Stop(absl::Now() + absl::Seconds(60));
    state.PauseTiming();
    if (runner.stats().sent != records.size()) {
      return state.SkipWithError("records dropped");
    }
    written += runner.stats().sent;
    state.ResumeTiming();
  }
  state.counters["records_per_second"] = benchmark::Counter(
      static_cast<double>(written), benchmark::Counter::kIsRate);
}

void BM_SqliteRunner(benchmark::State& state) {
  RunnerPath(state, "sqlite", "flows.db");
}
BENCHMARK(BM_SqliteRunner)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_JsonlRunner(benchmark::State& state) {
  RunnerPath(state, "jsonl", "flows.jsonl");
}
BENCHMARK(BM_JsonlRunner)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
