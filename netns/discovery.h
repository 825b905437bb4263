// Namespace discovery: which network namespaces exist now, each once (by
// its nsfs inode), with a file that opens it and its name.
//
// With "all": every namespace file in the named directories (/run/netns,
// where `ip netns` and CNI put theirs, and /run/docker/netns), then the
// namespace of every process (/proc/PID/ns/net; per process, not per
// thread). A namespace reached both ways keeps its name. A file in a named
// directory that is not a namespace (no nsfs mount on it, e.g. left by a
// failed `ip netns add`) is reported apart. With targets: each that names
// a namespace now.
//
// Pure functions over the file system; thread-safe. A /proc scan stats one
// file per process (about 1 µs each).
#ifndef TCPINFO_NETNS_DISCOVERY_H_
#define TCPINFO_NETNS_DISCOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "netns/netns_spec.h"

namespace netns {

struct FoundNamespace {
  uint64_t inode = 0;  // nsfs inode: the namespace's identity
  std::string name;    // its file name in a named directory, or ""
  std::string path;    // a file that opens it now
};

struct Discovered {
  std::vector<FoundNamespace> namespaces;  // each inode once
  // Files where a namespace was expected but none is mounted.
  std::vector<std::string> not_namespaces;
};

struct DiscoveryRoots {
  std::string proc = "/proc";
  std::vector<std::string> named_dirs = {"/run/netns", "/run/docker/netns"};
};

// True if `path` is a namespace file (on nsfs); sets *inode.
bool StatNamespace(const std::string& path, uint64_t* inode);

// What `spec` selects now. REQUIRES: spec.enabled().
Discovered Discover(const NetnsSpec& spec,
                    const DiscoveryRoots& roots = DiscoveryRoots());

}  // namespace netns

#endif  // TCPINFO_NETNS_DISCOVERY_H_
