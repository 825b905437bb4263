#include "sinks/ipfix_writer.h"

#include <arpa/inet.h>
#include <fixbuf/public.h>

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "sinks/net_client.h"
#include "sinks/writers.h"

namespace sinks {
namespace {

using flows::FlowRecord;

// The internal record: what fBufAppend() reads, one field per element of
// kFields below, in that order and without gaps (checked at compile time).
// Integers and IPv4 addresses in host byte order (libfixbuf converts),
// IPv6 addresses as the 16 bytes of the wire.
struct WireRecord {
  fbVarfield_t uuid;
  fbVarfield_t congestion_algorithm;
  uint64_t flow_start_ms;
  uint64_t flow_end_ms;
  uint64_t flow_id;
  uint64_t octet_delta;
  uint64_t packet_delta;
  uint64_t reverse_octet_delta;
  uint64_t reverse_packet_delta;
  uint64_t octet_total;
  uint64_t reverse_octet_total;
  uint64_t packet_total;
  uint64_t reverse_packet_total;
  uint64_t acked_octet_delta;
  uint64_t acked_octet_total;
  uint64_t retrans_octet_delta;
  uint64_t retrans_octet_total;
  uint64_t retrans_packet_delta;
  uint64_t retrans_packet_total;
  uint64_t data_packet_delta;
  uint64_t reverse_data_packet_delta;
  uint64_t data_packet_total;
  uint64_t reverse_data_packet_total;
  uint64_t busy_us_delta;
  uint64_t busy_us_total;
  uint64_t rwnd_limited_us_delta;
  uint64_t rwnd_limited_us_total;
  uint64_t sndbuf_limited_us_delta;
  uint64_t sndbuf_limited_us_total;
  uint64_t max_delivery_rate;
  uint8_t source_ipv6[16];
  uint8_t destination_ipv6[16];
  uint32_t source_ipv4;
  uint32_t destination_ipv4;
  uint32_t seq;
  uint32_t min_rtt_us;
  uint32_t rtt_us;
  uint16_t source_port;
  uint16_t destination_port;
  uint8_t protocol;
  uint8_t flow_end_reason;
  uint8_t biflow_direction;
  uint8_t tcp_state;
  uint8_t end_reason;
  uint8_t limited_by;
  uint8_t padding[2];
  // The owner (-owners).
  fbVarfield_t comm;
  fbVarfield_t user;
  fbVarfield_t cgroup;
  fbVarfield_t container;
  fbVarfield_t unit;
  uint32_t pid;
  uint32_t uid;
};

enum class Only : uint8_t { kBoth, kIpv4, kIpv6, kInternal };

struct Field {
  const char* element;  // name in the information model
  uint16_t wire_len;    // FB_IE_VARLEN for strings
  size_t offset;
  size_t size;  // in WireRecord
  Only only;
};

#define TCPINFO_FIELD(element, member, only)                           \
  Field {                                                              \
    element, sizeof(WireRecord::member), offsetof(WireRecord, member), \
        sizeof(WireRecord::member), only                               \
  }
#define TCPINFO_VARFIELD(element, member)                \
  Field {                                                \
    element, FB_IE_VARLEN, offsetof(WireRecord, member), \
        sizeof(WireRecord::member), Only::kBoth          \
  }

constexpr Field kFields[] = {
    TCPINFO_VARFIELD("tcpinfoUuid", uuid),
    TCPINFO_VARFIELD("tcpinfoCongestionAlgorithm", congestion_algorithm),
    TCPINFO_FIELD("flowStartMilliseconds", flow_start_ms, Only::kBoth),
    TCPINFO_FIELD("flowEndMilliseconds", flow_end_ms, Only::kBoth),
    TCPINFO_FIELD("flowId", flow_id, Only::kBoth),
    TCPINFO_FIELD("octetDeltaCount", octet_delta, Only::kBoth),
    TCPINFO_FIELD("packetDeltaCount", packet_delta, Only::kBoth),
    TCPINFO_FIELD("reverseOctetDeltaCount", reverse_octet_delta, Only::kBoth),
    TCPINFO_FIELD("reversePacketDeltaCount", reverse_packet_delta, Only::kBoth),
    TCPINFO_FIELD("tcpinfoOctetTotalCount", octet_total, Only::kBoth),
    TCPINFO_FIELD("reverseTcpinfoOctetTotalCount", reverse_octet_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoPacketTotalCount", packet_total, Only::kBoth),
    TCPINFO_FIELD("reverseTcpinfoPacketTotalCount", reverse_packet_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoAckedOctetDeltaCount", acked_octet_delta,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoAckedOctetTotalCount", acked_octet_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoRetransOctetDeltaCount", retrans_octet_delta,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoRetransOctetTotalCount", retrans_octet_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoRetransPacketDeltaCount", retrans_packet_delta,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoRetransPacketTotalCount", retrans_packet_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoDataPacketDeltaCount", data_packet_delta,
                  Only::kBoth),
    TCPINFO_FIELD("reverseTcpinfoDataPacketDeltaCount",
                  reverse_data_packet_delta, Only::kBoth),
    TCPINFO_FIELD("tcpinfoDataPacketTotalCount", data_packet_total,
                  Only::kBoth),
    TCPINFO_FIELD("reverseTcpinfoDataPacketTotalCount",
                  reverse_data_packet_total, Only::kBoth),
    TCPINFO_FIELD("tcpinfoBusyMicrosecondsDelta", busy_us_delta, Only::kBoth),
    TCPINFO_FIELD("tcpinfoBusyMicrosecondsTotal", busy_us_total, Only::kBoth),
    TCPINFO_FIELD("tcpinfoRwndLimitedMicrosecondsDelta", rwnd_limited_us_delta,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoRwndLimitedMicrosecondsTotal", rwnd_limited_us_total,
                  Only::kBoth),
    TCPINFO_FIELD("tcpinfoSndbufLimitedMicrosecondsDelta",
                  sndbuf_limited_us_delta, Only::kBoth),
    TCPINFO_FIELD("tcpinfoSndbufLimitedMicrosecondsTotal",
                  sndbuf_limited_us_total, Only::kBoth),
    TCPINFO_FIELD("tcpinfoMaxDeliveryRate", max_delivery_rate, Only::kBoth),
    TCPINFO_FIELD("sourceIPv6Address", source_ipv6, Only::kIpv6),
    TCPINFO_FIELD("destinationIPv6Address", destination_ipv6, Only::kIpv6),
    TCPINFO_FIELD("sourceIPv4Address", source_ipv4, Only::kIpv4),
    TCPINFO_FIELD("destinationIPv4Address", destination_ipv4, Only::kIpv4),
    TCPINFO_FIELD("tcpinfoRecordSeq", seq, Only::kBoth),
    TCPINFO_FIELD("tcpinfoMinRttMicroseconds", min_rtt_us, Only::kBoth),
    TCPINFO_FIELD("tcpinfoRttMicroseconds", rtt_us, Only::kBoth),
    TCPINFO_FIELD("sourceTransportPort", source_port, Only::kBoth),
    TCPINFO_FIELD("destinationTransportPort", destination_port, Only::kBoth),
    TCPINFO_FIELD("protocolIdentifier", protocol, Only::kBoth),
    TCPINFO_FIELD("flowEndReason", flow_end_reason, Only::kBoth),
    TCPINFO_FIELD("biflowDirection", biflow_direction, Only::kBoth),
    TCPINFO_FIELD("tcpinfoTcpState", tcp_state, Only::kBoth),
    TCPINFO_FIELD("tcpinfoEndReason", end_reason, Only::kBoth),
    TCPINFO_FIELD("tcpinfoLimitedBy", limited_by, Only::kBoth),
    TCPINFO_FIELD("paddingOctets", padding, Only::kInternal),
    TCPINFO_VARFIELD("tcpinfoProcessName", comm),
    TCPINFO_VARFIELD("tcpinfoUserName", user),
    TCPINFO_VARFIELD("tcpinfoCgroupPath", cgroup),
    TCPINFO_VARFIELD("tcpinfoContainerId", container),
    TCPINFO_VARFIELD("tcpinfoSystemdUnit", unit),
    TCPINFO_FIELD("tcpinfoProcessId", pid, Only::kBoth),
    TCPINFO_FIELD("tcpinfoUserId", uid, Only::kBoth),
};

#undef TCPINFO_FIELD
#undef TCPINFO_VARFIELD

constexpr bool FieldsCoverWireRecord() {
  size_t next = 0;
  for (const Field& f : kFields) {
    if (f.offset != next) return false;
    next += f.size;
  }
  return next == sizeof(WireRecord);
}
static_assert(FieldsCoverWireRecord(),
              "kFields must list WireRecord's members in order, no gaps");

// The enterprise-specific elements (kTcpInfoEnterprise). Ids are stable:
// never reuse or renumber one (collectors keep them). Reversible ones also
// define "reverse<Name>" with id | 0x4000 (RFC 5103 section 6.1).
struct Enterprise {
  const char* name;
  uint16_t id;
  uint16_t len;
  uint8_t type;
  uint32_t flags;  // semantics, units, reversibility
  const char* description;
};

constexpr uint32_t kDelta = FB_IE_DELTACOUNTER | FB_IE_F_ENDIAN;
constexpr uint32_t kTotal = FB_IE_TOTALCOUNTER | FB_IE_F_ENDIAN;
constexpr uint32_t kGauge = FB_IE_QUANTITY | FB_IE_F_ENDIAN;
constexpr uint32_t kCode = FB_IE_IDENTIFIER | FB_IE_F_ENDIAN;

constexpr Enterprise kEnterprise[] = {
    {"tcpinfoUuid", 1, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "the connection's archive uuid"},
    {"tcpinfoRecordSeq", 2, 4, FB_UINT_32, kCode,
     "number of this record among the flow's records, from 0"},
    {"tcpinfoCongestionAlgorithm", 3, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "congestion control algorithm"},
    {"tcpinfoTcpState", 4, 1, FB_UINT_8, kCode,
     "last TCP state (linux tcp_states.h: 1 established ... 7 close)"},
    {"tcpinfoEndReason", 5, 1, FB_UINT_8, kCode,
     "0 interim, 1 destroyed, 2 absent, 3 daemon_stop"},
    {"tcpinfoLimitedBy", 6, 1, FB_UINT_8, kCode,
     "0 none, 1 sender, 2 receiver, 3 network"},
    {"tcpinfoMinRttMicroseconds", 7, 4, FB_UINT_32,
     kGauge | FB_UNITS_MICROSECONDS, "minimum RTT"},
    {"tcpinfoRttMicroseconds", 8, 4, FB_UINT_32, kGauge | FB_UNITS_MICROSECONDS,
     "smoothed RTT at flowEnd"},
    {"tcpinfoMaxDeliveryRate", 9, 8, FB_UINT_64, kGauge,
     "highest delivery rate seen, octets per second"},
    {"tcpinfoAckedOctetDeltaCount", 10, 8, FB_UINT_64, kDelta | FB_UNITS_OCTETS,
     "octets sent and acknowledged"},
    {"tcpinfoAckedOctetTotalCount", 11, 8, FB_UINT_64, kTotal | FB_UNITS_OCTETS,
     "octets sent and acknowledged"},
    {"tcpinfoRetransOctetDeltaCount", 12, 8, FB_UINT_64,
     kDelta | FB_UNITS_OCTETS, "octets retransmitted"},
    {"tcpinfoRetransOctetTotalCount", 13, 8, FB_UINT_64,
     kTotal | FB_UNITS_OCTETS, "octets retransmitted"},
    {"tcpinfoRetransPacketDeltaCount", 14, 8, FB_UINT_64,
     kDelta | FB_UNITS_PACKETS, "segments retransmitted"},
    {"tcpinfoRetransPacketTotalCount", 15, 8, FB_UINT_64,
     kTotal | FB_UNITS_PACKETS, "segments retransmitted"},
    {"tcpinfoDataPacketDeltaCount", 16, 8, FB_UINT_64,
     kDelta | FB_UNITS_PACKETS | FB_IE_F_REVERSIBLE,
     "segments with data, sent (reverse: received)"},
    {"tcpinfoDataPacketTotalCount", 17, 8, FB_UINT_64,
     kTotal | FB_UNITS_PACKETS | FB_IE_F_REVERSIBLE,
     "segments with data, sent (reverse: received)"},
    {"tcpinfoBusyMicrosecondsDelta", 18, 8, FB_UINT_64,
     kDelta | FB_UNITS_MICROSECONDS, "time with data to send"},
    {"tcpinfoBusyMicrosecondsTotal", 19, 8, FB_UINT_64,
     kTotal | FB_UNITS_MICROSECONDS, "time with data to send"},
    {"tcpinfoRwndLimitedMicrosecondsDelta", 20, 8, FB_UINT_64,
     kDelta | FB_UNITS_MICROSECONDS, "time limited by the receive window"},
    {"tcpinfoRwndLimitedMicrosecondsTotal", 21, 8, FB_UINT_64,
     kTotal | FB_UNITS_MICROSECONDS, "time limited by the receive window"},
    {"tcpinfoSndbufLimitedMicrosecondsDelta", 22, 8, FB_UINT_64,
     kDelta | FB_UNITS_MICROSECONDS, "time limited by the send buffer"},
    {"tcpinfoSndbufLimitedMicrosecondsTotal", 23, 8, FB_UINT_64,
     kTotal | FB_UNITS_MICROSECONDS, "time limited by the send buffer"},
    // Totals of what octetDeltaCount and packetDeltaCount count. Not IANA's
    // octetTotalCount / packetTotalCount: collectors such as nfcapd take
    // those over the deltas, and summing interim records would then count
    // a connection's traffic again in each.
    {"tcpinfoOctetTotalCount", 24, 8, FB_UINT_64,
     kTotal | FB_UNITS_OCTETS | FB_IE_F_REVERSIBLE,
     "octets sent, retransmissions included (reverse: received)"},
    {"tcpinfoPacketTotalCount", 25, 8, FB_UINT_64,
     kTotal | FB_UNITS_PACKETS | FB_IE_F_REVERSIBLE,
     "segments sent (reverse: received)"},
    {"tcpinfoProcessId", 26, 4, FB_UINT_32, kCode,
     "lowest pid of the processes holding the socket, 0 unknown"},
    {"tcpinfoProcessName", 27, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "that process's name, empty unknown"},
    {"tcpinfoUserId", 28, 4, FB_UINT_32, kCode,
     "the socket's uid, 4294967295 unknown"},
    {"tcpinfoUserName", 29, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "the uid's user name"},
    {"tcpinfoCgroupPath", 30, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "the socket's cgroup v2 path"},
    {"tcpinfoContainerId", 31, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "container id the cgroup shows"},
    {"tcpinfoSystemdUnit", 32, FB_IE_VARLEN, FB_STRING, FB_IE_DEFAULT,
     "systemd unit the cgroup shows"},
};

// IANA flowEndReason values (RFC 5102).
constexpr uint8_t kActiveTimeout = 0x02;
constexpr uint8_t kEndOfFlowDetected = 0x03;
constexpr uint8_t kForcedEnd = 0x04;
// IANA biflowDirection values (RFC 5103 section 6.3).
constexpr uint8_t kInitiator = 0x01;
constexpr uint8_t kReverseInitiator = 0x02;
constexpr uint8_t kTcp = 6;
constexpr uint16_t kInternalTemplate = 1000;  // never on the wire
constexpr uint16_t kTypeTemplate = 258;       // RFC 5610 type records
constexpr uint8_t kIpfixVersion = 10;

uint8_t FlowEndReason(flows::EndReason reason) {
  switch (reason) {
    case flows::EndReason::kInterim:
      return kActiveTimeout;
    case flows::EndReason::kDestroyed:
    case flows::EndReason::kAbsent:
      return kEndOfFlowDetected;
    case flows::EndReason::kDaemonStop:
      return kForcedEnd;
  }
  return kEndOfFlowDetected;
}

uint64_t Milliseconds(parse::Timestamp t) {
  if (t.seconds < 0) return 0;
  return static_cast<uint64_t>(t.seconds) * 1000 +
         static_cast<uint64_t>(t.nanos) / 1000000;
}

uint32_t Ipv4HostOrder(const collector::IpAddress& address) {
  uint32_t network;
  std::memcpy(&network, address.bytes.data(), 4);
  return ntohl(network);
}

fbVarfield_t Varfield(const std::string& s) {
  // libfixbuf only reads the bytes on export.
  return {s.size(), reinterpret_cast<uint8_t*>(const_cast<char*>(s.data()))};
}

void Fill(const FlowRecord& r, WireRecord& w) {
  std::memset(&w, 0, sizeof(w));
  w.uuid = Varfield(r.uuid);
  w.congestion_algorithm = Varfield(r.congestion_algorithm);
  w.flow_start_ms = Milliseconds(r.start_time);
  w.flow_end_ms = Milliseconds(r.end_time);
  w.flow_id = r.cookie;
  w.octet_delta = r.delta.bytes_sent;
  w.packet_delta = r.delta.segs_out;
  w.reverse_octet_delta = r.delta.bytes_received;
  w.reverse_packet_delta = r.delta.segs_in;
  w.octet_total = r.total.bytes_sent;
  w.reverse_octet_total = r.total.bytes_received;
  w.packet_total = r.total.segs_out;
  w.reverse_packet_total = r.total.segs_in;
  w.acked_octet_delta = r.delta.bytes_acked;
  w.acked_octet_total = r.total.bytes_acked;
  w.retrans_octet_delta = r.delta.bytes_retrans;
  w.retrans_octet_total = r.total.bytes_retrans;
  w.retrans_packet_delta = r.delta.retrans_segs;
  w.retrans_packet_total = r.total.retrans_segs;
  w.data_packet_delta = r.delta.data_segs_out;
  w.reverse_data_packet_delta = r.delta.data_segs_in;
  w.data_packet_total = r.total.data_segs_out;
  w.reverse_data_packet_total = r.total.data_segs_in;
  w.busy_us_delta = r.delta.busy_us;
  w.busy_us_total = r.total.busy_us;
  w.rwnd_limited_us_delta = r.delta.rwnd_limited_us;
  w.rwnd_limited_us_total = r.total.rwnd_limited_us;
  w.sndbuf_limited_us_delta = r.delta.sndbuf_limited_us;
  w.sndbuf_limited_us_total = r.total.sndbuf_limited_us;
  w.max_delivery_rate = r.max_delivery_rate;
  if (r.local.family == AF_INET6) {
    std::memcpy(w.source_ipv6, r.local.bytes.data(), 16);
    std::memcpy(w.destination_ipv6, r.remote.bytes.data(), 16);
  } else {
    w.source_ipv4 = Ipv4HostOrder(r.local);
    w.destination_ipv4 = Ipv4HostOrder(r.remote);
  }
  w.seq = r.seq;
  w.min_rtt_us = r.min_rtt_us;
  w.rtt_us = r.rtt_us;
  w.source_port = r.local_port;
  w.destination_port = r.remote_port;
  w.protocol = kTcp;
  w.flow_end_reason = FlowEndReason(r.end_reason);
  w.biflow_direction =
      r.direction == flows::Direction::kOut ? kInitiator : kReverseInitiator;
  w.tcp_state = r.state;
  w.end_reason = static_cast<uint8_t>(r.end_reason);
  w.limited_by = static_cast<uint8_t>(r.limited_by);
  w.comm = Varfield(r.owner.comm);
  w.user = Varfield(r.owner.user);
  w.cgroup = Varfield(r.owner.cgroup);
  w.container = Varfield(r.owner.container);
  w.unit = Varfield(r.owner.unit);
  w.pid = r.owner.pid;
  w.uid = r.owner.uid;
}

absl::Status FixbufError(absl::string_view what, GError* err) {
  absl::Status status = absl::InternalError(
      absl::StrCat("ipfix: ", what, ": ", err ? err->message : "failed"));
  g_clear_error(&err);
  return status;
}

class IpfixWriter : public SinkWriter {
 public:
  IpfixWriter(const SinkUrl& url, const IpfixOptions& options)
      : host_port_(url.hosts),
        transport_(url.scheme == "ipfix+tcp" ? NetClient::Transport::kTcp
                                             : NetClient::Transport::kUdp),
        options_(options),
        message_(transport_ == NetClient::Transport::kTcp
                     ? options.tcp_message_bytes
                     : options.udp_message_bytes) {
    model_ = fbInfoModelAlloc();
    std::vector<fbInfoElement_t> elements;
    for (const Enterprise& e : kEnterprise) {
      fbInfoElement_t ie{};
      ie.ref.name = e.name;
      ie.ent = kTcpInfoEnterprise;
      ie.num = e.id;
      ie.len = e.len;
      ie.flags = e.flags;
      ie.type = e.type;
      ie.description = e.description;
      elements.push_back(ie);
    }
    elements.push_back(fbInfoElement_t{});  // FB_IE_NULL
    for (const Enterprise& e : kEnterprise) {
      type_records_.push_back({e.id, e.name, e.description, &e});
      if (e.flags & FB_IE_F_REVERSIBLE) {
        std::string name = e.name;
        name[0] = absl::ascii_toupper(name[0]);
        type_records_.push_back({static_cast<uint16_t>(e.id | 0x4000),
                                 "reverse" + name,
                                 absl::StrCat(e.description, ", reverse"), &e});
      }
    }
    fbInfoModelAddElementArray(model_, elements.data());
  }

  ~IpfixWriter() override {
    Teardown();
    fbInfoModelFree(model_);
  }

  absl::Status Connect() override {
    Teardown();
    if (absl::Status s =
            client_.Open(transport_, host_port_, options_.io_timeout);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = BuildSession(); !s.ok()) {
      Teardown();
      return s;
    }
    // The templates go out now: over TCP they open the stream, over UDP the
    // collector can decode from the first data message on.
    if (absl::Status s = SendTemplates(); !s.ok()) {
      Teardown();
      return s;
    }
    return absl::OkStatus();
  }

  WriteResult Write(absl::Span<const FlowRecord> records) override {
    WriteResult result;
    if (fbuf_ == nullptr) {
      result.status = absl::FailedPreconditionError("ipfix: not connected");
      return result;
    }
    if (transport_ == NetClient::Transport::kUdp &&
        absl::Now() >= next_templates_) {
      if (absl::Status s = SendTemplates(); !s.ok()) return Fail(result, s);
    }
    size_t in_message = 0;
    WireRecord wire;
    for (const FlowRecord& record : records) {
      Fill(record, wire);
      uint16_t tid = record.local.family == AF_INET6 ? kIpfixTemplateIpv6
                                                     : kIpfixTemplateIpv4;
      GError* err = nullptr;
      if (tid != export_template_) {
        if (!fBufSetExportTemplate(fbuf_, tid, &err)) {
          return Fail(result, FixbufError("set export template", err));
        }
        export_template_ = tid;
      }
      absl::StatusOr<bool> emitted =
          Append(reinterpret_cast<uint8_t*>(&wire), sizeof(wire));
      if (!emitted.ok()) return Fail(result, emitted.status());
      if (*emitted) {  // the message before this record went out
        result.written += in_message;
        in_message = 0;
      }
      ++in_message;
    }
    if (in_message > 0) {
      if (absl::Status s = Emit(); !s.ok()) return Fail(result, s);
      result.written += in_message;
    }
    return result;
  }

  void Close(absl::Time deadline) override { Teardown(); }

 private:
  absl::Status BuildSession() {
    GError* err = nullptr;
    session_ = fbSessionAlloc(model_);
    fbTemplate_t* internal = MakeTemplate(Only::kInternal, &err);
    if (internal == nullptr) return FixbufError("internal template", err);
    if (!fbSessionAddTemplate(session_, TRUE, kInternalTemplate, internal,
                              &err)) {
      fbTemplateFreeUnused(internal);
      return FixbufError("add internal template", err);
    }
    fbSessionSetDomain(session_, options_.observation_domain);
    for (auto [only, tid] : {std::pair{Only::kIpv4, kIpfixTemplateIpv4},
                             std::pair{Only::kIpv6, kIpfixTemplateIpv6}}) {
      fbTemplate_t* external = MakeTemplate(only, &err);
      if (external == nullptr) return FixbufError("template", err);
      if (!fbSessionAddTemplate(session_, FALSE, tid, external, &err)) {
        fbTemplateFreeUnused(external);
        return FixbufError("add template", err);
      }
    }
    // The options template of the type records (RFC 5610) that name and
    // type the enterprise elements for a collector. libfixbuf would export
    // them within the templates' message, which cannot hold them all in a
    // datagram: SendTemplates() appends them as records instead.
    type_template_ = fbSessionSetMetadataExportElements(session_, FALSE,
                                                        kTypeTemplate, &err);
    if (type_template_ == 0) return FixbufError("type template", err);
    fbExporter_t* exporter =
        fbExporterAllocBuffer(message_.data(), message_.size());
    fbuf_ = fBufAllocForExport(session_, exporter);  // owns both now
    session_ = nullptr;
    fBufSetAutomaticMode(fbuf_, FALSE);
    if (!fBufSetInternalTemplate(fbuf_, kInternalTemplate, &err)) {
      return FixbufError("set internal template", err);
    }
    export_template_ = 0;
    return absl::OkStatus();
  }

  // The internal template (every field) or an external one (the fields of
  // one family, no padding).
  fbTemplate_t* MakeTemplate(Only kind, GError** err) {
    fbTemplate_t* tmpl = fbTemplateAlloc(model_);
    for (const Field& f : kFields) {
      bool wanted = kind == Only::kInternal
                        ? true
                        : f.only == Only::kBoth || f.only == kind;
      if (!wanted) continue;
      fbInfoElementSpec_t spec{const_cast<char*>(f.element), f.wire_len, 0};
      if (!fbTemplateAppendSpec(tmpl, &spec, 0, err)) {
        fbTemplateFreeUnused(tmpl);
        return nullptr;
      }
    }
    return tmpl;
  }

  // The type records' template, the type records of the enterprise
  // elements (so that a collector knows their types before it reads the
  // templates that use them), then the two templates; in as many messages
  // as they need.
  absl::Status SendTemplates() {
    if (absl::Status s = ExportTemplates({type_template_}); !s.ok()) return s;
    GError* err = nullptr;
    if (!fBufSetInternalTemplate(fbuf_, type_template_, &err) ||
        !fBufSetExportTemplate(fbuf_, type_template_, &err)) {
      return FixbufError("set type template", err);
    }
    export_template_ = type_template_;
    for (const TypeRecord& t : type_records_) {
      fbInfoElementOptRec_t rec{};
      rec.ie_pen = kTcpInfoEnterprise;
      rec.ie_id = t.id;
      rec.ie_type = t.element->type;
      rec.ie_semantic = FB_IE_SEMANTIC(t.element->flags);
      rec.ie_units = FB_IE_UNITS(t.element->flags);
      rec.ie_name = Varfield(t.name);
      rec.ie_desc = Varfield(t.description);
      absl::StatusOr<bool> emitted =
          Append(reinterpret_cast<uint8_t*>(&rec), sizeof(rec));
      if (!emitted.ok()) return emitted.status();
    }
    if (!fBufSetInternalTemplate(fbuf_, kInternalTemplate, &err)) {
      return FixbufError("set internal template", err);
    }
    if (absl::Status s =
            ExportTemplates({kIpfixTemplateIpv4, kIpfixTemplateIpv6});
        !s.ok()) {
      return s;
    }
    next_templates_ = absl::Now() + options_.template_interval;
    return absl::OkStatus();
  }

  // Sends what the buffer holds, then the templates `tids` in a message of
  // their own (libfixbuf starts template sets in a new message: after data
  // it answers "end of message" first).
  absl::Status ExportTemplates(std::initializer_list<uint16_t> tids) {
    if (absl::Status s = Emit(); !s.ok()) return s;
    GError* err = nullptr;
    for (uint16_t tid : tids) {
      if (fbSessionExportTemplate(fBufGetSession(fbuf_), tid, &err)) continue;
      if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
        return FixbufError("export template", err);
      }
      g_clear_error(&err);
      if (absl::Status s = Emit(); !s.ok()) return s;
      if (!fbSessionExportTemplate(fBufGetSession(fbuf_), tid, &err)) {
        return FixbufError("export template", err);
      }
    }
    return Emit();
  }

  // Appends one record to the message in the buffer with the templates set
  // on it. When the message is full (or libfixbuf wants a new one after
  // template sets), sends it first and returns true.
  absl::StatusOr<bool> Append(uint8_t* record, size_t size) {
    GError* err = nullptr;
    if (fBufAppend(fbuf_, record, size, &err)) return false;
    if (!g_error_matches(err, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
      return FixbufError("append", err);
    }
    g_clear_error(&err);
    if (absl::Status s = Emit(); !s.ok()) return s;
    if (!fBufAppend(fbuf_, record, size, &err)) {
      return FixbufError("append", err);
    }
    return true;
  }

  // Closes the message in the buffer and sends it; nothing when there was
  // no message (libfixbuf then leaves message_ as it was: its first two
  // bytes, the IPFIX version 10, tell).
  absl::Status Emit() {
    message_[0] = message_[1] = 0;
    GError* err = nullptr;
    if (!fBufEmit(fbuf_, &err)) return FixbufError("emit", err);
    if (message_[1] != kIpfixVersion) return absl::OkStatus();
    size_t len = fbExporterGetMsgLen(fBufGetExporter(fbuf_));
    return client_.Send(message_.data(), len);
  }

  WriteResult& Fail(WriteResult& result, absl::Status status) {
    result.status = std::move(status);
    if (transport_ == NetClient::Transport::kTcp) Teardown();
    return result;
  }

  void Teardown() {
    if (fbuf_ != nullptr) fBufFree(fbuf_);  // and its session and exporter
    fbuf_ = nullptr;
    if (session_ != nullptr) fbSessionFree(session_);
    session_ = nullptr;
    client_.Close();
  }

  // One RFC 5610 type record per enterprise element, reverse ones too.
  struct TypeRecord {
    uint16_t id;
    std::string name;
    std::string description;
    const Enterprise* element;
  };
  std::vector<TypeRecord> type_records_;
  const std::string host_port_;
  const NetClient::Transport transport_;
  const IpfixOptions options_;
  std::vector<uint8_t> message_;  // where libfixbuf writes each message
  fbInfoModel_t* model_ = nullptr;
  fbSession_t* session_ = nullptr;  // until fbuf_ owns it
  fBuf_t* fbuf_ = nullptr;
  uint16_t export_template_ = 0;
  uint16_t type_template_ = 0;
  absl::Time next_templates_ = absl::InfinitePast();
  NetClient client_;
};

}  // namespace

std::unique_ptr<SinkWriter> NewIpfixWriter(const SinkUrl& url,
                                           const IpfixOptions& options) {
  return std::make_unique<IpfixWriter>(url, options);
}

std::unique_ptr<SinkWriter> NewIpfixWriter(const SinkUrl& url) {
  return NewIpfixWriter(url, IpfixOptions());
}

}  // namespace sinks
