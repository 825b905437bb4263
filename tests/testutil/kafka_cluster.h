// KafkaCluster: librdkafka's mock cluster (brokers on 127.0.0.1, in this
// process) with one topic, and a consumer that reads the topic back, for the
// Kafka sink's tests and benchmark.
//
// Thread contract: one thread at a time; the brokers run on librdkafka's own
// threads.
#ifndef TCPINFO_TESTS_TESTUTIL_KAFKA_CLUSTER_H_
#define TCPINFO_TESTS_TESTUTIL_KAFKA_CLUSTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace testutil {

class KafkaCluster {
 public:
  struct Message {
    int32_t partition = 0;
    int64_t offset = 0;
    std::string key;
    std::string value;
  };

  // `brokers` brokers (ids 1..brokers); `topic` with `partitions`
  // partitions, replicated on every broker. Fails the test if it cannot.
  KafkaCluster(int brokers, const std::string& topic, int partitions);
  ~KafkaCluster();
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  // "127.0.0.1:PORT,..." for bootstrap.servers.
  std::string bootstraps() const;

  // Broker `broker` (-1: every broker) disconnects its clients and refuses
  // new ones / accepts them again.
  void SetDown(int broker = -1);
  void SetUp(int broker = -1);

  // Makes broker `broker` the leader of `partition`.
  void SetLeader(int partition, int broker);

  // Every broker delays its responses by `rtt` (0 for none).
  void SetRtt(absl::Duration rtt);

  // Every message now in the topic (from each partition's high watermark),
  // in partition then offset order; fails the test if they cannot all be
  // read within `timeout`, or if a partition dropped its oldest messages (a
  // mock partition keeps its last 5 MiB).
  std::vector<Message> ReadAll(absl::Duration timeout = absl::Seconds(20));

 private:
  std::string topic_;
  int partitions_;
  rd_kafka_s* host_ = nullptr;  // the mock cluster's librdkafka handle
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_KAFKA_CLUSTER_H_
