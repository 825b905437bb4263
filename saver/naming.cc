// Archive names: uuid, default uuid prefix, and the archive path.
#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "saver/saver.h"

namespace saver {

std::string FormatUuid(const std::string& prefix, uint64_t cookie) {
  return absl::StrFormat("%s_%016X", prefix, cookie);
}

absl::StatusOr<std::string> DefaultUuidPrefix() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    return absl::FailedPreconditionError("cannot read the hostname");
  }
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "btime ")) continue;
    int64_t btime;
    if (!absl::SimpleAtoi(rest, &btime)) break;
    return absl::StrCat(host, "_", btime, "_unsafe");
  }
  return absl::FailedPreconditionError("no btime line in /proc/stat");
}

std::string ArchivePath(const std::string& output_dir, parse::Timestamp start,
                        const std::string& uuid, int64_t sequence) {
  const parse::CivilDate d = parse::ToCivilDate(start);
  const absl::string_view sep =
      output_dir.empty() || output_dir.back() == '/' ? "" : "/";
  return absl::StrFormat("%s%s%04d/%02d/%02d/%s.%05d.jsonl.zst", output_dir,
                         sep, d.year, d.month, d.day, uuid, sequence);
}

}  // namespace saver
