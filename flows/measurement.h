// Measurement: one point of a periodic summary that is not a flow record:
// a process's traffic over an interval (the owners layer), a LAN device's
// usage over an interval (gateway mode). A sink whose writer accepts the
// kind writes it (InfluxDB as line protocol, the SQL sinks into the kind's
// table); the others never see it (sinks/sink_writer.h, Accepts).
//
// Field and tag names are those the kind's consumers expect (the comments
// below); a field without a value (std::monostate) is written as the
// destination's null, or left out where it has none (InfluxDB).
//
// Plain value type.
#ifndef TCPINFO_FLOWS_MEASUREMENT_H_
#define TCPINFO_FLOWS_MEASUREMENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "parse/timestamp.h"

namespace flows {

enum class MeasurementKind : uint8_t {
  // A process's traffic in the interval that ends at `time`: InfluxDB
  // measurement "network_data", tag "name" (the process name), integer
  // fields "sent_bytes_last" and "recv_bytes_last" (Netgraph's schema).
  kProcessTraffic,
  // A LAN device's usage in the interval that ends at `time`: InfluxDB
  // measurement "measures", tag "mac", fields "download", "upload"
  // (integers, bytes), "ipv4", "ipv6" (strings, or no value); the SQL
  // sinks' table "device_usage" (speedy's schema: time timestamptz, mac
  // macaddr, download bigint, upload bigint, ipv4 inet, ipv6 inet).
  kDeviceUsage,
};

using FieldValue = std::variant<std::monostate, int64_t, double, std::string>;

struct Measurement {
  MeasurementKind kind = MeasurementKind::kProcessTraffic;
  parse::Timestamp time;
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<std::pair<std::string, FieldValue>> fields;
};

// Where a producer hands its measurements. ConsumeMeasurement is called on
// the producer's thread (the polling thread, or a layer's own) and must not
// block: queue the measurement or drop (and count) it.
class MeasurementConsumer {
 public:
  virtual ~MeasurementConsumer() = default;
  virtual void ConsumeMeasurement(Measurement measurement) = 0;
};

}  // namespace flows

#endif  // TCPINFO_FLOWS_MEASUREMENT_H_
