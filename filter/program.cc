#include "filter/program.h"

#include <map>
#include <memory>

#include "filter/bytecode.h"
#include "filter/parser.h"

namespace filter {

absl::StatusOr<Program> Program::Create(absl::string_view text) {
  absl::StatusOr<NodePtr> parsed = Parse(text);
  if (!parsed.ok()) return parsed.status();
  Program p;
  p.text_ = std::string(text);
  p.group_of_.fill(-1);
  std::map<std::string, int> groups;  // residual -> index in bytecode_
  for (int s = 0; s < 16; ++s) {
    if ((kAllStates >> s & 1u) == 0) continue;
    const NodePtr residual = ForState(**parsed, static_cast<uint8_t>(s));
    if (residual->kind == Node::Kind::kFalse) continue;
    const std::string key = ToString(*residual);
    auto [it, added] = groups.emplace(key, static_cast<int>(groups.size()));
    if (added) {
      if (residual->kind == Node::Kind::kTrue) {
        p.bytecode_.emplace_back();
      } else {
        absl::StatusOr<std::vector<uint8_t>> code = Compile(*residual);
        if (!code.ok()) return code.status();
        p.bytecode_.push_back(*std::move(code));
      }
    }
    p.group_of_[s] = it->second;
  }
  p.expression_ = std::shared_ptr<const Node>(std::move(*parsed));
  return p;
}

std::vector<inetdiag::DumpQuery> Program::Queries(uint32_t states) const {
  std::vector<inetdiag::DumpQuery> queries(bytecode_.size());
  for (size_t g = 0; g < bytecode_.size(); ++g) {
    queries[g].states = 0;
    queries[g].bytecode = bytecode_[g];
  }
  for (int s = 0; s < 16; ++s) {
    if (group_of_[s] >= 0 && (states >> s & 1u) != 0) {
      queries[group_of_[s]].states |= 1u << s;
    }
  }
  std::erase_if(queries,
                [](const inetdiag::DumpQuery& q) { return q.states == 0; });
  return queries;
}

bool Program::Matches(const inetdiag::Msg& msg) const {
  if (msg.state >= group_of_.size() || group_of_[msg.state] < 0) return false;
  return Run(bytecode_[group_of_[msg.state]], msg);
}

}  // namespace filter
