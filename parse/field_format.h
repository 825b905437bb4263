// Text forms of snapshot fields, as the reference Go tcp-info writes them in
// its CSV: decimal integers, socket addresses as Go's net.IP.String() prints
// the reference's ip() conversion, and upper-case hex cookies.
//
// Each function writes at `p` and returns the end. REQUIRES: room for the
// longest form (kMaxFieldChars). Thread-safe, no allocation.
#ifndef TCPINFO_PARSE_FIELD_FORMAT_H_
#define TCPINFO_PARSE_FIELD_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace parse {

// Longest text any function here writes (an IPv6 address is 39).
inline constexpr size_t kMaxFieldChars = 48;

// Decimal, without leading zeros ("0" for zero).
char* FormatUint(uint64_t v, char* p);
char* FormatInt(int64_t v, char* p);

// Upper-case hex without leading zeros, as Go's fmt "%X".
char* FormatHex(uint64_t v, char* p);

// An inet_diag address (16 bytes, network order) as the reference prints it:
// dotted IPv4 when bytes 4..15 are zero (so IPv4 sockets, but also an IPv6
// address such as "2001:db8::" whose last 12 bytes are zero), dotted IPv4 for
// an IPv4-mapped address, else RFC 5952 IPv6 ("2620:0:1003:415::81").
char* FormatSockAddress(const uint8_t bytes[16], char* p);

}  // namespace parse

#endif  // TCPINFO_PARSE_FIELD_FORMAT_H_
