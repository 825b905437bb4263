#include "traffic/service_names.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace traffic {

absl::StatusOr<ServiceNames> ServiceNames::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

ServiceNames ServiceNames::Parse(absl::string_view text) {
  ServiceNames s;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = line.substr(0, line.find('#'));
    const std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.size() < 2) continue;
    const std::pair<absl::string_view, absl::string_view> port_proto =
        absl::StrSplit(words[1], absl::MaxSplits('/', 1));
    uint32_t port;
    if (absl::AsciiStrToLower(port_proto.second) != "tcp" ||
        !absl::SimpleAtoi(port_proto.first, &port) || port > 65535) {
      continue;
    }
    if (s.index_.empty()) s.index_.assign(65536, 0);
    if (s.index_[port] != 0) continue;
    s.names_.emplace_back(words[0]);
    s.index_[port] = static_cast<uint32_t>(s.names_.size());
  }
  return s;
}

}  // namespace traffic
