// DeviceUsage: turns successive reads of NftCounters' cumulative counters
// into each LAN device's traffic per interval.
//
// Upload elements are keyed by MAC already; download elements by LAN
// address, attributed to the MAC the neighbour table gives at the time of
// the read. Traffic to an address whose MAC is not known yet is held (not
// lost) and attributed at the first read that knows it. A counter that
// went back (the table was recreated) counts from zero again.
//
// Thread contract: one thread at a time (the gateway's own).
#ifndef TCPINFO_GATEWAY_DEVICE_USAGE_H_
#define TCPINFO_GATEWAY_DEVICE_USAGE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "collector/ip_address.h"
#include "gateway/neighbours.h"
#include "gateway/nft_counters.h"

namespace gateway {

struct DeviceDelta {
  Mac mac{};
  uint64_t download_bytes = 0;
  uint64_t download_packets = 0;
  uint64_t upload_bytes = 0;
  uint64_t upload_packets = 0;
};

class DeviceUsage {
 public:
  using Lookup =
      absl::FunctionRef<std::optional<Mac>(const collector::IpAddress&)>;

  // The traffic since the previous call, one entry per device that had
  // any, in no particular order. `counts`: a complete read.
  std::vector<DeviceDelta> Account(const std::vector<NftCount>& counts,
                                   Lookup lookup);

  // Elements (keys) followed.
  size_t keys() const { return reported_.size(); }

 private:
  struct Reported {
    uint64_t bytes = 0;
    uint64_t packets = 0;
  };
  // Key: NftCount::Key then the key's bytes.
  absl::flat_hash_map<std::array<uint8_t, 17>, Reported> reported_;
};

}  // namespace gateway

#endif  // TCPINFO_GATEWAY_DEVICE_USAGE_H_
