#include "owners/socket_inodes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace owners {
namespace {

// The inode in "socket:[12345]", 0 for any other link.
uint32_t SocketInodeOf(absl::string_view link) {
  if (!absl::ConsumePrefix(&link, "socket:[") ||
      !absl::ConsumeSuffix(&link, "]")) {
    return 0;
  }
  uint32_t inode = 0;
  return absl::SimpleAtoi(link, &inode) ? inode : 0;
}

}  // namespace

SocketInodes::SocketInodes(std::string proc) : proc_(std::move(proc)) {}

size_t SocketInodes::Scan() {
  holders_.clear();
  pids_.clear();
  comms_.clear();
  return ScanPids(false);
}

size_t SocketInodes::ScanNew() { return ScanPids(true); }

size_t SocketInodes::ScanPids(bool new_only) {
  size_t fds = 0;
  DIR* proc = opendir(proc_.c_str());
  if (proc == nullptr) return 0;
  char fd_path[64];
  char link[64];
  while (struct dirent* p = readdir(proc)) {
    uint32_t pid;
    if (p->d_type != DT_DIR || !absl::SimpleAtoi(p->d_name, &pid)) continue;
    std::snprintf(fd_path, sizeof(fd_path), "%s/fd", p->d_name);
    struct stat st;
    if (fstatat(dirfd(proc), fd_path, &st, 0) != 0) continue;
    auto [seen, inserted] = pids_.try_emplace(pid, st.st_size);
    if (!inserted) {
      if (new_only && seen->second == st.st_size) continue;
      seen->second = st.st_size;
    }
    const int fd_dir =
        openat(dirfd(proc), fd_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) continue;  // gone, or not permitted
    DIR* fd_list = fdopendir(fd_dir);
    if (fd_list == nullptr) {
      close(fd_dir);
      continue;
    }
    bool has_socket = false;
    while (struct dirent* f = readdir(fd_list)) {
      if (f->d_name[0] == '.') continue;
      ++fds;
      const ssize_t n =
          readlinkat(dirfd(fd_list), f->d_name, link, sizeof(link) - 1);
      if (n <= 0) continue;
      const uint32_t inode = SocketInodeOf(absl::string_view(link, n));
      if (inode == 0) continue;
      has_socket = true;
      // One process may hold a socket in several fds: each process counts
      // once (its fds are read together, so the last pid tells).
      SocketHolders& h = holders_[inode];
      if (h.count == 0 || h.last_pid != pid) {
        h.pid = h.count == 0 ? pid : std::min(h.pid, pid);
        ++h.count;
        h.last_pid = pid;
      }
    }
    closedir(fd_list);
    if (has_socket) {
      std::snprintf(fd_path, sizeof(fd_path), "%s/comm", p->d_name);
      const int fd = openat(dirfd(proc), fd_path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        const ssize_t n = read(fd, link, sizeof(link));
        if (n > 0) {
          comms_[pid].assign(link, link[n - 1] == '\n' ? n - 1 : n);
        }
        close(fd);
      }
    }
  }
  closedir(proc);
  return fds;
}

const std::string* SocketInodes::CommOf(uint32_t pid) const {
  auto it = comms_.find(pid);
  return it == comms_.end() ? nullptr : &it->second;
}

const SocketHolders* SocketInodes::Find(uint32_t inode) const {
  auto it = holders_.find(inode);
  return it == holders_.end() ? nullptr : &it->second;
}

}  // namespace owners
