// TrafficObserver: the CollectorObserver that sums every connection's
// traffic by peer and service into Prometheus counters, as
// network-traffic-metrics exposes them (-traffic):
//
//   <prefix>_bytes_total{src,dst,service,proto}    IP total lengths: payload
//                                                  plus segments x headers
//   <prefix>_packets_total{src,dst,service,proto}  segments
//   tcpinfo_traffic_payload_bytes_total{...}       payload bytes, exact
//   tcpinfo_traffic_series_overflow_total          adds past max_series
//
// Each direction of a connection is its own series: what it sent (src its
// local address, dst the remote; bytes_sent, retransmissions included, and
// segs_out) and what it received (src remote, dst local; bytes_received and
// segs_in; bytes_received less the one sequence number of the peer's FIN
// once a state after it, or CLOSE, shows it came). Segments are priced at
// HeaderBytes (header_size.h) of the connection's family and options. proto is
// "tcp"; service the name (service_names.h) of the server side's port: the
// local port if it is listening (flows::ListeningPorts) when the connection is
// first seen, else the remote port; "" when the port has no name.
//
//   OnFlowOpen   remembers the connection (LISTEN sockets are ignored):
//                its labels, its service. Connections first seen before the
//                first cycle ended (there when the daemon started) are
//                counted from their first snapshot on, not from their
//                start, so a restart adds no history.
//   OnSnapshot   adds the counters' exact deltas since its previous snapshot
//                (flows/counters.h, 32-bit wrap carried); the destroy
//                event's snapshot gives the final deltas.
//   OnFlowClose  forgets it.
//
// Addresses are shortened to local_prefix / remote_prefix when given. With
// `names` (-traffic.fqdn), an address kept whole is labelled by its
// reverse-DNS name once PeerNames has one (by the address until then).
//
// Memory: about 250 bytes per open connection (and its labels beyond 15
// characters, e.g. IPv6 addresses); nothing allocated per
// snapshot except by LabelledCounters::Add (a key string per add).
//
// Thread contract: as CollectorObserver, every call on the polling thread;
// collectable() is scraped from any thread.
#ifndef TCPINFO_TRAFFIC_TRAFFIC_OBSERVER_H_
#define TCPINFO_TRAFFIC_TRAFFIC_OBSERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "collector/observer.h"
#include "flows/listening_ports.h"
#include "metrics/labelled_counters.h"
#include "prometheus/collectable.h"
#include "traffic/address_prefix.h"
#include "traffic/peer_names.h"
#include "traffic/service_names.h"

namespace traffic {

struct TrafficOptions {
  std::string metric_prefix = "ntm";
  AddressPrefix local_prefix;
  AddressPrefix remote_prefix;
  size_t max_series = 1000;
  // Must outlive the observer; none may be null but `names`.
  const ServiceNames* services = nullptr;
  const flows::ListeningPorts* listening = nullptr;
  PeerNames* names = nullptr;  // -traffic.fqdn; null: addresses
};

// The scraped family names for `metric_prefix`.
std::string BytesFamily(const std::string& metric_prefix);
std::string PacketsFamily(const std::string& metric_prefix);
inline constexpr char kPayloadFamily[] = "tcpinfo_traffic_payload_bytes_total";
inline constexpr char kOverflowFamily[] =
    "tcpinfo_traffic_series_overflow_total";

class TrafficObserver : public collector::CollectorObserver {
 public:
  // Family indices in counters().
  static constexpr size_t kBytes = 0, kPackets = 1, kPayload = 2;

  explicit TrafficObserver(TrafficOptions options);
  ~TrafficObserver() override;
  TrafficObserver(const TrafficObserver&) = delete;
  TrafficObserver& operator=(const TrafficObserver&) = delete;

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override;
  void OnCycle(const collector::CycleStats& stats) override;

  // For the metrics server.
  std::shared_ptr<prometheus::Collectable> collectable() const;
  const metrics::LabelledCounters& counters() const;
  size_t open_connections() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace traffic

#endif  // TCPINFO_TRAFFIC_TRAFFIC_OBSERVER_H_
