// The Kafka sink (kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?property=value...],
// sink_url.h), on librdkafka's C producer. NewKafkaWriter (writers.h) makes
// it; this header adds the start-up check and the producer's fixed settings.
//
//   messages   one JSON object per record (flows::AppendRecordJson), keyed by
//              the record's uuid: librdkafka's default partitioner hashes the
//              key, so a flow's records land, in order, in one partition.
//   producer   bootstrap.servers = the URL's hosts, then the defaults below,
//              then the URL's query as librdkafka properties (they win).
//              Idempotence is on, so librdkafka's own resends are not
//              duplicated by the broker, and ordering holds across them.
//   Write      produces the batch, then serves delivery reports until every
//              message has one or kWriteBound passes; written = the leading
//              records whose delivery the broker acknowledged. Each message
//              is tracked by (uuid, seq) across Writes: a retried record
//              already delivered, or still awaiting its report, is not
//              produced again. A message librdkafka gave up on (broker down
//              past message.timeout.ms) is produced again on the retry; if
//              it had been sent without an answer it may then be in the
//              topic twice, and the status says how many such it held.
//   Connect    creates the producer once; after that librdkafka reconnects
//              by itself, so the runner's reconnect keeps the producer (and
//              the messages it still holds). Only a fatal producer error
//              makes Connect start a new one (its tracking lost: records it
//              had delivered beyond the first gap are produced again).
//   Close      flushes until the deadline, then destroys the producer.
//
// Thread contract: as SinkWriter (the sink's own thread); CheckKafkaUrl is
// thread-safe.
#ifndef TCPINFO_SINKS_KAFKA_WRITER_H_
#define TCPINFO_SINKS_KAFKA_WRITER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sinks/sink_url.h"

namespace sinks {

// Defaults set before the URL's properties (which may override them).
inline constexpr char kKafkaDefaultAcks[] = "all";
inline constexpr char kKafkaDefaultMessageTimeoutMs[] = "30000";
// librdkafka's own default (10 s) would leave a returned broker unused for
// up to 10 s after an outage.
inline constexpr char kKafkaDefaultReconnectBackoffMaxMs[] = "2000";

// The longest one Write waits for delivery reports.
inline constexpr absl::Duration kKafkaWriteBound = absl::Seconds(5);

// Checks every librdkafka property of a kafka URL (name, value, and the
// combination, as creating the producer would) without contacting a broker.
// InvalidArgument naming the sink and the property otherwise, e.g.
// `-sink=kafka://h:9092/t?acks=most: kafka property "acks": Invalid value
// "most" for configuration property "acks"`.
absl::Status CheckKafkaUrl(const SinkUrl& url);

}  // namespace sinks

#endif  // TCPINFO_SINKS_KAFKA_WRITER_H_
