// Owner: who holds a TCP socket, as the owners layer resolves it: the
// process (lowest pid of those holding it, and how many hold it), its name
// and executable, the socket's uid and user name, its cgroup v2 path and
// what that path shows (container id, Kubernetes pod UID, systemd unit).
// SocketKey: what the kernel tells about a socket, from which an owner is
// resolved.
//
// Unknown parts are empty strings, pid 0 and uid kUnknownUid: never
// guessed. A socket whose process has gone keeps the uid and cgroup the
// kernel gave for it.
//
// Plain value types.
#ifndef TCPINFO_OWNERS_OWNER_H_
#define TCPINFO_OWNERS_OWNER_H_

#include <cstdint>
#include <string>

namespace owners {

// (uid_t)-1: never a real user's uid.
inline constexpr uint32_t kUnknownUid = 0xFFFFFFFFu;

struct SocketKey {
  uint64_t cookie = 0;
  uint32_t inode = 0;  // 0: none (a destroy event, an orphaned socket)
  uint32_t uid = kUnknownUid;
  uint64_t cgroup_id = 0;  // INET_DIAG_CGROUP_ID; 0: not given
};

struct Owner {
  uint32_t pid = 0;      // lowest pid holding the socket; 0 unknown
  uint32_t holders = 0;  // processes holding it (0 when pid unknown)
  std::string comm;      // /proc/PID/comm, "" unknown
  std::string exe;       // /proc/PID/exe target, "" unknown or not permitted
  uint32_t uid = kUnknownUid;
  std::string user;  // the uid's name, or its number when it has none
  uint64_t cgroup_id = 0;
  std::string cgroup;     // path below the cgroup2 root ("/system.slice/..")
  std::string container;  // 64-hex container id, "" none
  std::string pod;        // Kubernetes pod UID, "" none
  std::string unit;       // systemd unit (the deepest .service/.scope), ""

  friend bool operator==(const Owner&, const Owner&) = default;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_OWNER_H_
