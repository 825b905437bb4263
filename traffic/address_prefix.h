// AddressPrefix: how many leading bits of an address a traffic label keeps
// (-traffic.local-prefix, -traffic.remote-prefix), IPv4 and IPv6 apart.
//
//   Parse("24")      IPv4 /24, IPv6 whole (/128)
//   Parse("24,64")   IPv4 /24, IPv6 /64
//   Parse("")        both whole (the default)
//
// A v4-mapped IPv6 address (::ffff:a.b.c.d) is an IPv4 address here: it
// gets the IPv4 prefix and is written dotted. Label() writes an address kept
// whole as itself ("10.1.2.3", "fd77::1") and a shortened one as its network
// with the prefix ("10.1.2.0/24", "fd77::/64").
//
// Plain value type; thread-safe.
#ifndef TCPINFO_TRAFFIC_ADDRESS_PREFIX_H_
#define TCPINFO_TRAFFIC_ADDRESS_PREFIX_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/ip_address.h"

namespace traffic {

struct AddressPrefix {
  int v4 = 32;
  int v6 = 128;

  // InvalidArgument unless "V4" or "V4,V6" with 0 <= V4 <= 32 and
  // 0 <= V6 <= 128 (or empty).
  static absl::StatusOr<AddressPrefix> Parse(absl::string_view text);

  // `address` (unmapped) with the bits past its family's prefix zeroed.
  collector::IpAddress Apply(const collector::IpAddress& address) const;
  // Whether Apply keeps every bit of `address` (it is a host, not a net).
  bool KeepsWhole(const collector::IpAddress& address) const;
  // The label of Apply(address), as above.
  std::string Label(const collector::IpAddress& address) const;
};

}  // namespace traffic

#endif  // TCPINFO_TRAFFIC_ADDRESS_PREFIX_H_
