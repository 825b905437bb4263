// InfluxDB line protocol (1.x /write and 2.x /api/v2/write take the same):
// one line per point, "measurement,tag=value field=value TIMESTAMP\n",
// the timestamp in nanoseconds since the epoch (precision=ns).
//
// Escaping, as InfluxDB 1.6's parser reads it back (checked by
// influx_writer_test against a real server):
//   measurement         ',' and ' ' get a backslash
//   tag keys and values ',' '=' and ' ' get a backslash
//   field keys          ',' '=' and ' ' get a backslash
//   string field values '"' and '\' get a backslash, in double quotes
// Two things the protocol cannot carry in a name or tag value are changed:
// a newline or carriage return (it would end the line) becomes a space,
// and trailing backslashes (they would escape the separator after them)
// are dropped. A tag whose key or value is then empty is left out (InfluxDB
// has no empty tags).
//
// Values: integers with the "i" suffix; doubles in their shortest exact
// form (NaN and infinities, which InfluxDB refuses, are left out); strings
// quoted; a field without a value (std::monostate) is left out. A point
// left with no field is not written at all (InfluxDB refuses it).
//
// Pure functions; thread-safe.
#ifndef TCPINFO_SINKS_LINE_PROTOCOL_H_
#define TCPINFO_SINKS_LINE_PROTOCOL_H_

#include <string>

#include "absl/strings/string_view.h"
#include "flows/flow_record.h"
#include "flows/measurement.h"

namespace sinks {

// The InfluxDB measurement of each kind (flows/measurement.h):
// "network_data" (Netgraph's) and "measures" (speedy's).
absl::string_view InfluxMeasurementName(flows::MeasurementKind kind);

// The measurement flow records are written to.
inline constexpr char kFlowMeasurement[] = "tcpinfo_flow";

// Appends the line of `m` to `out`; false (and `out` unchanged) when it has
// no field left to write.
bool AppendMeasurementLine(const flows::Measurement& m, std::string* out);

// Appends the line of `record` to `out`, measurement kFlowMeasurement:
// every text column of flows::Columns() (uuid, kind, end_reason, family,
// direction, cc, state, limited_by) is a tag, so each connection is its own
// series and two flows that end in the same poll never overwrite each
// other; the addresses are string fields, and so is cookie (its exact
// decimal: a uint64 may pass InfluxDB's signed 64-bit integers); the other
// integer columns are integer fields (a value above 2^63-1, which no kernel
// counter reaches, is written as 2^63-1), start_time an integer field in
// nanoseconds; end_time is the point's timestamp.
void AppendFlowRecordLine(const flows::FlowRecord& record, std::string* out);

}  // namespace sinks

#endif  // TCPINFO_SINKS_LINE_PROTOCOL_H_
