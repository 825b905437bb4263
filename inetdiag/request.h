// The inet_diag dump request tcp-info sends every polling cycle: a netlink
// header followed by an inet_diag_req_v2, asking for every TCP socket of one
// address family in every state except SYN_RECV, TIME_WAIT and CLOSE, with
// the attributes the reference collector archives (INET_DIAG_MEMINFO, INFO,
// VEGASINFO, CONG, TOS, TCLASS, SKMEMINFO and SHUTDOWN).
//
// Plain data and pure functions; thread-safe.
#ifndef TCPINFO_INETDIAG_REQUEST_H_
#define TCPINFO_INETDIAG_REQUEST_H_

#include <linux/netlink.h>

#include <cstdint>
#include <vector>

#include "inetdiag/inet_diag.h"

namespace inetdiag {

// Returns the idiag_ext bit that requests attribute `type` (type 1..8 only;
// later attributes are not requested through idiag_ext).
constexpr uint8_t ExtensionBit(Attribute type) {
  return static_cast<uint8_t>(1u << (type - 1));
}

// idiag_states: TCPF_ALL (0xFFF) without SYN_RECV (3), TIME_WAIT (6) and
// CLOSE (7), exactly the reference's request.
inline constexpr uint32_t kDumpStates =
    0xFFFu & ~((1u << 3) | (1u << 6) | (1u << 7));

// idiag_ext: the attributes every snapshot carries.
inline constexpr uint8_t kDumpExtensions =
    ExtensionBit(kMemInfo) | ExtensionBit(kInfo) | ExtensionBit(kVegasInfo) |
    ExtensionBit(kCong) | ExtensionBit(kTos) | ExtensionBit(kTClass) |
    ExtensionBit(kSkMemInfo) | ExtensionBit(kShutdown);

// IPPROTO_TCP.
inline constexpr uint8_t kProtocolTcp = 6;

// One SOCK_DIAG_BY_FAMILY dump request as it goes on the wire.
struct DumpRequest {
  struct nlmsghdr header;
  ReqV2 request;
};
static_assert(sizeof(DumpRequest) == 72);
static_assert(offsetof(DumpRequest, request) == NLMSG_HDRLEN);

// The request for the TCP sockets of `family` (kAfInet or kAfInet6) in
// `states` (bit s for TCP state s) with the attributes `extensions` asks
// for, with NLM_F_REQUEST | NLM_F_DUMP, sequence number `sequence` and port
// id 0 (the kernel). A request for LISTEN only (1 << 10) makes the kernel
// walk its listening hash alone.
DumpRequest MakeDumpRequest(uint8_t family, uint32_t sequence,
                            uint32_t states = kDumpStates,
                            uint8_t extensions = kDumpExtensions);

// One dump the collector sends per family: the states asked for and a
// filter program (INET_DIAG_REQ_BYTECODE; empty: none) the kernel runs on
// each socket in them.
struct DumpQuery {
  uint32_t states = kDumpStates;
  std::vector<uint8_t> bytecode;
};

// MakeDumpRequest(family, sequence, states, extensions) as bytes, followed
// by an INET_DIAG_REQ_BYTECODE attribute holding `bytecode` unless it is
// empty (nlmsg_len covers both). REQUIRES: bytecode.size() % 4 == 0 and at
// most 65531 bytes.
std::vector<char> MakeDumpRequestBytes(
    uint8_t family, uint32_t sequence, uint32_t states, uint8_t extensions,
    const std::vector<uint8_t>& bytecode = {});

}  // namespace inetdiag

#endif  // TCPINFO_INETDIAG_REQUEST_H_
