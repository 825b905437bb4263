// DeviceUsageRow: a flows::MeasurementKind::kDeviceUsage measurement as the
// SQL sinks write it into table `device_usage` (speedy's schema: time
// timestamptz, mac macaddr, download bigint, upload bigint, ipv4 inet, ipv6
// inet). Each row is unique by (time, mac), which makes a retried batch
// idempotent.
//
// Plain value type; functions are thread-safe.
#ifndef TCPINFO_SINKS_DEVICE_USAGE_ROW_H_
#define TCPINFO_SINKS_DEVICE_USAGE_ROW_H_

#include <cstdint>
#include <optional>
#include <string>

#include "flows/measurement.h"
#include "parse/timestamp.h"

namespace sinks {

inline constexpr char kDeviceUsageTable[] = "device_usage";

struct DeviceUsageRow {
  parse::Timestamp time;
  std::string mac;
  int64_t download = 0;
  int64_t upload = 0;
  std::optional<std::string> ipv4;  // nullopt: SQL NULL
  std::optional<std::string> ipv6;
};

// The row of `m` (REQUIRES: m.kind == kDeviceUsage). A missing tag or field
// reads as "" / 0 / NULL.
DeviceUsageRow ToDeviceUsageRow(const flows::Measurement& m);

}  // namespace sinks

#endif  // TCPINFO_SINKS_DEVICE_USAGE_ROW_H_
