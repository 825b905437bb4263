// The SinkWriter of each scheme (sink_url.h), made from a checked SinkUrl
// without contacting the destination (Connect() does that).
//
// Thread-safe: each call makes a new writer.
#ifndef TCPINFO_SINKS_WRITERS_H_
#define TCPINFO_SINKS_WRITERS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"

namespace sinks {

// Dispatches on url.scheme to one of the functions below; a kafka URL's
// librdkafka properties are checked first (CheckKafkaUrl, kafka_writer.h),
// an influx2 URL's token taken from the environment (InfluxToken,
// influx_writer.h).
absl::StatusOr<std::unique_ptr<SinkWriter>> MakeWriter(const SinkUrl& url);

std::unique_ptr<SinkWriter> NewSqliteWriter(const SinkUrl& url);
std::unique_ptr<SinkWriter> NewJsonlWriter(const SinkUrl& url);
std::unique_ptr<SinkWriter> NewPostgresWriter(const SinkUrl& url);
std::unique_ptr<SinkWriter> NewKafkaWriter(const SinkUrl& url);
// ipfix (UDP) and ipfix+tcp.
std::unique_ptr<SinkWriter> NewIpfixWriter(const SinkUrl& url);

}  // namespace sinks

#endif  // TCPINFO_SINKS_WRITERS_H_
