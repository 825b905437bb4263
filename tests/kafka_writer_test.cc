#include "sinks/kafka_writer.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "flows/flow_record.h"
#include "flows/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/writers.h"
#include "tests/testutil/kafka_cluster.h"

namespace sinks {
namespace {

using ::testing::HasSubstr;

constexpr char kTopic[] = "flows";

SinkUrl KafkaUrl(const std::string& hosts,
                 std::vector<std::pair<std::string, std::string>> params = {}) {
  SinkUrl url;
  url.scheme = "kafka";
  url.hosts = hosts;
  url.topic = kTopic;
  url.params = std::move(params);
  url.redacted = absl::StrCat("kafka://", hosts, "/", kTopic);
  return url;
}

flows::FlowRecord Record(int flow, uint32_t seq) {
  flows::FlowRecord r;
  r.uuid = absl::StrFormat("host_1795310322_unsafe_%016X", 0x1000 + flow);
  r.cookie = 0x1000 + flow;
  r.seq = seq;
  r.local = *collector::ParseIpAddress("10.77.0.2");
  r.remote = *collector::ParseIpAddress("10.77.0.1");
  r.local_port = 40000 + flow;
  r.remote_port = 17000;
  r.congestion_algorithm = "cubic";
  r.start_time = {1795310322, 0, 0};
  r.end_time = {1795310322 + static_cast<int64_t>(seq), 1000, 0};
  r.total.bytes_acked = 1000 * (seq + 1);
  r.delta.bytes_acked = 1000;
  return r;
}

std::string Json(const flows::FlowRecord& record) {
  std::string text;
  flows::AppendRecordJson(record, &text);
  return text;
}

TEST(KafkaWriter, SendsEachRecordAsItsJsonKeyedByUuidInOrderPerFlow) {
  testutil::KafkaCluster cluster(3, kTopic, 4);
  std::unique_ptr<SinkWriter> writer =
      NewKafkaWriter(KafkaUrl(cluster.bootstraps()));
  ASSERT_TRUE(writer->Connect().ok());
  std::vector<flows::FlowRecord> records;
  for (uint32_t seq = 0; seq < 5; ++seq) {
    for (int flow = 0; flow < 8; ++flow) records.push_back(Record(flow, seq));
  }
  const SinkWriter::WriteResult result = writer->Write(records);
  EXPECT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());
  writer->Close(absl::Now() + absl::Seconds(5));

  const std::vector<testutil::KafkaCluster::Message> messages =
      cluster.ReadAll();
  ASSERT_EQ(messages.size(), records.size());
  std::map<std::string, std::string> json_by_id;  // "uuid/seq" -> JSON
  for (const flows::FlowRecord& r : records) {
    json_by_id[absl::StrCat(r.uuid, "/", r.seq)] = Json(r);
  }
  std::map<std::string, std::vector<uint32_t>> seqs_by_key;
  std::map<std::string, std::set<int32_t>> partitions_by_key;
  std::set<int32_t> partitions;
  for (const auto& m : messages) {  // partition, then offset order
    // The key is the uuid, and the value the record's JSON exactly.
    bool found = false;
    for (uint32_t seq = 0; seq < 5 && !found; ++seq) {
      auto it = json_by_id.find(absl::StrCat(m.key, "/", seq));
      if (it != json_by_id.end() && it->second == m.value) {
        found = true;
        seqs_by_key[m.key].push_back(seq);
        json_by_id.erase(it);
      }
    }
    EXPECT_TRUE(found) << "key " << m.key << " value " << m.value;
    partitions_by_key[m.key].insert(m.partition);
    partitions.insert(m.partition);
  }
  EXPECT_TRUE(json_by_id.empty());
  ASSERT_EQ(seqs_by_key.size(), 8u);
  for (const auto& [key, seqs] : seqs_by_key) {
    EXPECT_THAT(seqs, ::testing::ElementsAre(0, 1, 2, 3, 4)) << key;
    EXPECT_EQ(partitions_by_key[key].size(), 1u) << key;
  }
  EXPECT_GT(partitions.size(), 1u) << "8 keys hashed to one partition";
}

TEST(KafkaWriter, RetriesWhatTheBrokerLostWithoutDuplicatingWhatItGot) {
  testutil::KafkaCluster cluster(1, kTopic, 2);
  std::unique_ptr<SinkWriter> writer = NewKafkaWriter(
      KafkaUrl(cluster.bootstraps(), {{"message.timeout.ms", "1000"}}));
  ASSERT_TRUE(writer->Connect().ok());
  std::vector<flows::FlowRecord> records;
  for (int flow = 0; flow < 20; ++flow) records.push_back(Record(flow, 0));
  const absl::Span<const flows::FlowRecord> all(records);
  ASSERT_EQ(writer->Write(all.subspan(0, 10)).written, 10u);

  cluster.SetDown();
  const SinkWriter::WriteResult down = writer->Write(all.subspan(10));
  EXPECT_EQ(down.written, 0u);
  EXPECT_THAT(down.status.message(), HasSubstr("Message timed out"));
  cluster.SetUp();

  // As the runner does: reconnect, then retry what was not written.
  size_t written = 10;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (written < records.size() && absl::Now() < deadline) {
    ASSERT_TRUE(writer->Connect().ok());
    const SinkWriter::WriteResult retry = writer->Write(all.subspan(written));
    written += retry.written;
  }
  EXPECT_EQ(written, records.size());
  writer->Close(absl::Now() + absl::Seconds(5));

  std::multiset<std::string> values;
  for (const auto& m : cluster.ReadAll()) values.insert(m.value);
  std::multiset<std::string> expected;
  for (const flows::FlowRecord& r : records) expected.insert(Json(r));
  EXPECT_EQ(values, expected);
}

TEST(KafkaWriter, BadPropertyIsAClearErrorAtCheckAndConnect) {
  const SinkUrl bad_value = KafkaUrl("127.0.0.1:1", {{"acks", "most"}});
  const absl::Status status = CheckKafkaUrl(bad_value);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("-sink=kafka://127.0.0.1:1/flows: kafka property "
                        "\"acks\" = \"most\": "));
  EXPECT_EQ(NewKafkaWriter(bad_value)->Connect(), status);

  const absl::Status unknown =
      CheckKafkaUrl(KafkaUrl("127.0.0.1:1", {{"no.such.property", "1"}}));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr("\"no.such.property\""));

  // Each value is valid alone; idempotence needs acks=all.
  const absl::Status combination =
      CheckKafkaUrl(KafkaUrl("127.0.0.1:1", {{"acks", "1"}}));
  EXPECT_EQ(combination.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(combination.message(), HasSubstr("kafka producer: "));
  EXPECT_THAT(combination.message(), HasSubstr("acks"));

  EXPECT_TRUE(
      CheckKafkaUrl(KafkaUrl("127.0.0.1:1", {{"linger.ms", "20"},
                                             {"compression.codec", "lz4"}}))
          .ok());
}

}  // namespace
}  // namespace sinks
