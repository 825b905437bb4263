#include "netns/child_ehash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace netns {

absl::Status SetChildEhashEntries(int64_t entries) {
  constexpr char kPath[] = "/proc/sys/net/ipv4/tcp_child_ehash_entries";
  const int fd = open(kPath, O_WRONLY | O_CLOEXEC);
  const std::string value = absl::StrCat(entries, "\n");
  if (fd < 0 || write(fd, value.data(), value.size()) !=
                    static_cast<ssize_t>(value.size())) {
    const int e = errno;
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "-netns.child-ehash=", entries, ": ", kPath, ": ", std::strerror(e)));
  }
  close(fd);
  return absl::OkStatus();
}

}  // namespace netns
