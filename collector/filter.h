// Filter: decides which connections tcp-info does not archive, as the
// reference's exclusion rules do (netlink.ExcludeConfig):
//
//  - local connections: loopback, link-local, multicast or unspecified
//    source or destination (listening sockets included), unless
//    include_local;
//  - connections whose source port is in exclude_srcports;
//  - connections whose destination address is in exclude_dstips (an IPv4
//    address also matches its v4-mapped IPv6 form).
//
// Immutable after construction; Skip() is thread-safe and allocates
// nothing.
#ifndef TCPINFO_COLLECTOR_FILTER_H_
#define TCPINFO_COLLECTOR_FILTER_H_

#include <bitset>
#include <cstdint>
#include <vector>

#include "collector/ip_address.h"
#include "inetdiag/inet_diag.h"

namespace collector {

struct FilterOptions {
  bool include_local = false;
  std::vector<uint16_t> exclude_srcports;
  std::vector<IpAddress> exclude_dstips;
};

class Filter {
 public:
  explicit Filter(const FilterOptions& options);

  // True if the connection `msg` describes must not be archived.
  bool Skip(const inetdiag::Msg& msg) const;

 private:
  bool include_local_;
  std::bitset<65536> excluded_ports_;
  std::vector<IpAddress> excluded_dsts_;  // unmapped; few entries
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_FILTER_H_
