// SocketInodes: which processes hold which sockets, from /proc/PID/fd: the
// map from a socket's inode (inet_diag's idiag_inode) to the lowest pid
// holding it and the number of processes that do (a socket inherited
// across fork is held by both). A process whose fd directory this process
// may not read (another user's, without CAP_SYS_PTRACE) adds nothing: its
// sockets stay unknown, never guessed.
//
//   Scan()       reads every /proc/PID/fd now and replaces the map.
//   ScanNew()    reads the fds of processes that are new or whose number
//                of open fds changed since a scan read them (the size
//                stat() gives /proc/PID/fd, 6.2 on; before, new processes
//                only) and adds them to the map: a cheap scan, one stat
//                per process, for the sockets made since the last Scan.
//   Find(inode)  the holders found by the last scan, or nullptr.
//   CommOf(pid)  the name a scan read for a process holding sockets (it
//                may be gone since), or nullptr.
//
// Cost: one readlink per open file descriptor of the host (bench:
// owners_bench). Thread contract: not thread-safe; one owner thread.
#ifndef TCPINFO_OWNERS_SOCKET_INODES_H_
#define TCPINFO_OWNERS_SOCKET_INODES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"

namespace owners {

struct SocketHolders {
  uint32_t pid = 0;  // lowest
  uint32_t count = 0;
  uint32_t last_pid = 0;  // the scan's own bookkeeping
};

class SocketInodes {
 public:
  // `proc`: the proc file system's mount point.
  explicit SocketInodes(std::string proc = "/proc");

  // Returns the file descriptors read.
  size_t Scan();
  size_t ScanNew();
  const SocketHolders* Find(uint32_t inode) const;
  const std::string* CommOf(uint32_t pid) const;
  size_t sockets() const { return holders_.size(); }

 private:
  std::string proc_;
  size_t ScanPids(bool new_only);

  absl::flat_hash_map<uint32_t, SocketHolders> holders_;
  // pid -> its fd count when a scan read it, since the last Scan.
  absl::flat_hash_map<uint32_t, int64_t> pids_;
  absl::flat_hash_map<uint32_t, std::string> comms_;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_SOCKET_INODES_H_
