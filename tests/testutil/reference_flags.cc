#include "tests/testutil/reference_flags.h"

#include <map>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/testutil/paths.h"

namespace testutil {

std::vector<ReferenceFlag> ReferenceFlags() {
  // Values of the flags whose syntax -help does not show.
  static const std::map<std::string, std::string> kValueSamples = {
      {"anonymize.ip", "netblock"},
      {"exclude-dstip", "10.77.0.1"},
      {"exclude-srcport", "5001"},
      {"logx.debug", "true"},
      {"uuid-prefix-file", "/nonexistent/uuid-prefix"},
  };
  const std::string help =
      ReadFileOrDie(TestDataDir() + "/reference/tcp-info-help.txt");
  std::vector<ReferenceFlag> flags;
  // PrintDefaults: "  -name kind" on its own line, the usage on the next
  // lines after a tab.
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (!absl::ConsumePrefix(&line, "  -")) continue;
    const std::vector<std::string> words = absl::StrSplit(line, ' ');
    ReferenceFlag flag;
    flag.name = words[0];
    flag.kind = words.size() > 1 ? words[1] : "";
    if (flag.kind == "string") {
      flag.sample = "x";
    } else if (flag.kind == "int") {
      flag.sample = "3";
    } else if (flag.kind == "value") {
      auto it = kValueSamples.find(flag.name);
      if (it == kValueSamples.end()) {
        ADD_FAILURE() << "reference flag -" << flag.name
                      << " has no sample value in reference_flags.cc";
      } else {
        flag.sample = it->second;
      }
    } else if (!flag.kind.empty()) {
      ADD_FAILURE() << "reference flag -" << flag.name << " of unknown kind "
                    << flag.kind;
    }
    flags.push_back(flag);
  }
  return flags;
}

}  // namespace testutil
