// What /proc tells about a process, and user names.
//
//   ReadProcess(proc, pid)  comm, executable path (empty when the link may
//                           not be read: another user's process without
//                           CAP_SYS_PTRACE) and real uid; NotFound when
//                           the process has gone.
//   UserNames::Name(uid)    the uid's name from the passwd database
//                           (getpwuid_r), cached; its number when it has
//                           none; "" for kUnknownUid.
//
// ReadProcess is thread-safe; UserNames is not (one owner thread).
#ifndef TCPINFO_OWNERS_PROCESS_INFO_H_
#define TCPINFO_OWNERS_PROCESS_INFO_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "owners/owner.h"

namespace owners {

struct ProcessInfo {
  std::string comm;
  std::string exe;
  uint32_t uid = kUnknownUid;
};

absl::StatusOr<ProcessInfo> ReadProcess(absl::string_view proc, uint32_t pid);

class UserNames {
 public:
  const std::string& Name(uint32_t uid);

 private:
  absl::flat_hash_map<uint32_t, std::string> names_;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_PROCESS_INFO_H_
