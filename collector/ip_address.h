// IpAddress: an IPv4 or IPv6 address in the layout of inet_diag_sockid
// (network byte order; IPv4 in the first 4 bytes, the rest zero), and the
// address classes the collector skips.
//
// Plain value type; all functions are thread-safe.
#ifndef TCPINFO_COLLECTOR_IP_ADDRESS_H_
#define TCPINFO_COLLECTOR_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace collector {

struct IpAddress {
  uint8_t family = 0;  // inetdiag::kAfInet or kAfInet6
  std::array<uint8_t, 16> bytes{};

  // An address as it appears in an inet_diag_sockid of `family`.
  static IpAddress FromSockId(uint8_t family, const uint32_t words[4]);

  // True for an IPv6 address of the form ::ffff:a.b.c.d.
  bool IsV4Mapped() const;
  // The IPv4 address of an AF_INET or v4-mapped address, in the first 4
  // bytes of an AF_INET IpAddress; *this otherwise.
  IpAddress Unmapped() const;

  // Loopback (127/8, ::1), link-local unicast (169.254/16, fe80::/10),
  // multicast (224/4, ff00::/8) or unspecified (0.0.0.0, ::): what Go's
  // net.IP methods call them, v4-mapped addresses judged as IPv4.
  bool IsLocal() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family == b.family && a.bytes == b.bytes;
  }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) {
    return !(a == b);
  }
};

// IpAddress::IsLocal() of the address `words` holds in an inet_diag_sockid
// of `family`, without copying it (the filter's hot path).
bool IsLocalAddress(uint8_t family, const uint32_t words[4]);

// Parses "10.1.2.3" or "fd77::1". InvalidArgument on anything else.
absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text);

// "10.1.2.3" / "fd77::1".
std::string FormatIpAddress(const IpAddress& address);

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_IP_ADDRESS_H_
