// SocketHook: what a kernel hook recorded about a socket when it was made
// (connect or accept), keyed by socket cookie, so that a connection gone
// before any /proc scan still has an owner. bpf_hook.h implements it.
//
// Thread contract: Lookup may be called from any thread.
#ifndef TCPINFO_OWNERS_SOCKET_HOOK_H_
#define TCPINFO_OWNERS_SOCKET_HOOK_H_

#include <cstdint>
#include <string>

namespace owners {

struct HookRecord {
  uint32_t tgid = 0;  // the process (user space's pid)
  uint32_t tid = 0;   // the thread
  uint32_t uid = 0;
  uint64_t cgroup_id = 0;
  std::string comm;  // the thread's name at connect/accept
};

class SocketHook {
 public:
  virtual ~SocketHook() = default;
  // The record for `cookie`; false when the hook has none (made before the
  // hook was attached, or evicted from its bounded map).
  virtual bool Lookup(uint64_t cookie, HookRecord* record) = 0;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_SOCKET_HOOK_H_
