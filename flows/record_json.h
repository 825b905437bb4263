// A flow record as one JSON object (the jsonl and kafka sinks): every
// column of record_columns.h in order, integers as JSON numbers, times as
// RFC 3339 UTC strings with nanoseconds (trailing zeros trimmed), addresses
// as their text form ("10.77.0.2", "fd77::2").
//
// Thread-safe.
#ifndef TCPINFO_FLOWS_RECORD_JSON_H_
#define TCPINFO_FLOWS_RECORD_JSON_H_

#include <string>

#include "flows/flow_record.h"

namespace flows {

// Appends the object, without a newline.
void AppendRecordJson(const FlowRecord& record, std::string* out);

}  // namespace flows

#endif  // TCPINFO_FLOWS_RECORD_JSON_H_
