// CgroupPaths: the cgroup v2 path of a cgroup id (INET_DIAG_CGROUP_ID, the
// BPF helper bpf_get_current_cgroup_id): on cgroup2 the id is the inode
// number of the cgroup's directory, so a walk of the cgroup2 mount maps
// every id to its path. Paths are cached; an id not in the cache makes a
// new walk, at most one per `min_rewalk` (cgroups come and go with
// services and containers, the ids of gone ones are never reused).
//
//   FindCgroup2Mount()  the mount point of cgroup2 in /proc/self/mountinfo
//                       ("/sys/fs/cgroup", or "/sys/fs/cgroup/unified" on
//                       a hybrid host); NotFound without one.
//   PathOf(id)          the path below the mount ("/" for the root,
//                       "/system.slice/foo.service"), "" when unknown.
//
// Thread contract: not thread-safe; one owner thread (the owners
// resolver's, or `tcp-info top`'s).
#ifndef TCPINFO_OWNERS_CGROUP_PATHS_H_
#define TCPINFO_OWNERS_CGROUP_PATHS_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace owners {

absl::StatusOr<std::string> FindCgroup2Mount();

class CgroupPaths {
 public:
  // `mount`: the cgroup2 mount point ("" : none, every path unknown).
  explicit CgroupPaths(std::string mount, std::chrono::milliseconds min_rewalk =
                                              std::chrono::milliseconds(200));

  std::string PathOf(uint64_t id);

  // Walks now, whatever the rate bound. Returns the cgroups found.
  size_t Walk();

  const std::string& mount() const { return mount_; }

 private:
  std::string mount_;
  std::chrono::milliseconds min_rewalk_;
  std::chrono::steady_clock::time_point last_walk_{};
  bool walked_ = false;
  absl::flat_hash_map<uint64_t, std::string> paths_;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_CGROUP_PATHS_H_
