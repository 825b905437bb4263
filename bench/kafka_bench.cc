// The Kafka sink's writer against librdkafka's mock cluster (in this
// process, on 127.0.0.1): what one sink thread can push through the
// producer, JSON encoding, delivery reports and per-message tracking
// included.
//
//   build/bin/kafka_bench [benchmark flags]
//
//   BM_KafkaWrite/B/P   Write() of batches of B records (each acknowledged
//                       before the next batch) to a topic of P partitions on
//                       3 brokers; records/s. CPU is the calling thread's
//                       only. With P > 1 each batch waits about 40 ms more:
//                       librdkafka sends one request per partition, and the
//                       mock broker's answers after the first on a connection
//                       wait for the client's delayed ACK (Nagle on the mock's
//                       sockets; Kafka's brokers disable it).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "flows/flow_record.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/kafka_cluster.h"

namespace {

void BM_KafkaWrite(benchmark::State& state) {
  const auto batch = static_cast<uint32_t>(state.range(0));
  testutil::KafkaCluster cluster(3, "flows", static_cast<int>(state.range(1)));
  absl::StatusOr<sinks::SinkUrl> url = sinks::ParseSinkUrl(
      absl::StrCat("kafka://", cluster.bootstraps(), "/flows"));
  if (!url.ok()) {
    state.SkipWithError(std::string(url.status().message()).c_str());
    return;
  }
  absl::StatusOr<std::unique_ptr<sinks::SinkWriter>> writer =
      sinks::MakeWriter(*url);
  if (!writer.ok() || !(*writer)->Connect().ok()) {
    state.SkipWithError("no writer");
    return;
  }
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(0, batch);
  for (auto _ : state) {
    const sinks::SinkWriter::WriteResult result = (*writer)->Write(records);
    if (result.written != records.size()) {
      state.SkipWithError(std::string(result.status.message()).c_str());
      break;
    }
  }
  (*writer)->Close(absl::Now() + absl::Seconds(5));
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_KafkaWrite)
    ->ArgsProduct({{100, 1000, 5000}, {1, 8}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
