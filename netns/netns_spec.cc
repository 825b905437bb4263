#include "netns/netns_spec.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace netns {

std::string NetnsTarget::Path() const {
  switch (kind) {
    case Kind::kName:
      return absl::StrCat("/run/netns/", value);
    case Kind::kPath:
      return value;
    case Kind::kPid:
      return absl::StrCat("/proc/", value, "/ns/net");
  }
  return value;
}

std::string NetnsTarget::Name() const {
  return kind == Kind::kName ? value : std::string();
}

absl::StatusOr<NetnsSpec> ParseNetnsSpec(absl::string_view value) {
  NetnsSpec spec;
  if (value.empty()) return spec;
  if (value == "all") {
    spec.all = true;
    return spec;
  }
  for (absl::string_view item : absl::StrSplit(value, ',')) {
    item = absl::StripAsciiWhitespace(item);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("-netns: \"", item, "\": ", why));
    };
    NetnsTarget t;
    if (item.empty()) return bad("empty item");
    if (absl::StartsWith(item, "pid:")) {
      int pid = 0;
      if (!absl::SimpleAtoi(item.substr(4), &pid) || pid <= 0) {
        return bad("expected pid:N with a positive decimal pid");
      }
      t.kind = NetnsTarget::Kind::kPid;
      t.value = absl::StrCat(pid);
    } else if (item.front() == '/') {
      t.kind = NetnsTarget::Kind::kPath;
      t.value = std::string(item);
    } else if (absl::StrContains(item, '/') || item == "." || item == "..") {
      return bad("a name in /run/netns, an absolute path, or pid:N");
    } else {
      t.kind = NetnsTarget::Kind::kName;
      t.value = std::string(item);
    }
    spec.targets.push_back(std::move(t));
  }
  return spec;
}

}  // namespace netns
