// OwnerResolver: a socket's Owner from what the kernel tells about it
// (SocketKey), /proc, the cgroup2 tree and, when there is one, a kernel
// hook's record. This is the whole resolution, without a thread: the
// daemon runs it on a thread of its own (owner_tracker.h), `tcp-info top`
// calls it directly (no daemon, no root: the user's own processes resolve,
// others are unknown).
//
// The process: the socket inode's holders from the last /proc/PID/fd scan
// (lowest pid, count). An inode the last scan did not see is looked up in
// the hook's records (the process that connected or accepted it); one the
// hook does not know makes, without a hook, a scan of the processes new or
// changed since the last scan (cheap: at most every 20 ms and within
// max_scan_share), then a new scan of all, at most one per min_rescan and
// within max_scan_share of a core (a scan reads every fd of the host:
// about 5 us each); one still unseen by a scan that started after the
// socket was asked for has no process in /proc (it has gone, or may not be
// read), and its process is unknown. The uid and cgroup are the kernel's for
// the socket (SocketKey), else the hook's; so a socket whose process has gone
// keeps them.
//
// Thread contract: not thread-safe; one owner thread.
#ifndef TCPINFO_OWNERS_OWNER_RESOLVER_H_
#define TCPINFO_OWNERS_OWNER_RESOLVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "owners/cgroup_paths.h"
#include "owners/owner.h"
#include "owners/process_info.h"
#include "owners/socket_hook.h"
#include "owners/socket_inodes.h"

namespace owners {

struct OwnerResolverOptions {
  std::string proc = "/proc";
  // The cgroup2 mount; "" finds it (FindCgroup2Mount), none: no paths.
  std::string cgroup_mount;
  std::chrono::milliseconds min_rescan{500};
  // And at most this share of one core's time in scans: after a scan that
  // took d, the next waits at least d / max_scan_share.
  double max_scan_share = 0.05;
  std::chrono::milliseconds min_rewalk{200};
  SocketHook* hook = nullptr;  // optional; must outlive the resolver
};

class OwnerResolver {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OwnerResolver(OwnerResolverOptions options);

  // The owner of `key`, asked for at `asked` (when the socket was seen);
  // nullopt when a /proc scan is needed but not yet allowed: ask again at
  // next_scan().
  std::optional<Owner> TryResolve(const SocketKey& key,
                                  Clock::time_point asked);

  // TryResolve that never waits: what is known now when no scan is
  // allowed (for `top`, which asks once a second).
  Owner ResolveNow(const SocketKey& key);

  Clock::time_point next_scan() const { return next_scan_; }
  // Scans /proc now; returns the file descriptors read.
  size_t Scan();
  size_t scans() const { return scans_; }
  // Cheap scans of new and changed processes (ScanNew) so far.
  size_t quick_scans() const { return quick_scans_; }
  const std::string& cgroup_mount() const { return cgroups_.mount(); }

 private:
  Owner Build(const SocketKey& key, const SocketHolders* holders);
  bool Hooked(const SocketKey& key);

  OwnerResolverOptions options_;
  std::chrono::milliseconds min_rescan_;
  SocketInodes inodes_;
  CgroupPaths cgroups_;
  UserNames users_;
  // Process details read since the last scan (a pid may be reused after).
  absl::flat_hash_map<uint32_t, std::optional<ProcessInfo>> processes_;
  Clock::time_point last_scan_{};
  Clock::time_point next_scan_{};
  Clock::time_point next_quick_scan_{};
  size_t scans_ = 0;
  size_t quick_scans_ = 0;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_OWNER_RESOLVER_H_
