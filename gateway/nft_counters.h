// NftCounters: tcp-info's own nftables table, counting every forwarded
// packet by LAN device in the kernel, so that per-device usage costs one
// read per interval of a few elements per device, whatever the number of
// flows.
//
// The table, `inet tcp_info`, holds one base chain in the forward hook
// (priority filter + 10, after the host's filter chains: what they drop is
// not counted; policy accept, so it never changes what is forwarded) and
// three dynamic sets with a counter per element, filled by the kernel from
// the first packet on:
//
//   mac_up     ether_addr  packets forwarded in from a LAN interface, by
//                          source MAC (upload);
//   addr4_down ipv4_addr   packets forwarded out to a LAN interface, by
//   addr6_down ipv6_addr   destination address (download; the link-layer
//                          destination is not known in the forward hook,
//                          so the neighbour table maps these to MACs).
//
// Counters are of skb->len in the forward hook: IP-layer bytes (header
// included), as conntrack counts. The table is created with the owner flag
// (NFT_TABLE_F_OWNER, Linux 5.12): it belongs to this object's netlink
// socket and the kernel removes it when that socket closes, even if the
// process is killed; a table of the same name left by an older run (made
// without the flag) is replaced. The host's other tables are never read
// nor touched. Each set holds at most `max_elements`; beyond that new keys
// are not counted.
//
// Netlink through libnftnl (message building and parsing of nf_tables'
// attributes, nested expressions included) over libmnl: the nft binary is
// never run, and no ruleset text is parsed.
//
// Thread contract: one thread at a time (the gateway's own).
#ifndef TCPINFO_GATEWAY_NFT_COUNTERS_H_
#define TCPINFO_GATEWAY_NFT_COUNTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gateway {

// One element's cumulative counter.
struct NftCount {
  enum Key : uint8_t { kMacUp, kAddr4Down, kAddr6Down };
  Key key = kMacUp;
  uint8_t bytes_of_key[16] = {};  // 6 (MAC), 4 or 16 (address) used
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class NftCounters {
 public:
  static constexpr char kTable[] = "tcp_info";

  // Creates the table for `lan_interfaces` (names) in this network
  // namespace, replacing a stale one. PermissionDenied without
  // CAP_NET_ADMIN; FailedPrecondition when another live process owns it.
  static absl::StatusOr<std::unique_ptr<NftCounters>> Create(
      const std::vector<std::string>& lan_interfaces,
      uint32_t max_elements = 65536);
  // Deletes the table (the socket's close would too).
  ~NftCounters();
  NftCounters(const NftCounters&) = delete;
  NftCounters& operator=(const NftCounters&) = delete;

  // Every element of the three sets, replacing *out (its capacity reused).
  absl::Status Read(std::vector<NftCount>* out);

 private:
  struct Rep;
  explicit NftCounters(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace gateway

#endif  // TCPINFO_GATEWAY_NFT_COUNTERS_H_
