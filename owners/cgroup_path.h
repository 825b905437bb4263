// What a cgroup v2 path shows about its processes: the container id
// (docker, podman, containerd, cri-o, as cgroupfs or systemd drivers name
// their cgroups), the Kubernetes pod UID and the systemd unit.
//
//   /system.slice/docker-<64 hex>.scope             container (docker)
//   /docker/<64 hex>                                container (cgroupfs)
//   /machine.slice/libpod-<64 hex>.scope            container (podman)
//   /kubepods.slice/kubepods-burstable.slice/
//     kubepods-burstable-pod<uid, _ for ->.slice/
//     cri-containerd-<64 hex>.scope                 pod + container
//   /kubepods/besteffort/pod<uid>/<64 hex>          pod + container
//   .../crio-<64 hex>.scope                         container (cri-o)
//   /user.slice/user-1000.slice/user@1000.service/app.slice/foo.service
//                                                   unit foo.service
//
// A conmon scope (libpod-conmon-, crio-conmon-) is the runtime's monitor,
// not the container: it shows no container id. The unit is the deepest
// component ending in .service or .scope.
//
// Pure functions; thread-safe.
#ifndef TCPINFO_OWNERS_CGROUP_PATH_H_
#define TCPINFO_OWNERS_CGROUP_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace owners {

struct CgroupInfo {
  std::string container;  // 64 lowercase hex digits, "" none
  std::string pod;        // pod UID with dashes, "" none
  std::string unit;       // "" none

  friend bool operator==(const CgroupInfo&, const CgroupInfo&) = default;
};

CgroupInfo ParseCgroupPath(absl::string_view path);

}  // namespace owners

#endif  // TCPINFO_OWNERS_CGROUP_PATH_H_
