#include "flows/record_columns.h"

#include <array>

#include "inetdiag/inet_diag.h"
#include "tcp/tcp_info.h"

namespace flows {

namespace {

using T = ColumnType;

// Counter columns: each appears twice, as the total and as delta_<name>.
#define TCPINFO_FLOW_COUNTERS(X)                                             \
  X(bytes_acked, "bytes", "bytes sent and acknowledged (tcpi_bytes_acked)")  \
  X(bytes_received, "bytes", "bytes received (tcpi_bytes_received)")         \
  X(bytes_sent, "bytes",                                                     \
    "bytes sent, retransmissions included (tcpi_bytes_sent)")                \
  X(bytes_retrans, "bytes", "bytes retransmitted (tcpi_bytes_retrans)")      \
  X(segs_out, "segments", "segments sent (tcpi_segs_out)")                   \
  X(segs_in, "segments", "segments received (tcpi_segs_in)")                 \
  X(data_segs_out, "segments", "data segments sent (tcpi_data_segs_out)")    \
  X(data_segs_in, "segments", "data segments received (tcpi_data_segs_in)")  \
  X(retrans_segs, "segments", "segments retransmitted (tcpi_total_retrans)") \
  X(busy_us, "us", "time with data to send (tcpi_busy_time)")                \
  X(rwnd_limited_us, "us",                                                   \
    "of it, limited by the receive window (tcpi_rwnd_limited)")              \
  X(sndbuf_limited_us, "us",                                                 \
    "of it, limited by the send buffer (tcpi_sndbuf_limited)")

#define TCPINFO_TOTAL_COLUMN(name, unit, meaning) \
  {#name, T::kInteger, unit, meaning},
#define TCPINFO_DELTA_COLUMN(name, unit, meaning) \
  {"delta_" #name, T::kInteger, unit,             \
   "since the flow's previous record: " meaning},

constexpr Column kColumns[] = {
    {"uuid", T::kText, "", "the connection's archive uuid"},
    {"cookie", T::kInteger, "", "the kernel's socket cookie"},
    {"seq", T::kInteger, "", "the record's number within its flow, from 0"},
    {"kind", T::kText, "", "interim or final"},
    {"end_reason", T::kText, "", "interim, destroyed, absent or daemon_stop"},
    {"family", T::kText, "", "ipv4 or ipv6"},
    {"local_addr", T::kAddress, "", "local address"},
    {"local_port", T::kInteger, "", "local port"},
    {"remote_addr", T::kAddress, "", "remote address (anonymized if set)"},
    {"remote_port", T::kInteger, "", "remote port"},
    {"direction", T::kText, "",
     "in when the local port was a listening socket's, else out"},
    {"cc", T::kText, "", "congestion control algorithm"},
    {"state", T::kText, "", "last TCP state (ESTABLISHED, CLOSE, ...)"},
    {"start_time", T::kTime, "", "the connection's first sighting"},
    {"end_time", T::kTime, "", "this record's snapshot time"},
    TCPINFO_FLOW_COUNTERS(TCPINFO_TOTAL_COLUMN)
        TCPINFO_FLOW_COUNTERS(TCPINFO_DELTA_COLUMN){
            "min_rtt_us", T::kInteger, "us", "lowest RTT seen (tcpi_min_rtt)"},
    {"rtt_us", T::kInteger, "us", "smoothed RTT at end_time (tcpi_rtt)"},
    {"max_delivery_rate", T::kInteger, "bytes/s",
     "highest tcpi_delivery_rate seen"},
    {"limited_by", T::kText, "",
     "none, sender, receiver or network (over the record's interval)"},
    // The owner (-owners; unknown without it).
    {"pid", T::kInteger, "",
     "lowest pid of the processes holding the socket; 0 unknown"},
    {"comm", T::kText, "", "that process's name; empty unknown"},
    {"uid", T::kInteger, "", "the socket's uid; 4294967295 unknown"},
    {"user_name", T::kText, "", "the uid's user name; empty unknown"},
    {"cgroup", T::kText, "", "the socket's cgroup v2 path; empty unknown"},
    {"container", T::kText, "",
     "container id the cgroup shows (docker, podman, containerd, cri-o)"},
    {"unit", T::kText, "", "systemd unit the cgroup shows"},
    // -netns.
    {"netns", T::kText, "",
     "the connection's network namespace with -netns (name, else inode); "
     "empty without"},
};

// Column indexes of the fixed part, in kColumns order.
enum : size_t {
  kUuid,
  kCookie,
  kSeq,
  kKind,
  kEndReason,
  kFamily,
  kLocalAddr,
  kLocalPort,
  kRemoteAddr,
  kRemotePort,
  kDirection,
  kCc,
  kState,
  kStartTime,
  kEndTime,
  kFirstCounter
};
constexpr size_t kCounterCount = 12;
constexpr size_t kMinRtt = kFirstCounter + 2 * kCounterCount;

// The counters in TCPINFO_FLOW_COUNTERS order.
std::array<uint64_t, kCounterCount> CounterValues(const FlowCounters& c) {
#define TCPINFO_COUNTER_VALUE(name, unit, meaning) c.name,
  return {TCPINFO_FLOW_COUNTERS(TCPINFO_COUNTER_VALUE)};
#undef TCPINFO_COUNTER_VALUE
}

constexpr size_t kOwnerPid = kMinRtt + 4;
// The -netns block, after the owner's.
constexpr size_t kNetns = kOwnerPid + 7;
static_assert(std::size(kColumns) == kNetns + 1);

}  // namespace

absl::Span<const Column> Columns() { return kColumns; }

absl::string_view FamilyName(const collector::IpAddress& address) {
  return address.family == inetdiag::kAfInet6 ? "ipv6" : "ipv4";
}

void VisitColumns(const FlowRecord& r, ColumnVisitor& v) {
  const Column* c = kColumns;
  v.Text(c[kUuid], r.uuid);
  v.Integer(c[kCookie], r.cookie);
  v.Integer(c[kSeq], r.seq);
  v.Text(c[kKind], KindName(r.kind));
  v.Text(c[kEndReason], EndReasonName(r.end_reason));
  v.Text(c[kFamily], FamilyName(r.local));
  v.Address(c[kLocalAddr], r.local);
  v.Integer(c[kLocalPort], r.local_port);
  v.Address(c[kRemoteAddr], r.remote);
  v.Integer(c[kRemotePort], r.remote_port);
  v.Text(c[kDirection], DirectionName(r.direction));
  v.Text(c[kCc], r.congestion_algorithm);
  v.Text(c[kState], tcp::StateName(r.state));
  v.Time(c[kStartTime], r.start_time);
  v.Time(c[kEndTime], r.end_time);
  const std::array<uint64_t, kCounterCount> total = CounterValues(r.total);
  const std::array<uint64_t, kCounterCount> delta = CounterValues(r.delta);
  for (size_t i = 0; i < kCounterCount; ++i) {
    v.Integer(c[kFirstCounter + i], total[i]);
  }
  for (size_t i = 0; i < kCounterCount; ++i) {
    v.Integer(c[kFirstCounter + kCounterCount + i], delta[i]);
  }
  v.Integer(c[kMinRtt], r.min_rtt_us);
  v.Integer(c[kMinRtt + 1], r.rtt_us);
  v.Integer(c[kMinRtt + 2], r.max_delivery_rate);
  v.Text(c[kMinRtt + 3], LimitedByName(r.limited_by));
  const FlowOwner& o = r.owner;
  v.Integer(c[kOwnerPid], o.pid);
  v.Text(c[kOwnerPid + 1], o.comm);
  v.Integer(c[kOwnerPid + 2], o.uid);
  v.Text(c[kOwnerPid + 3], o.user);
  v.Text(c[kOwnerPid + 4], o.cgroup);
  v.Text(c[kOwnerPid + 5], o.container);
  v.Text(c[kOwnerPid + 6], o.unit);
  v.Text(c[kNetns], r.netns);
}

}  // namespace flows
