// SocketKeyOf: the SocketKey (owner.h) of an inet_diag reply: its cookie,
// inode, uid and INET_DIAG_CGROUP_ID (which the kernel sends with every
// dumped socket, 5.7 on). A destroy event's message names no socket (inode
// 0, and no uid or cgroup worth reading): its key has the cookie alone.
// For the owner tracker and `tcp-info top`, which resolve owners of what
// they dump.
//
// Pure function; thread-safe.
#ifndef TCPINFO_OWNERS_SOCKET_KEY_H_
#define TCPINFO_OWNERS_SOCKET_KEY_H_

#include <cstdint>

#include "owners/owner.h"
#include "parse/record_view.h"

namespace owners {

// REQUIRES: record.raw_idm is a whole inet_diag_msg.
SocketKey SocketKeyOf(uint64_t cookie, const parse::RecordView& record);

}  // namespace owners

#endif  // TCPINFO_OWNERS_SOCKET_KEY_H_
