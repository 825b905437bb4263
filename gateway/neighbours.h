// Neighbours: the kernel's neighbour table (ARP and NDP) of the LAN
// interfaces, kept current from rtnetlink: one RTM_GETNEIGH dump at Open and
// after a lost event, RTM_NEWNEIGH / RTM_DELNEIGH events in between. It maps
// a LAN address to its device's MAC and gives each device's last IPv4 and
// IPv6 address (the one of its most recent neighbour update; IPv6
// link-local addresses only when the device has no other).
//
// An entry stays known after the kernel deletes it (a device that went
// quiet keeps its MAC for the bytes counted before), until its address is
// seen with another MAC. Entries without a link-layer address (INCOMPLETE,
// FAILED) are ignored.
//
// Thread contract: one thread at a time (the gateway's own).
#ifndef TCPINFO_GATEWAY_NEIGHBOURS_H_
#define TCPINFO_GATEWAY_NEIGHBOURS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/ip_address.h"

namespace gateway {

using Mac = std::array<uint8_t, 6>;

// "aa:bb:cc:dd:ee:ff".
std::string FormatMac(const Mac& mac);

struct DeviceAddresses {
  std::optional<collector::IpAddress> ipv4;
  std::optional<collector::IpAddress> ipv6;
  bool ipv6_link_local = false;  // ipv6 is fe80::/10
};

class Neighbours {
 public:
  // Subscribes to events, then dumps the table. `lan_ifindexes`: the
  // interfaces whose neighbours are devices.
  static absl::StatusOr<std::unique_ptr<Neighbours>> Open(
      std::vector<int> lan_ifindexes);
  ~Neighbours();
  Neighbours(const Neighbours&) = delete;
  Neighbours& operator=(const Neighbours&) = delete;

  // The event socket, readable when events wait; for poll().
  int fd() const;
  // Applies every waiting event without blocking; after ENOBUFS (events
  // lost) dumps the table again.
  absl::Status Drain();

  // The MAC of LAN address `address`, if known.
  std::optional<Mac> Lookup(const collector::IpAddress& address) const;
  // The device's last addresses (none when never seen).
  DeviceAddresses AddressesOf(const Mac& mac) const;

  // Events lost to ENOBUFS (each followed by a dump).
  uint64_t overflows() const { return overflows_; }

  // Applies one RTM_NEWNEIGH / RTM_DELNEIGH message (exposed for tests).
  void Apply(const void* message, size_t size);

 private:
  Neighbours() = default;
  absl::Status Dump();

  std::vector<int> lan_ifindexes_;
  int events_fd_ = -1;
  int dump_fd_ = -1;
  uint32_t seq_ = 1;
  uint64_t overflows_ = 0;
  absl::flat_hash_map<std::array<uint8_t, 17>, Mac> mac_by_address_;
  absl::flat_hash_map<Mac, DeviceAddresses> addresses_by_mac_;
};

}  // namespace gateway

#endif  // TCPINFO_GATEWAY_NEIGHBOURS_H_
