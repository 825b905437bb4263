// The inet_diag request for one known socket: a netlink header (without
// NLM_F_DUMP) followed by an inet_diag_req_v2 carrying the socket's full
// inet_diag_sockid, cookie included. The kernel answers it with a hash
// lookup, not a walk of its socket table: one SOCK_DIAG_BY_FAMILY message
// with the requested attributes, or an NLMSG_ERROR (ENOENT: no such socket;
// ESTALE: the tuple now belongs to a socket with another cookie). Several
// such requests may be sent back to back in one datagram; each gets its own
// reply, matched by its sequence number.
//
// Plain data and pure functions; thread-safe.
#ifndef TCPINFO_INETDIAG_EXACT_REQUEST_H_
#define TCPINFO_INETDIAG_EXACT_REQUEST_H_

#include <cstdint>

#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"

namespace inetdiag {

// The request for the socket `id` (as a dump reported it, cookie included)
// of `family`, asking for the attributes `extensions`, with NLM_F_REQUEST
// only and sequence number `sequence`. Same wire layout as DumpRequest.
DumpRequest MakeExactRequest(uint8_t family, const SockId& id,
                             uint32_t sequence,
                             uint8_t extensions = kDumpExtensions);

}  // namespace inetdiag

#endif  // TCPINFO_INETDIAG_EXACT_REQUEST_H_
