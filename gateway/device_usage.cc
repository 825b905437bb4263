#include "gateway/device_usage.h"

#include <sys/socket.h>

#include <cstring>

namespace gateway {

std::vector<DeviceDelta> DeviceUsage::Account(
    const std::vector<NftCount>& counts, Lookup lookup) {
  absl::flat_hash_map<Mac, DeviceDelta> by_mac;
  for (const NftCount& c : counts) {
    Mac mac;
    if (c.key == NftCount::kMacUp) {
      std::memcpy(mac.data(), c.bytes_of_key, 6);
    } else {
      collector::IpAddress address;
      const bool v4 = c.key == NftCount::kAddr4Down;
      address.family = v4 ? AF_INET : AF_INET6;
      std::memcpy(address.bytes.data(), c.bytes_of_key, v4 ? 4 : 16);
      std::optional<Mac> found = lookup(address);
      if (!found.has_value()) continue;  // held until its MAC is known
      mac = *found;
    }
    std::array<uint8_t, 17> key;
    key[0] = c.key;
    std::memcpy(key.data() + 1, c.bytes_of_key, 16);
    Reported& r = reported_[key];
    if (c.bytes < r.bytes || c.packets < r.packets) r = Reported{};
    const uint64_t bytes = c.bytes - r.bytes;
    const uint64_t packets = c.packets - r.packets;
    r = Reported{c.bytes, c.packets};
    if (bytes == 0 && packets == 0) continue;
    DeviceDelta& d = by_mac[mac];
    d.mac = mac;
    if (c.key == NftCount::kMacUp) {
      d.upload_bytes += bytes;
      d.upload_packets += packets;
    } else {
      d.download_bytes += bytes;
      d.download_packets += packets;
    }
  }
  std::vector<DeviceDelta> out;
  out.reserve(by_mac.size());
  for (auto& [mac, d] : by_mac) out.push_back(d);
  return out;
}

}  // namespace gateway
