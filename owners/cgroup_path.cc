#include "owners/cgroup_path.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace owners {
namespace {

constexpr size_t kContainerIdLength = 64;

bool IsHexId(absl::string_view s) {
  if (s.size() != kContainerIdLength) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c)) return false;
  }
  return true;
}

// The id in "<runtime>-<64 hex>.scope" (or the bare 64 hex), "" if none.
std::string ContainerIdOf(absl::string_view component) {
  if (IsHexId(component)) return absl::AsciiStrToLower(component);
  if (!absl::ConsumeSuffix(&component, ".scope")) return "";
  if (absl::StrContains(component, "conmon")) return "";
  for (absl::string_view prefix :
       {"docker-", "libpod-", "cri-containerd-", "crio-", "containerd-"}) {
    absl::string_view rest = component;
    if (absl::ConsumePrefix(&rest, prefix) && IsHexId(rest)) {
      return absl::AsciiStrToLower(rest);
    }
  }
  return "";
}

bool IsPodUid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? (s[i] != '-' && s[i] != '_') : !absl::ascii_isxdigit(s[i])) {
      return false;
    }
  }
  return true;
}

// The UID in "pod<uid>" or "kubepods-<class>-pod<uid>.slice", "" if none.
std::string PodUidOf(absl::string_view component) {
  absl::ConsumeSuffix(&component, ".slice");
  const size_t at = component.rfind("pod");
  if (at == absl::string_view::npos) return "";
  absl::string_view uid = component.substr(at + 3);
  if (!IsPodUid(uid)) return "";
  return absl::StrReplaceAll(absl::AsciiStrToLower(uid), {{"_", "-"}});
}

}  // namespace

CgroupInfo ParseCgroupPath(absl::string_view path) {
  CgroupInfo info;
  for (absl::string_view component :
       absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (std::string id = ContainerIdOf(component); !id.empty()) {
      info.container = std::move(id);
    }
    if (std::string pod = PodUidOf(component); !pod.empty()) {
      info.pod = std::move(pod);
    }
    if (absl::EndsWith(component, ".service") ||
        absl::EndsWith(component, ".scope")) {
      info.unit = std::string(component);
    }
  }
  return info;
}

}  // namespace owners
