// HeaderBytes: the IP and TCP header bytes of one segment of a connection,
// for turning its segment counters into bytes on the wire as tcpdump's
// `length` (the IP total length) counts them.
//
//   IPv4 20 (no IP options), IPv6 40 (no extension headers), TCP 20, plus
//   12 when the connection uses timestamps (tcpi_options &
//   TCPI_OPT_TIMESTAMPS: the 10-byte option padded to 12, carried by every
//   segment after the handshake).
//
// A v4-mapped IPv6 socket sends IPv4 packets: pass the family of the
// addresses on the wire. What this leaves out (SYN options, SACK blocks) is
// in the README ("Traffic by peer and service"). Thread-safe.
#ifndef TCPINFO_TRAFFIC_HEADER_SIZE_H_
#define TCPINFO_TRAFFIC_HEADER_SIZE_H_

#include <cstdint>

namespace traffic {

// tcpi_options bit (uapi/linux/tcp.h TCPI_OPT_TIMESTAMPS).
inline constexpr uint8_t kTcpiOptTimestamps = 1;

// REQUIRES: wire_ipv4 says whether the packets are IPv4 (else IPv6).
constexpr uint32_t HeaderBytes(bool wire_ipv4, uint8_t tcpi_options) {
  return (wire_ipv4 ? 20 : 40) + 20 +
         ((tcpi_options & kTcpiOptTimestamps) != 0 ? 12 : 0);
}

}  // namespace traffic

#endif  // TCPINFO_TRAFFIC_HEADER_SIZE_H_
