// The postgres:// sink's throughput into a real PostgreSQL 15 that the
// benchmark starts itself (tests/testutil/postgres_server.h: a private
// server on 127.0.0.1, fsync on as in production).
//
//   build/bin/postgres_sink_bench [benchmark flags]   (as root or not)
//
//   BM_PostgresWrite/B    Write() of batches of B new records (COPY into
//                         the staging table, INSERT ... ON CONFLICT DO
//                         NOTHING, COMMIT): records/s as items_per_second,
//                         measured in wall time (the server's work is in
//                         other processes)
//   BM_PostgresRetry/B    the same batch written again: all conflicts
#include <cstdio>
#include <memory>
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

std::unique_ptr<sinks::SinkWriter> ConnectedWriter(benchmark::State& state) {
  absl::StatusOr<sinks::SinkUrl> url =
      sinks::ParseSinkUrl(server->Uri(kPassword));
  if (!url.ok()) {
    state.SkipWithError(std::string(url.status().message()).c_str());
    return nullptr;
  }
  std::unique_ptr<sinks::SinkWriter> writer = sinks::NewPostgresWriter(*url);
  if (absl::Status s = writer->Connect(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return nullptr;
  }
  return writer;
}

// Each iteration writes the batch with every seq moved past the last one,
// so every record is new to the table.
void BM_PostgresWrite(benchmark::State& state) {
  std::unique_ptr<sinks::SinkWriter> writer = ConnectedWriter(state);
  if (writer == nullptr) return;
  const uint32_t batch = static_cast<uint32_t>(state.range(0));
  std::vector<flows::FlowRecord> records = testutil::MakeFlowRecords(0, batch);
  for (auto _ : state) {
    for (flows::FlowRecord& r : records) r.seq += 4;
    const sinks::SinkWriter::WriteResult result = writer->Write(records);
    if (!result.status.ok()) {
      state.SkipWithError(std::string(result.status.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_PostgresWrite)->Arg(100)->Arg(1000)->Arg(5000)->UseRealTime();

void BM_PostgresRetry(benchmark::State& state) {
  std::unique_ptr<sinks::SinkWriter> writer = ConnectedWriter(state);
  if (writer == nullptr) return;
  const uint32_t batch = static_cast<uint32_t>(state.range(0));
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(1u << 30, batch);
  for (auto _ : state) {
    const sinks::SinkWriter::WriteResult result = writer->Write(records);
    if (!result.status.ok()) {
      state.SkipWithError(std::string(result.status.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
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
