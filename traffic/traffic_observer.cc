#include "traffic/traffic_observer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "collector/ip_address.h"
#include "flows/counters.h"
#include "flows/flow_record.h"
#include "inetdiag/inet_diag.h"
#include "tcp/tcp_info.h"
#include "traffic/header_size.h"

namespace traffic {

namespace {

constexpr absl::string_view kProto = "tcp";

// What the observer keeps of one open connection.
struct Connection {
  flows::FlowCounters total;  // at its last snapshot
  // Payload received counted so far: bytes_received less the peer's FIN.
  uint64_t received_payload = 0;
  collector::IpAddress local;
  collector::IpAddress remote;
  std::string local_label;
  std::string remote_label;
  absl::string_view service;  // into ServiceNames
  uint32_t header = 0;        // bytes per segment
  bool wire_ipv4 = false;
  // Its first snapshot sets `total` without counting (there at start).
  bool baseline = false;
  // The label is final: a name, or an address that gets none (a prefix).
  bool local_final = false;
  bool remote_final = false;
};

// Received payload in `total`: tcpi_bytes_received counts the peer's FIN
// (one sequence number) once it arrived, which the states after it show;
// a connection closed (CLOSE) is taken to have had one.
uint64_t ReceivedPayload(const flows::FlowCounters& total, uint8_t state) {
  const bool fin = state == tcp::kCloseWait || state == tcp::kLastAck ||
                   state == tcp::kClosing || state == tcp::kTimeWait ||
                   state == tcp::kClose;
  return fin && total.bytes_received > 0 ? total.bytes_received - 1
                                         : total.bytes_received;
}

}  // namespace

std::string BytesFamily(const std::string& metric_prefix) {
  return absl::StrCat(metric_prefix, "_bytes_total");
}

std::string PacketsFamily(const std::string& metric_prefix) {
  return absl::StrCat(metric_prefix, "_packets_total");
}

struct TrafficObserver::Rep {
  explicit Rep(TrafficOptions o)
      : options(std::move(o)),
        counters(std::make_shared<metrics::LabelledCounters>(
            metrics::LabelledCountersOptions{
                .families =
                    {{BytesFamily(options.metric_prefix),
                      "Bytes transferred (IP total length: payload and "
                      "headers), by direction, from tcp_info counters."},
                     {PacketsFamily(options.metric_prefix),
                      "Packets (TCP segments) transferred."},
                     {kPayloadFamily,
                      "TCP payload bytes transferred (retransmissions "
                      "included), exact."}},
                .label_names = {"src", "dst", "service", "proto"},
                .max_series = options.max_series,
                .overflow_name = kOverflowFamily,
                .overflow_help = "Traffic additions summed under the "
                                 "\"other\" series because "
                                 "-traffic.max-series series existed."})) {}

  // Refreshes a label from the reverse-DNS cache until it is final.
  void Name(const collector::IpAddress& address, std::string* label,
            bool* final) {
    if (*final) return;
    const std::string& name = options.names->Lookup(address.Unmapped());
    if (name.empty()) return;
    *label = name;
    *final = true;
  }

  void AddDirection(absl::string_view src, absl::string_view dst,
                    absl::string_view service, uint64_t payload,
                    uint64_t segments, uint32_t header) {
    if (payload == 0 && segments == 0) return;
    const std::array<absl::string_view, 4> labels = {src, dst, service, kProto};
    const std::array<uint64_t, 3> values = {payload + segments * header,
                                            segments, payload};
    counters->Add(labels, values);
  }

  const TrafficOptions options;
  const std::shared_ptr<metrics::LabelledCounters> counters;
  absl::flat_hash_map<uint64_t, Connection> connections;
  bool cycled = false;  // a cycle has ended
};

TrafficObserver::TrafficObserver(TrafficOptions options)
    : rep_(std::make_unique<Rep>(std::move(options))) {}

TrafficObserver::~TrafficObserver() = default;

void TrafficObserver::OnFlowOpen(uint64_t cookie, parse::Timestamp,
                                 const parse::RecordView& first) {
  const inetdiag::Msg msg = first.Idm();
  if (msg.state == tcp::kListen) return;
  auto [it, inserted] = rep_->connections.try_emplace(cookie);
  if (!inserted) return;
  Connection& c = it->second;
  const TrafficOptions& o = rep_->options;
  c.local = collector::IpAddress::FromSockId(msg.family, msg.id.src);
  c.remote = collector::IpAddress::FromSockId(msg.family, msg.id.dst);
  c.wire_ipv4 = c.remote.Unmapped().family == inetdiag::kAfInet;
  c.local_label = o.local_prefix.Label(c.local);
  c.remote_label = o.remote_prefix.Label(c.remote);
  c.local_final = o.names == nullptr || !o.local_prefix.KeepsWhole(c.local);
  c.remote_final = o.names == nullptr || !o.remote_prefix.KeepsWhole(c.remote);
  const uint16_t local_port = ntohs(msg.id.sport_be);
  const uint16_t remote_port = ntohs(msg.id.dport_be);
  c.service = o.services->Name(o.listening->Contains(local_port) ? local_port
                                                                 : remote_port);
  c.header = HeaderBytes(c.wire_ipv4, 0);
  c.baseline = !rep_->cycled;
}

void TrafficObserver::OnSnapshot(uint64_t cookie, parse::Timestamp,
                                 const parse::RecordView& record,
                                 parse::Change) {
  const auto it = rep_->connections.find(cookie);
  if (it == rep_->connections.end()) return;
  Connection& c = it->second;
  if (!record.Has(inetdiag::kInfo)) return;
  const tcp::TcpInfo info = flows::ReadTcpInfo(record);
  const flows::FlowCounters before = c.total;
  flows::AdvanceCounters(info, &c.total);
  // Options are known once the handshake is done; a segment before it
  // (the SYN) is priced without them.
  c.header = HeaderBytes(c.wire_ipv4, info.options);
  const uint64_t received = std::max(
      c.received_payload, ReceivedPayload(c.total, record.Idm().state));
  const uint64_t received_delta = received - c.received_payload;
  c.received_payload = received;
  if (c.baseline) {
    c.baseline = false;
    return;
  }
  const flows::FlowCounters d = flows::Subtract(c.total, before);
  if (rep_->options.names != nullptr) {
    rep_->Name(c.local, &c.local_label, &c.local_final);
    rep_->Name(c.remote, &c.remote_label, &c.remote_final);
  }
  rep_->AddDirection(c.local_label, c.remote_label, c.service, d.bytes_sent,
                     d.segs_out, c.header);
  rep_->AddDirection(c.remote_label, c.local_label, c.service, received_delta,
                     d.segs_in, c.header);
}

void TrafficObserver::OnFlowClose(uint64_t cookie, parse::Timestamp,
                                  collector::CloseReason) {
  rep_->connections.erase(cookie);
}

void TrafficObserver::OnCycle(const collector::CycleStats&) {
  rep_->cycled = true;
}

std::shared_ptr<prometheus::Collectable> TrafficObserver::collectable() const {
  return rep_->counters;
}

const metrics::LabelledCounters& TrafficObserver::counters() const {
  return *rep_->counters;
}

size_t TrafficObserver::open_connections() const {
  return rep_->connections.size();
}

}  // namespace traffic
