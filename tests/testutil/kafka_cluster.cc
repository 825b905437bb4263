#include "tests/testutil/kafka_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <tuple>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace testutil {

namespace {

void DiscardLog(const rd_kafka_t*, int, const char*, const char*) {}

// A configuration with `properties` (name, value pairs) set; fails the test
// on a bad one.
rd_kafka_conf_t* Conf(
    std::initializer_list<std::pair<const char*, std::string>> properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, DiscardLog);
  for (const auto& [name, value] : properties) {
    char errstr[512];
    EXPECT_EQ(
        rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr),
        RD_KAFKA_CONF_OK)
        << name << ": " << errstr;
  }
  return conf;
}

}  // namespace

KafkaCluster::KafkaCluster(int brokers, const std::string& topic,
                           int partitions)
    : topic_(topic), partitions_(partitions) {
  char errstr[512];
  host_ = rd_kafka_new(RD_KAFKA_PRODUCER, Conf({}), errstr, sizeof errstr);
  EXPECT_NE(host_, nullptr) << errstr;
  if (host_ == nullptr) return;
  cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
  EXPECT_NE(cluster_, nullptr);
  if (cluster_ == nullptr) return;
  EXPECT_EQ(
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, brokers),
      RD_KAFKA_RESP_ERR_NO_ERROR);
}

KafkaCluster::~KafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

std::string KafkaCluster::bootstraps() const {
  return cluster_ == nullptr ? "" : rd_kafka_mock_cluster_bootstraps(cluster_);
}

void KafkaCluster::SetDown(int broker) {
  EXPECT_EQ(rd_kafka_mock_broker_set_down(cluster_, broker),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

void KafkaCluster::SetUp(int broker) {
  EXPECT_EQ(rd_kafka_mock_broker_set_up(cluster_, broker),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

void KafkaCluster::SetLeader(int partition, int broker) {
  EXPECT_EQ(rd_kafka_mock_partition_set_leader(cluster_, topic_.c_str(),
                                               partition, broker),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

void KafkaCluster::SetRtt(absl::Duration rtt) {
  EXPECT_EQ(rd_kafka_mock_broker_set_rtt(
                cluster_, -1, static_cast<int>(absl::ToInt64Milliseconds(rtt))),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

std::vector<KafkaCluster::Message> KafkaCluster::ReadAll(
    absl::Duration timeout) {
  std::vector<Message> messages;
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER,
                                Conf({{"bootstrap.servers", bootstraps()},
                                      {"group.id", "tcpinfo-test-reader"},
                                      {"enable.auto.commit", "false"}}),
                                errstr, sizeof errstr);
  EXPECT_NE(rk, nullptr) << errstr;
  if (rk == nullptr) return messages;
  rd_kafka_poll_set_consumer(rk);
  const absl::Time deadline = absl::Now() + timeout;
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  int64_t expected = 0;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(partitions_);
  for (int32_t p = 0; p < partitions_; ++p) {
    int64_t low = 0, high = 0;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(rk, topic_.c_str(), p, &low,
                                               &high, timeout_ms),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    expected += high - low;
    EXPECT_EQ(low, 0) << "partition " << p
                      << " dropped its oldest messages (a mock partition "
                         "keeps its last 5 MiB)";
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  EXPECT_EQ(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  while (static_cast<int64_t>(messages.size()) < expected &&
         absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      messages.push_back(
          {m->partition, m->offset,
           std::string(static_cast<const char*>(m->key), m->key_len),
           std::string(static_cast<const char*>(m->payload), m->len)});
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_EQ(static_cast<int64_t>(messages.size()), expected)
      << "messages read back before the timeout";
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::sort(messages.begin(), messages.end(),
            [](const Message& a, const Message& b) {
              return std::tie(a.partition, a.offset) <
                     std::tie(b.partition, b.offset);
            });
  return messages;
}

}  // namespace testutil
