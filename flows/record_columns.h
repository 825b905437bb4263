// The flow record's columns: one definition of the schema that every sink
// writes (JSON keys, SQL columns, Kafka messages), so the same record has
// the same values everywhere. The README's schema table lists them.
//
//   VisitColumns(record, visitor) calls the visitor once per column, in
//   kColumns order, with the column's value in its type:
//     kText      string (kind, end_reason, family, direction, cc, state...)
//     kInteger   unsigned 64-bit (ports, counters, microseconds, rates)
//     kTime      parse::Timestamp (UTC, nanoseconds)
//     kAddress   collector::IpAddress (SQL inet; JSON its text form)
//
// Thread-safe; allocates nothing.
#ifndef TCPINFO_FLOWS_RECORD_COLUMNS_H_
#define TCPINFO_FLOWS_RECORD_COLUMNS_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "parse/timestamp.h"

namespace flows {

enum class ColumnType : uint8_t { kText, kInteger, kTime, kAddress };

struct Column {
  const char* name;
  ColumnType type;
  const char* unit;     // "" when none
  const char* meaning;  // one line, for the README and SQL comments
};

// Every column, in the order VisitColumns visits them.
absl::Span<const Column> Columns();

class ColumnVisitor {
 public:
  virtual ~ColumnVisitor() = default;
  virtual void Text(const Column& column, absl::string_view value) = 0;
  virtual void Integer(const Column& column, uint64_t value) = 0;
  virtual void Time(const Column& column, parse::Timestamp value) = 0;
  virtual void Address(const Column& column,
                       const collector::IpAddress& value) = 0;
};

void VisitColumns(const FlowRecord& record, ColumnVisitor& visitor);

// "ipv4" / "ipv6" for a record's family.
absl::string_view FamilyName(const collector::IpAddress& address);

}  // namespace flows

#endif  // TCPINFO_FLOWS_RECORD_COLUMNS_H_
