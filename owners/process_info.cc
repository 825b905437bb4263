#include "owners/process_info.h"

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace owners {

absl::StatusOr<ProcessInfo> ReadProcess(absl::string_view proc, uint32_t pid) {
  const std::string dir = absl::StrCat(proc, "/", pid);
  ProcessInfo info;
  {
    std::ifstream comm(dir + "/comm");
    if (!std::getline(comm, info.comm)) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " gone"));
    }
  }
  std::ifstream status(dir + "/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "Uid:")) continue;
    rest = absl::StripLeadingAsciiWhitespace(rest);
    uint32_t uid;
    if (absl::SimpleAtoi(rest.substr(0, rest.find_first_of(" \t")), &uid)) {
      info.uid = uid;
    }
    break;
  }
  char exe[4096];
  const ssize_t n = readlink((dir + "/exe").c_str(), exe, sizeof(exe));
  if (n > 0 && static_cast<size_t>(n) < sizeof(exe)) info.exe.assign(exe, n);
  return info;
}

const std::string& UserNames::Name(uint32_t uid) {
  auto [it, inserted] = names_.try_emplace(uid);
  if (!inserted) return it->second;
  if (uid == kUnknownUid) return it->second;
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    it->second = found->pw_name;
  } else {
    it->second = absl::StrCat(uid);
  }
  return it->second;
}

}  // namespace owners
