#include "owners/owner_resolver.h"

#include <algorithm>
#include <utility>

#include "owners/cgroup_path.h"

namespace owners {
namespace {

std::string CgroupMount(const OwnerResolverOptions& options) {
  if (!options.cgroup_mount.empty()) return options.cgroup_mount;
  absl::StatusOr<std::string> mount = FindCgroup2Mount();
  return mount.ok() ? *mount : "";
}

}  // namespace

OwnerResolver::OwnerResolver(OwnerResolverOptions options)
    : options_(std::move(options)),
      min_rescan_(options_.min_rescan),
      inodes_(options_.proc),
      cgroups_(CgroupMount(options_), options_.min_rewalk) {}

size_t OwnerResolver::Scan() {
  last_scan_ = Clock::now();
  ++scans_;
  processes_.clear();
  const size_t fds = inodes_.Scan();
  const Clock::duration took = Clock::now() - last_scan_;
  Clock::duration gap = min_rescan_;
  if (options_.max_scan_share > 0) {
    gap = std::max(gap, std::chrono::duration_cast<Clock::duration>(
                            took / options_.max_scan_share));
  }
  next_scan_ = last_scan_ + gap;
  return fds;
}

bool OwnerResolver::Hooked(const SocketKey& key) {
  HookRecord unused;
  return options_.hook != nullptr && key.cookie != 0 &&
         options_.hook->Lookup(key.cookie, &unused);
}

std::optional<Owner> OwnerResolver::TryResolve(const SocketKey& key,
                                               Clock::time_point asked) {
  const SocketHolders* holders = nullptr;
  if (key.inode != 0) {
    holders = inodes_.Find(key.inode);
    if (holders == nullptr && (scans_ == 0 || last_scan_ < asked) &&
        !Hooked(key)) {
      const Clock::time_point now = Clock::now();
      if (now < next_scan() && scans_ != 0) {
        // With a hook new connections are its; without, a cheap scan of
        // new and changed processes, within the same share of a core.
        if (options_.hook == nullptr && now >= next_quick_scan_) {
          inodes_.ScanNew();
          ++quick_scans_;
          const Clock::time_point done = Clock::now();
          Clock::duration gap = std::chrono::milliseconds(20);
          if (options_.max_scan_share > 0) {
            gap = std::max(gap, std::chrono::duration_cast<Clock::duration>(
                                    (done - now) / options_.max_scan_share));
          }
          next_quick_scan_ = done + gap;
          holders = inodes_.Find(key.inode);
        }
        if (holders == nullptr) return std::nullopt;
      } else {
        Scan();
        holders = inodes_.Find(key.inode);
      }
    }
  }
  return Build(key, holders);
}

Owner OwnerResolver::ResolveNow(const SocketKey& key) {
  const SocketHolders* holders = nullptr;
  if (key.inode != 0) {
    holders = inodes_.Find(key.inode);
    if (holders == nullptr && !Hooked(key) &&
        (scans_ == 0 || Clock::now() >= next_scan())) {
      Scan();
      holders = inodes_.Find(key.inode);
    }
  }
  return Build(key, holders);
}

Owner OwnerResolver::Build(const SocketKey& key, const SocketHolders* holders) {
  Owner owner;
  HookRecord hooked;
  const bool has_hook = options_.hook != nullptr && key.cookie != 0 &&
                        options_.hook->Lookup(key.cookie, &hooked);
  if (holders != nullptr) {
    owner.pid = holders->pid;
    owner.holders = holders->count;
  } else if (has_hook) {
    owner.pid = hooked.tgid;
    owner.holders = 1;
    owner.comm = hooked.comm;
  }
  uint32_t process_uid = kUnknownUid;
  if (owner.pid != 0) {
    auto [it, inserted] = processes_.try_emplace(owner.pid);
    if (inserted) {
      absl::StatusOr<ProcessInfo> info = ReadProcess(options_.proc, owner.pid);
      if (info.ok()) {
        it->second = *std::move(info);
      } else if (const std::string* comm = inodes_.CommOf(owner.pid)) {
        // Gone since the scan, which kept its name.
        it->second = ProcessInfo{*comm, "", kUnknownUid};
      }
    }
    if (it->second.has_value()) {
      // The hook's comm is the thread's at connect: the process's own name
      // is what /proc says while it lives.
      if (holders != nullptr || owner.comm.empty()) {
        owner.comm = it->second->comm;
      }
      owner.exe = it->second->exe;
      process_uid = it->second->uid;
    }
  }
  owner.uid = key.uid != kUnknownUid ? key.uid
              : has_hook             ? hooked.uid
                                     : process_uid;
  owner.user = users_.Name(owner.uid);
  owner.cgroup_id = key.cgroup_id != 0 ? key.cgroup_id
                    : has_hook         ? hooked.cgroup_id
                                       : 0;
  owner.cgroup = cgroups_.PathOf(owner.cgroup_id);
  CgroupInfo info = ParseCgroupPath(owner.cgroup);
  owner.container = std::move(info.container);
  owner.pod = std::move(info.pod);
  owner.unit = std::move(info.unit);
  return owner;
}

}  // namespace owners
