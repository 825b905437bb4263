// BpfHook: the SocketHook of a BPF program (owners/bpf/owners.bpf.c,
// libbpf CO-RE) that records the process, uid and cgroup of each TCP
// socket as it is made (connect: sock:inet_sock_set_state to SYN_SENT) or
// first used (its first send or receive by a task, sock:sock_send_length
// and sock:sock_recv_length: so an accepted socket is its accepting
// process's, the accept path having no tracepoint), keyed by socket cookie
// in an LRU hash of 65,536 entries (the oldest are evicted first), for the
// sockets of the network namespace of the thread that opened it only.
// Connections shorter than a poll, gone from /proc before any scan, keep
// their owner so.
//
//   Open()  loads and attaches the program. Fails (one line: why) without
//           the privilege (CAP_BPF and CAP_PERFMON, or root), without
//           kernel support (BTF, fentry), or when tcp-info was built
//           without it (no clang, bpftool, libbpf or vmlinux BTF at build
//           time). If only the first-use probes fail (a kernel before
//           6.3) the connect one is kept: accepts() says which.
//
// Thread contract: Lookup from any thread (a map lookup system call).
#ifndef TCPINFO_OWNERS_BPF_HOOK_H_
#define TCPINFO_OWNERS_BPF_HOOK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "owners/socket_hook.h"

namespace owners {

class BpfHook : public SocketHook {
 public:
  static absl::StatusOr<std::unique_ptr<BpfHook>> Open();
  ~BpfHook() override;
  BpfHook(const BpfHook&) = delete;
  BpfHook& operator=(const BpfHook&) = delete;

  bool Lookup(uint64_t cookie, HookRecord* record) override;
  // Whether accepted connections are recorded too (the first-use probes).
  bool accepts() const;
  // Why not, when not.
  std::string why_no_accepts() const;

 private:
  struct Rep;
  explicit BpfHook(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_BPF_HOOK_H_
