// The kernel's per-namespace established hash (net.ipv4.tcp_child_ehash_
// entries, kernel 5.19 and later): a network namespace created while this
// sysctl is non-zero in its parent (the creator's namespace) gets a TCP
// established hash of its own with that many buckets (a power of two, at
// least 128); otherwise it shares the host-wide one. A dump walks the hash
// of its socket's namespace, so a namespace on the shared hash costs a walk
// of every host bucket and every socket of every such namespace, one with
// its own only its own sockets (README, Namespaces: cost).
//
// Thread-safe (one write to /proc).
#ifndef TCPINFO_NETNS_CHILD_EHASH_H_
#define TCPINFO_NETNS_CHILD_EHASH_H_

#include <cstdint>

#include "absl/status/status.h"

namespace netns {

// Sets net.ipv4.tcp_child_ehash_entries of the calling thread's namespace
// to `entries` (0 turns it off); namespaces created from it afterwards get
// their own hash. Fails with one line naming the sysctl (no such sysctl:
// kernel before 5.19; no permission; a value the kernel refuses, above
// 16,777,216).
absl::Status SetChildEhashEntries(int64_t entries);

}  // namespace netns

#endif  // TCPINFO_NETNS_CHILD_EHASH_H_
