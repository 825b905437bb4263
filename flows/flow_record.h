// FlowRecord: one exact summary of one TCP connection over an interval, as
// the flows layer emits it and every sink (sinks/) writes it.
//
// A connection gets an interim record every active timeout while it moves,
// and one final record when it ends (its destroy event, its absence from a
// complete dump, or the daemon's stop). Totals are the kernel's counters at
// the record's snapshot; deltas are the change since the flow's previous
// record (its first record's deltas equal its totals), so summing the
// deltas of any set of records over a time window gives that window's exact
// traffic. (uuid, seq) is unique: seq numbers a flow's records from 0.
//
// Addresses are as the collector passed them (already anonymized when
// -anonymize.ip is on). 32-bit kernel counters (segments, retransmits) are
// carried across their wrap, so every counter here is 64-bit and never
// goes back.
//
// Plain value type; the name functions are thread-safe.
#ifndef TCPINFO_FLOWS_FLOW_RECORD_H_
#define TCPINFO_FLOWS_FLOW_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "collector/ip_address.h"
#include "parse/timestamp.h"

namespace flows {

enum class RecordKind : uint8_t { kInterim, kFinal };

// Why a record was emitted. kInterim for every interim record.
enum class EndReason : uint8_t { kInterim, kDestroyed, kAbsent, kDaemonStop };

// kIn when the local port was a listening socket's, else kOut.
enum class Direction : uint8_t { kOut, kIn };

// What limited the flow over the record's interval (rule in the README and
// flow_tracker.h).
enum class LimitedBy : uint8_t { kNone, kSender, kReceiver, kNetwork };

// "interim" / "final".
absl::string_view KindName(RecordKind kind);
// "interim" / "destroyed" / "absent" / "daemon_stop".
absl::string_view EndReasonName(EndReason reason);
// "in" / "out".
absl::string_view DirectionName(Direction direction);
// "none" / "sender" / "receiver" / "network".
absl::string_view LimitedByName(LimitedBy limited_by);

// Monotonic kernel counters of a connection (struct tcp_info).
struct FlowCounters {
  uint64_t bytes_acked = 0;        // tcpi_bytes_acked: sent and acknowledged
  uint64_t bytes_received = 0;     // tcpi_bytes_received
  uint64_t bytes_sent = 0;         // tcpi_bytes_sent: retransmissions included
  uint64_t bytes_retrans = 0;      // tcpi_bytes_retrans
  uint64_t segs_out = 0;           // tcpi_segs_out
  uint64_t segs_in = 0;            // tcpi_segs_in
  uint64_t data_segs_out = 0;      // tcpi_data_segs_out
  uint64_t data_segs_in = 0;       // tcpi_data_segs_in
  uint64_t retrans_segs = 0;       // tcpi_total_retrans
  uint64_t busy_us = 0;            // tcpi_busy_time: time with data to send
  uint64_t rwnd_limited_us = 0;    // tcpi_rwnd_limited: of it, receive window
  uint64_t sndbuf_limited_us = 0;  // tcpi_sndbuf_limited: of it, send buffer

  friend bool operator==(const FlowCounters&, const FlowCounters&) = default;
};

// Who held the connection's socket, as the owners layer resolved it (with
// -owners; without it every record has the unknown values): the lowest pid
// of the processes holding it, its name, the socket's uid and user, its
// cgroup v2 path and the container id or systemd unit that path shows.
struct FlowOwner {
  static constexpr uint32_t kUnknownUid = 0xFFFFFFFFu;  // (uid_t)-1

  uint32_t pid = 0;  // 0 unknown
  std::string comm;  // "" unknown
  uint32_t uid = kUnknownUid;
  std::string user;
  std::string cgroup;
  std::string container;
  std::string unit;
};

struct FlowRecord {
  std::string uuid;  // the archive's uuid: <prefix>_<cookie %016X>
  uint64_t cookie = 0;
  uint32_t seq = 0;  // 0 for the flow's first record
  RecordKind kind = RecordKind::kInterim;
  EndReason end_reason = EndReason::kInterim;

  collector::IpAddress local;  // family and bytes
  collector::IpAddress remote;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  Direction direction = Direction::kOut;
  std::string congestion_algorithm;  // "" when the kernel gave none
  uint8_t state = 0;                 // last TCP state (tcp::State)

  parse::Timestamp start_time;  // the connection's first sighting
  parse::Timestamp end_time;    // this record's snapshot time

  FlowCounters total;
  FlowCounters delta;  // since the flow's previous record

  uint32_t min_rtt_us = 0;         // tcpi_min_rtt
  uint32_t rtt_us = 0;             // tcpi_rtt (smoothed) at end_time
  uint64_t max_delivery_rate = 0;  // bytes/s, highest tcpi_delivery_rate seen
  LimitedBy limited_by = LimitedBy::kNone;

  FlowOwner owner;
  // The connection's network namespace with -netns (its name in
  // /run/netns, else its inode in decimal); "" without -netns.
  std::string netns;
};

// Where the flows layer hands its records. Consume is called on the polling
// thread and must not block: queue the record or drop (and count) it.
class RecordConsumer {
 public:
  virtual ~RecordConsumer() = default;
  virtual void Consume(FlowRecord record) = 0;
};

// Where the flow tracker asks for a record's owner (the owners layer).
// FillOwner is called on the polling thread when a record is made and must
// not block; it leaves `owner` as it is when it knows nothing.
class OwnerSource {
 public:
  virtual ~OwnerSource() = default;
  virtual void FillOwner(uint64_t cookie, FlowOwner* owner) = 0;
};

}  // namespace flows

#endif  // TCPINFO_FLOWS_FLOW_RECORD_H_
