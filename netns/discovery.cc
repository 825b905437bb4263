#include "netns/discovery.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cctype>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace netns {
namespace {

// linux/magic.h NSFS_MAGIC.
constexpr long kNsfsMagic = 0x6e736673;

// The entries of directory `dir` but "." and ".."; none if it is missing.
std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

bool IsPid(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool StatNamespace(const std::string& path, uint64_t* inode) {
  struct statfs fs;
  struct stat st;
  if (statfs(path.c_str(), &fs) != 0 || fs.f_type != kNsfsMagic) return false;
  if (stat(path.c_str(), &st) != 0) return false;
  *inode = st.st_ino;
  return true;
}

Discovered Discover(const NetnsSpec& spec, const DiscoveryRoots& roots) {
  Discovered out;
  absl::flat_hash_set<uint64_t> seen;
  auto add = [&](uint64_t inode, std::string name, std::string path) {
    if (seen.insert(inode).second) {
      out.namespaces.push_back({inode, std::move(name), std::move(path)});
    }
  };
  if (!spec.all) {
    for (const NetnsTarget& t : spec.targets) {
      const std::string path = t.Path();
      uint64_t inode = 0;
      if (StatNamespace(path, &inode)) {
        add(inode, t.Name(), path);
      } else if (t.kind == NetnsTarget::Kind::kName) {
        struct stat st;
        if (stat(path.c_str(), &st) == 0) out.not_namespaces.push_back(path);
      }
    }
    return out;
  }
  for (const std::string& dir : roots.named_dirs) {
    for (const std::string& name : ListDirectory(dir)) {
      const std::string path = absl::StrCat(dir, "/", name);
      uint64_t inode = 0;
      if (StatNamespace(path, &inode)) {
        add(inode, name, path);
      } else {
        out.not_namespaces.push_back(path);
      }
    }
  }
  for (const std::string& pid : ListDirectory(roots.proc)) {
    if (!IsPid(pid)) continue;
    const std::string path = absl::StrCat(roots.proc, "/", pid, "/ns/net");
    struct stat st;
    // The process may have exited since the directory was read.
    if (stat(path.c_str(), &st) != 0) continue;
    add(st.st_ino, "", path);
  }
  return out;
}

}  // namespace netns
