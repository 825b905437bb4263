// A connection's monotonic kernel counters (FlowCounters) read from its
// snapshots: the one place that knows how tcp_info's counters become exact
// 64-bit totals, for every observer that sums traffic (the flow tracker,
// traffic and owner metrics).
//
//   ReadTcpInfo      the snapshot's tcp_info; fields a shorter attribute
//                    (an older kernel) lacks read as zero.
//   AdvanceCounters  moves `total` to the snapshot's counters: 64-bit kernel
//                    counters never go back (a kernel that reset one, as
//                    tcp_disconnect does, holds the old value until the new
//                    one passes it); 32-bit ones (segments, retransmits)
//                    are carried across their wrap: the low word is the
//                    kernel's last value and whatever it moved since,
//                    modulo 2^32, is added. Start from a zero total for a
//                    connection's first snapshot.
//   Subtract         a - b, counter by counter (a delta between two totals
//                    of the same connection, never negative).
//
// Thread-safe; allocates nothing.
#ifndef TCPINFO_FLOWS_COUNTERS_H_
#define TCPINFO_FLOWS_COUNTERS_H_

#include "flows/flow_record.h"
#include "parse/record_view.h"
#include "tcp/tcp_info.h"

namespace flows {

tcp::TcpInfo ReadTcpInfo(const parse::RecordView& record);

void AdvanceCounters(const tcp::TcpInfo& info, FlowCounters* total);

FlowCounters Subtract(const FlowCounters& a, const FlowCounters& b);

}  // namespace flows

#endif  // TCPINFO_FLOWS_COUNTERS_H_
