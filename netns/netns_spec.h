// NetnsSpec: which network namespaces -netns asks for, parsed from the
// flag's value: "all" (every namespace on the host), or a comma list of
// targets, each a name in /run/netns ("blue"), an absolute path to a
// namespace file ("/var/run/docker/netns/1a2b", "/proc/42/ns/net") or a
// process ("pid:42"). Empty: the agent's own namespace only (no -netns).
//
// Plain value type and a pure function; thread-safe.
#ifndef TCPINFO_NETNS_NETNS_SPEC_H_
#define TCPINFO_NETNS_NETNS_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace netns {

struct NetnsTarget {
  enum class Kind { kName, kPath, kPid };
  Kind kind = Kind::kName;
  std::string value;  // the name, the path, or the pid in decimal

  // The file that names the namespace: /run/netns/NAME, the path, or
  // /proc/PID/ns/net.
  std::string Path() const;
  // The name it is reported under when the namespace has no name in
  // /run/netns: the name itself for kName, else "".
  std::string Name() const;
};

struct NetnsSpec {
  bool all = false;
  std::vector<NetnsTarget> targets;

  bool enabled() const { return all || !targets.empty(); }
};

// Parses a -netns value. Fails on an empty item, "pid:" without a positive
// decimal pid, a relative path or a name holding '/', with one line that
// names the item.
absl::StatusOr<NetnsSpec> ParseNetnsSpec(absl::string_view value);

}  // namespace netns

#endif  // TCPINFO_NETNS_NETNS_SPEC_H_
