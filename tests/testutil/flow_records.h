// Flow records for sink tests: MakeFlowRecord(n) gives record n of a
// deterministic stream (four records per flow, IPv4 and IPv6 flows in turn,
// every counter distinct), MakeFlowRecords a run of them, and
// ColumnValues(record) what VisitColumns hands a sink for it, column by column,
// to compare a destination's rows with.
//
// Pure functions; thread-safe.
#ifndef TCPINFO_TESTS_TESTUTIL_FLOW_RECORDS_H_
#define TCPINFO_TESTS_TESTUTIL_FLOW_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "flows/record_columns.h"
#include "tcp/tcp_info.h"

namespace testutil {

inline flows::FlowRecord MakeFlowRecord(uint32_t n) {
  flows::FlowRecord r;
  const uint32_t flow = n / 4;
  r.cookie = 0x1000 + flow;
  r.uuid = absl::StrFormat("test_1795310322_unsafe_%016X", r.cookie);
  r.seq = n % 4;
  r.kind = r.seq == 3 ? flows::RecordKind::kFinal : flows::RecordKind::kInterim;
  r.end_reason =
      r.seq == 3 ? flows::EndReason::kDestroyed : flows::EndReason::kInterim;
  const bool v6 = flow % 2 == 1;
  r.local = *collector::ParseIpAddress(v6 ? "fd77::2" : "10.77.0.2");
  r.remote = *collector::ParseIpAddress(
      v6 ? absl::StrFormat("fd77::1:%x", flow % 300)
         : absl::StrFormat("10.77.%d.%d", flow % 3, flow % 250 + 1));
  r.local_port = static_cast<uint16_t>(40000 + flow % 20000);
  r.remote_port = 17000;
  r.direction = flow % 3 == 0 ? flows::Direction::kIn : flows::Direction::kOut;
  r.congestion_algorithm = flow % 2 == 0 ? "cubic" : "bbr";
  r.state = r.seq == 3 ? tcp::kClose : tcp::kEstablished;
  r.start_time = {1795310322 + flow, static_cast<int32_t>(flow * 1000 + 7), 0};
  r.end_time = {r.start_time.seconds + 60 * (r.seq + 1),
                static_cast<int32_t>((n * 7919) % 1000000000), 0};
  uint64_t v = 1000 + n * 100;
  for (uint64_t* c :
       {&r.total.bytes_acked, &r.total.bytes_received, &r.total.bytes_sent,
        &r.total.bytes_retrans, &r.total.segs_out, &r.total.segs_in,
        &r.total.data_segs_out, &r.total.data_segs_in, &r.total.retrans_segs,
        &r.total.busy_us, &r.total.rwnd_limited_us,
        &r.total.sndbuf_limited_us}) {
    *c = v++;
  }
  r.delta = r.total;
  r.delta.bytes_acked /= 2;
  r.delta.bytes_sent /= 3;
  r.min_rtt_us = 100 + n % 50;
  r.rtt_us = 200 + n % 70;
  r.max_delivery_rate = 1250000ull * (n % 8 + 1);
  r.limited_by = static_cast<flows::LimitedBy>(n % 4);
  return r;
}

// Records first, first + 1, ..., first + n - 1.
inline std::vector<flows::FlowRecord> MakeFlowRecords(uint32_t first,
                                                      uint32_t n) {
  std::vector<flows::FlowRecord> v;
  for (uint32_t i = first; i < first + n; ++i) v.push_back(MakeFlowRecord(i));
  return v;
}

// One column's value as VisitColumns gives it.
struct ColumnValue {
  std::string name;
  flows::ColumnType type;
  std::string text;       // kText; kAddress in its text form
  uint64_t integer = 0;   // kInteger
  parse::Timestamp time;  // kTime
};

inline std::vector<ColumnValue> ColumnValues(const flows::FlowRecord& r) {
  struct Visitor : flows::ColumnVisitor {
    void Text(const flows::Column& c, absl::string_view v) override {
      out.push_back({c.name, c.type, std::string(v), 0, {}});
    }
    void Integer(const flows::Column& c, uint64_t v) override {
      out.push_back({c.name, c.type, "", v, {}});
    }
    void Time(const flows::Column& c, parse::Timestamp v) override {
      out.push_back({c.name, c.type, "", 0, v});
    }
    void Address(const flows::Column& c,
                 const collector::IpAddress& v) override {
      out.push_back({c.name, c.type, collector::FormatIpAddress(v), 0, {}});
    }
    std::vector<ColumnValue> out;
  } visitor;
  flows::VisitColumns(r, visitor);
  return visitor.out;
}

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_FLOW_RECORDS_H_
