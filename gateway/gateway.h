// Gateway: gateway mode (-gateway.lan). On a router, every LAN device's
// download and upload per interval, counted by the kernel in tcp-info's own
// nftables table (gateway/nft_counters.h) and attributed to MACs through
// the neighbour table (gateway/neighbours.h), at a cost that grows with the
// devices, not the flows (README "Gateway mode").
//
// Every `interval`, for each device with traffic since the previous one,
// one flows::Measurement of kind kDeviceUsage goes to the consumer (tag
// mac; fields download, upload in bytes, ipv4 and ipv6 the device's last
// addresses or no value), and the Prometheus counters
// tcpinfo_gateway_device_{bytes,packets}_total{mac,direction} grow (at
// most `max_series` label sets, the rest under mac="other").
//
// Thread contract: Start and Stop from one thread; the work runs on the
// gateway's own thread, so it never delays the TCP collector's cycles.
// The consumer is called from that thread.
#ifndef TCPINFO_GATEWAY_GATEWAY_H_
#define TCPINFO_GATEWAY_GATEWAY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flows/measurement.h"
#include "prometheus/collectable.h"

namespace gateway {

struct GatewayOptions {
  std::vector<std::string> lan_interfaces;  // at least one
  absl::Duration interval = absl::Seconds(1);
  size_t max_series = 1000;   // per-device Prometheus label sets
  uint32_t max_keys = 65536;  // per nftables set (MACs, addresses)
};

class Gateway {
 public:
  // Checks CAP_NET_ADMIN and the interfaces, creates the nftables table,
  // reads the neighbour table and starts the thread. PermissionDenied
  // without CAP_NET_ADMIN, InvalidArgument for an unknown interface, the
  // kernel's refusal otherwise; each in one line. `consumer` (may be null:
  // Prometheus only) must outlive Stop().
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      GatewayOptions options, flows::MeasurementConsumer* consumer);
  // Stop(), if not done.
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Counts the last partial interval, hands its measurements over, joins
  // the thread and removes the nftables table.
  void Stop();

  // The per-device counters and the gateway's own (reads, errors, lost
  // neighbour events).
  std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  struct Rep;
  explicit Gateway(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace gateway

#endif  // TCPINFO_GATEWAY_GATEWAY_H_
