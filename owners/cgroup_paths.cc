#include "owners/cgroup_paths.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace owners {

absl::StatusOr<std::string> FindCgroup2Mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // "36 25 0:31 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw"
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<absl::string_view> after =
        absl::StrSplit(absl::string_view(line).substr(dash + 3), ' ');
    if (after.empty() || after[0] != "cgroup2") continue;
    std::vector<absl::string_view> before =
        absl::StrSplit(absl::string_view(line).substr(0, dash), ' ');
    if (before.size() < 5) continue;
    return std::string(before[4]);
  }
  return absl::NotFoundError("no cgroup2 mount in /proc/self/mountinfo");
}

CgroupPaths::CgroupPaths(std::string mount,
                         std::chrono::milliseconds min_rewalk)
    : mount_(std::move(mount)), min_rewalk_(min_rewalk) {}

namespace {

// Adds every directory below `fd` (the directory `path`) to `paths`.
void WalkDir(int fd, const std::string& path,
             absl::flat_hash_map<uint64_t, std::string>* paths, int depth) {
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return;
  }
  while (struct dirent* e = readdir(dir)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    const int child =
        openat(dirfd(dir), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (child < 0) continue;
    struct stat st;
    if (fstat(child, &st) != 0) {
      close(child);
      continue;
    }
    std::string child_path = path == "/" ? "/" : path + "/";
    child_path += e->d_name;
    (*paths)[st.st_ino] = child_path;
    if (depth < 64) {
      WalkDir(child, child_path, paths, depth + 1);
    } else {
      close(child);
    }
  }
  closedir(dir);
}

}  // namespace

size_t CgroupPaths::Walk() {
  last_walk_ = std::chrono::steady_clock::now();
  walked_ = true;
  if (mount_.empty()) return 0;
  const int fd = open(mount_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) == 0) paths_[st.st_ino].assign(1, '/');
  WalkDir(fd, "/", &paths_, 0);
  return paths_.size();
}

std::string CgroupPaths::PathOf(uint64_t id) {
  if (id == 0) return "";
  if (auto it = paths_.find(id); it != paths_.end()) return it->second;
  if (walked_ && std::chrono::steady_clock::now() - last_walk_ < min_rewalk_) {
    return "";
  }
  Walk();
  if (auto it = paths_.find(id); it != paths_.end()) return it->second;
  return "";
}

}  // namespace owners
