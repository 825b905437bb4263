// The postgres:// sink's throughput into a real PostgreSQL 15 that the
// benchmark starts itself (tests/testutil/postgres_server.h: a private
// server on 127.0.0.1, fsync on as in production).
//
//   build/bin/postgres_sink_bench [benchmark flags]   (as root or not)
//
//   BM_PostgresWrite/B    Write() of batches of B new records (COPY into
//                         the table, COMMIT): records/s as
//                         items_per_second, in wall time (the server works
//                         in another process); server_us_per_record: the
//                         CPU its backend spent per record
//   BM_PostgresRetry/B    the same batch written again and again: every
//                         COPY fails on the unique key, the batch goes
//                         through the staging table (COPY, INSERT ... ON
//                         CONFLICT DO NOTHING, COMMIT)
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "flows/flow_record.h"
#include "sinks/postgres_writer.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/postgres_server.h"

namespace {

constexpr char kPassword[] = "bench-password";

// Started by main() before the benchmarks run, stopped after.
testutil::PostgresServer* server = nullptr;

// CPU seconds (user + system) process `pid` has used; 0 if unknown.
double CpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // utime 14, stime 15
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Writes batches of state.range(0) records; `fresh`: every record new to
// the table (each iteration moves every seq past any written before, in
// every run of every benchmark), else the same batch again and again.
void WriteBatches(benchmark::State& state, bool fresh) {
  static uint32_t generation = 0;
  absl::StatusOr<sinks::SinkUrl> url =
      sinks::ParseSinkUrl(server->Uri(kPassword));
  if (!url.ok()) {
    state.SkipWithError(std::string(url.status().message()).c_str());
    return;
  }
  std::unique_ptr<sinks::SinkWriter> writer = sinks::NewPostgresWriter(*url);
  if (absl::Status s = writer->Connect(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return;
  }
  absl::StatusOr<std::vector<std::vector<std::string>>> backend = server->Query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = "
      "'tcp-info' ORDER BY backend_start DESC LIMIT 1");
  const std::string pid =
      backend.ok() && backend->size() == 1 ? (*backend)[0][0] : "0";
  const uint32_t batch = static_cast<uint32_t>(state.range(0));
  std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(fresh ? 0 : 1u << 30, batch);
  const double cpu_before = CpuSeconds(pid);
  for (auto _ : state) {
    if (fresh) {
      ++generation;
      for (flows::FlowRecord& r : records) r.seq = r.seq % 4 + 4 * generation;
    }
    const sinks::SinkWriter::WriteResult result = writer->Write(records);
    if (!result.status.ok()) {
      state.SkipWithError(std::string(result.status.message()).c_str());
      break;
    }
  }
  const double records_written =
      static_cast<double>(state.iterations()) * batch;
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["server_us_per_record"] =
      (CpuSeconds(pid) - cpu_before) * 1e6 / std::max(records_written, 1.0);
}

void BM_PostgresWrite(benchmark::State& state) { WriteBatches(state, true); }
BENCHMARK(BM_PostgresWrite)->Arg(100)->Arg(1000)->Arg(5000)->UseRealTime();

void BM_PostgresRetry(benchmark::State& state) { WriteBatches(state, false); }
BENCHMARK(BM_PostgresRetry)->Arg(1000)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  absl::StatusOr<std::unique_ptr<testutil::PostgresServer>> started =
      testutil::PostgresServer::Start(kPassword, /*durable=*/true);
  if (!started.ok()) {
    std::fprintf(stderr, "postgres_sink_bench: %s\n",
                 std::string(started.status().message()).c_str());
    return 1;
  }
  server = started->get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;  // *started stops the server and removes its directory
}
