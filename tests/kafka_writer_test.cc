#include "sinks/kafka_writer.h"

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "flows/flow_record.h"
#include "flows/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/sink_runner.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/kafka_cluster.h"

namespace sinks {
namespace {

using ::testing::HasSubstr;

constexpr char kTopic[] = "flows";

// The writer of "kafka://<cluster>/flows?<query>", made as the daemon makes
// it (ParseSinkUrl, MakeWriter).
std::unique_ptr<SinkWriter> Writer(const testutil::KafkaCluster& cluster,
                                   const std::string& query = "") {
  absl::StatusOr<SinkUrl> url =
      ParseSinkUrl(absl::StrCat("kafka://", cluster.bootstraps(), "/", kTopic,
                                query.empty() ? "" : "?", query));
  EXPECT_TRUE(url.ok()) << url.status();
  if (!url.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<SinkWriter>> writer = MakeWriter(*url);
  EXPECT_TRUE(writer.ok()) << writer.status();
  return writer.ok() ? std::move(*writer) : nullptr;
}

std::string Json(const flows::FlowRecord& record) {
  std::string text;
  flows::AppendRecordJson(record, &text);
  return text;
}

// The JSON of each record, as a multiset to compare with what was read.
std::multiset<std::string> JsonOf(
    const std::vector<flows::FlowRecord>& records) {
  std::multiset<std::string> out;
  for (const flows::FlowRecord& r : records) out.insert(Json(r));
  return out;
}

std::multiset<std::string> ValuesOf(
    const std::vector<testutil::KafkaCluster::Message>& messages) {
  std::multiset<std::string> out;
  for (const auto& m : messages) out.insert(m.value);
  return out;
}

// As the runner does after a failed Write: reconnect, then retry what was
// not written (from `written` on), for up to 20 s; then closes the writer.
void FinishAsTheRunnerDoes(SinkWriter* writer,
                           absl::Span<const flows::FlowRecord> records,
                           size_t written) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (written < records.size() && absl::Now() < deadline) {
    ASSERT_TRUE(writer->Connect().ok());
    written += writer->Write(records.subspan(written)).written;
  }
  EXPECT_EQ(written, records.size());
  writer->Close(absl::Now() + absl::Seconds(5));
}

TEST(KafkaWriter, SendsEachRecordAsItsJsonKeyedByUuidInOrderPerFlow) {
  testutil::KafkaCluster cluster(3, kTopic, 4);
  std::unique_ptr<SinkWriter> writer = Writer(cluster);
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Connect().ok());
  // 8 flows of 4 records each (MakeFlowRecord(n): flow n / 4, seq n % 4),
  // interleaved: every flow's seq 0, then every flow's seq 1...
  std::vector<flows::FlowRecord> records;
  for (uint32_t seq = 0; seq < 4; ++seq) {
    for (uint32_t flow = 0; flow < 8; ++flow) {
      records.push_back(testutil::MakeFlowRecord(flow * 4 + seq));
    }
  }
  const SinkWriter::WriteResult result = writer->Write(records);
  EXPECT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());
  writer->Close(absl::Now() + absl::Seconds(5));

  const std::vector<testutil::KafkaCluster::Message> messages =
      cluster.ReadAll();
  ASSERT_EQ(messages.size(), records.size());
  std::map<std::string, const flows::FlowRecord*> by_json;
  for (const flows::FlowRecord& r : records) by_json[Json(r)] = &r;
  std::map<std::string, std::vector<uint32_t>> seqs_by_key;
  std::map<std::string, std::set<int32_t>> partitions_by_key;
  std::set<int32_t> partitions;
  for (const auto& m : messages) {    // partition, then offset order
    auto it = by_json.find(m.value);  // the value is a record's JSON exactly
    ASSERT_NE(it, by_json.end()) << m.value;
    EXPECT_EQ(m.key, it->second->uuid);
    seqs_by_key[m.key].push_back(it->second->seq);
    partitions_by_key[m.key].insert(m.partition);
    partitions.insert(m.partition);
  }
  ASSERT_EQ(seqs_by_key.size(), 8u);
  for (const auto& [key, seqs] : seqs_by_key) {
    EXPECT_THAT(seqs, ::testing::ElementsAre(0, 1, 2, 3)) << key;
    EXPECT_EQ(partitions_by_key[key].size(), 1u) << key;
  }
  EXPECT_GT(partitions.size(), 1u) << "8 keys hashed to one partition";
  EXPECT_EQ(ValuesOf(messages), JsonOf(records));
}

TEST(KafkaWriter, RetriesWhatTheBrokerLostWithoutDuplicatingWhatItGot) {
  testutil::KafkaCluster cluster(1, kTopic, 2);
  std::unique_ptr<SinkWriter> writer =
      Writer(cluster, "message.timeout.ms=1000");
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Connect().ok());
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(0, 20);
  const absl::Span<const flows::FlowRecord> all(records);
  ASSERT_EQ(writer->Write(all.subspan(0, 10)).written, 10u);

  cluster.SetDown();
  const SinkWriter::WriteResult down = writer->Write(all.subspan(10));
  EXPECT_EQ(down.written, 0u);
  EXPECT_EQ(down.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(down.status.message(),
              HasSubstr("0 of 10 records acknowledged in order (0 delivered, "
                        "10 failed: Local: Message timed out)"));
  cluster.SetUp();

  FinishAsTheRunnerDoes(writer.get(), all, 10);
  EXPECT_EQ(ValuesOf(cluster.ReadAll()), JsonOf(records));
}

// One broker of two down: the partitions it leads fail, the others take
// their records, also records after the first failed one. The retry must
// produce only the failed ones again.
TEST(KafkaWriter, RetryDoesNotProduceAgainWhatWasDeliveredBeyondTheGap) {
  testutil::KafkaCluster cluster(2, kTopic, 4);
  for (int p = 0; p < 4; ++p) cluster.SetLeader(p, p < 2 ? 1 : 2);
  std::unique_ptr<SinkWriter> writer =
      Writer(cluster, "message.timeout.ms=1000");
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Connect().ok());
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(0, 40);  // 10 flows
  const absl::Span<const flows::FlowRecord> all(records);
  ASSERT_EQ(writer->Write(all.subspan(0, 1)).written, 1u);  // metadata known

  cluster.SetDown(1);
  const SinkWriter::WriteResult half = writer->Write(all.subspan(1));
  EXPECT_EQ(half.status.code(), absl::StatusCode::kUnavailable);
  // Which flows hash to broker 1's partitions is fixed by their uuids.
  EXPECT_THAT(std::string(half.status.message()),
              ::testing::MatchesRegex(".* [0-9]+ of 39 records acknowledged in "
                                      "order \\([0-9]+ delivered, [0-9]+ "
                                      "failed: Local: Message timed out\\).*"));
  size_t delivered = 0;
  ASSERT_EQ(sscanf(std::string(half.status.message()).c_str(),
                   "kafka topic flows: %*u of 39 records acknowledged in order "
                   "(%zu delivered",
                   &delivered),
            1);
  EXPECT_GT(delivered, half.written) << "nothing delivered beyond the gap";
  EXPECT_LT(delivered, 39u) << "broker 1 led no record's partition";
  cluster.SetUp(1);

  FinishAsTheRunnerDoes(writer.get(), all, 1 + half.written);
  EXPECT_EQ(ValuesOf(cluster.ReadAll()), JsonOf(records));
}

TEST(KafkaWriter, EveryRecordExactlyOnceThroughABrokerOutageLongerThanTimeout) {
  testutil::KafkaCluster cluster(3, kTopic, 4);
  // librdkafka gives a message up after 1.5 s; the brokers stay down 4 s.
  std::unique_ptr<SinkWriter> writer = Writer(
      cluster, "message.timeout.ms=1500&linger.ms=5&reconnect.backoff.ms=50");
  ASSERT_NE(writer, nullptr);
  SinkOptions options;
  options.batch_records = 200;
  options.flush_interval = absl::Milliseconds(20);
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = absl::Milliseconds(500);
  SinkRunner runner("kafka-test", std::move(writer), options);
  runner.Start();

  // 10 records every 10 ms for 7 s: up 1.5 s, down 4 s, up 1.5 s. (About
  // 8 MB in all: a mock partition keeps only its last 5 MiB.)
  std::vector<flows::FlowRecord> offered;
  const absl::Time t0 = absl::Now();
  bool down = false, back = false;
  uint32_t n = 0;
  while (absl::Now() < t0 + absl::Seconds(7)) {
    const absl::Duration t = absl::Now() - t0;
    if (!down && t >= absl::Milliseconds(1500)) {
      cluster.SetDown();
      down = true;
    }
    if (!back && t >= absl::Milliseconds(5500)) {
      cluster.SetUp();
      back = true;
    }
    for (int i = 0; i < 10; ++i, ++n) {
      offered.push_back(testutil::MakeFlowRecord(n));
      EXPECT_TRUE(runner.Offer(offered.back()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  runner.Stop(absl::Now() + absl::Seconds(20));
  const SinkRunner::Stats stats = runner.stats();
  EXPECT_EQ(stats.sent, offered.size());
  EXPECT_GT(stats.failed, 0u) << "the outage failed no Write";
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);

  const std::vector<testutil::KafkaCluster::Message> messages =
      cluster.ReadAll();
  EXPECT_EQ(messages.size(), offered.size());
  std::set<std::pair<std::string, uint32_t>> ids;
  std::map<std::string, const flows::FlowRecord*> by_json;
  for (const flows::FlowRecord& r : offered) by_json[Json(r)] = &r;
  std::map<std::string, std::vector<uint32_t>> seqs_by_key;
  for (const auto& m : messages) {
    auto it = by_json.find(m.value);
    ASSERT_NE(it, by_json.end()) << m.value;
    ids.emplace(it->second->uuid, it->second->seq);
    seqs_by_key[m.key].push_back(it->second->seq);
  }
  EXPECT_EQ(ids.size(), offered.size()) << "distinct (uuid, seq) read back";
  EXPECT_EQ(ValuesOf(messages), JsonOf(offered));
  // Each flow's records in order in its partition.
  for (const auto& [key, seqs] : seqs_by_key) {
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << key;
  }
}

// The one case a record can reach the topic twice: its message timed out
// after it was sent, with the broker's answer still to come (here: answers
// delayed 3 s, requests time out after 1 s). Nothing is lost, and the
// writer's status says how many may be repeated.
TEST(KafkaWriter, SaysWhichRetriesMayRepeatAMessageTimedOutInFlight) {
  testutil::KafkaCluster cluster(1, kTopic, 1);
  std::unique_ptr<SinkWriter> writer =
      Writer(cluster, "message.timeout.ms=1500&request.timeout.ms=1000");
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Connect().ok());
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(0, 10);
  const absl::Span<const flows::FlowRecord> all(records);
  ASSERT_EQ(writer->Write(all.subspan(0, 1)).written, 1u);

  cluster.SetRtt(absl::Seconds(3));
  const SinkWriter::WriteResult slow = writer->Write(all.subspan(1));
  EXPECT_EQ(slow.written, 0u);
  EXPECT_THAT(slow.status.message(),
              HasSubstr("9 failed: Local: Message timed out, of them 9 "
                        "possibly in the topic (their retry may repeat them)"));
  cluster.SetRtt(absl::ZeroDuration());
  const SinkWriter::WriteResult retry = writer->Write(all.subspan(1));
  EXPECT_TRUE(retry.status.ok()) << retry.status;
  EXPECT_EQ(retry.written, 9u);
  writer->Close(absl::Now() + absl::Seconds(5));

  // The broker had appended the 9 on arrival: they are there twice.
  std::multiset<std::string> expected = JsonOf(records);
  for (size_t i = 1; i < records.size(); ++i) expected.insert(Json(records[i]));
  EXPECT_EQ(ValuesOf(cluster.ReadAll()), expected);
}

TEST(KafkaWriter, BadPropertyIsAClearErrorAtStartAndConnect) {
  auto url = [](const std::string& query) {
    absl::StatusOr<SinkUrl> u =
        ParseSinkUrl(absl::StrCat("kafka://127.0.0.1:1/flows?", query));
    EXPECT_TRUE(u.ok()) << u.status();
    return *u;
  };
  const absl::Status status = CheckKafkaUrl(url("acks=most"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "-sink=kafka://127.0.0.1:1/flows?acks=most: kafka property "
            "\"acks\" = \"most\": Invalid value for configuration property "
            "\"request.required.acks\"");
  EXPECT_EQ(MakeWriter(url("acks=most")).status(), status);
  EXPECT_EQ(NewKafkaWriter(url("acks=most"))->Connect(), status);

  const absl::Status unknown = CheckKafkaUrl(url("no.such.property=1"));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      unknown.message(),
      HasSubstr("No such configuration property: \"no.such.property\""));

  // Each value is valid alone; idempotence needs acks=all.
  const absl::Status combination = CheckKafkaUrl(url("acks=1"));
  EXPECT_EQ(combination.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(combination.message(), HasSubstr("kafka producer: "));
  EXPECT_THAT(combination.message(), HasSubstr("acks"));

  EXPECT_TRUE(CheckKafkaUrl(url("linger.ms=20&compression.codec=lz4")).ok());
  EXPECT_TRUE(MakeWriter(url("linger.ms=20")).ok());
}

}  // namespace
}  // namespace sinks
