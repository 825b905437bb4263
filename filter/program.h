// Program: a -filter expression compiled for the kernel and for user space.
//
// The kernel's bytecode cannot test a socket's state; only a dump
// request's idiag_states mask can. So the expression is specialised for
// each TCP state s (ForState: every state set becomes true or false and
// folds away): states whose residual is false are never selected, and the
// others are grouped by residual. Each group is one dump query, its states
// as idiag_states and its residual compiled to bytecode (none if true).
// `established and dport = :443` is one query; `established or dport =
// :443` two (ESTABLISHED with no bytecode; every other state with `dport =
// :443`). The kernel thus selects exactly what the expression says, and
// Matches() (for destroy events) runs the same bytecode on the same
// fields in user space, so both select the same sockets.
//
// Immutable after Create(); all methods are thread-safe; Matches()
// allocates nothing.
#ifndef TCPINFO_FILTER_PROGRAM_H_
#define TCPINFO_FILTER_PROGRAM_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filter/expression.h"
#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"

namespace filter {

class Program {
 public:
  // Parses and compiles `text` (parser.h). Fails with the parser's message,
  // or if a residual exceeds the kernel's bytecode limit.
  static absl::StatusOr<Program> Create(absl::string_view text);

  // The dump queries that select exactly the matching sockets among those
  // in `states`, one per group of states with the same residual; none if
  // no socket in `states` can match.
  std::vector<inetdiag::DumpQuery> Queries(uint32_t states) const;

  // Whether the socket `msg` describes (its state, family, addresses and
  // ports) matches, as the kernel decides with Queries(kAllStates). A
  // state outside 1..11 (none the kernel reports) never matches.
  bool Matches(const inetdiag::Msg& msg) const;

  // The parsed expression (the reference semantics, Evaluate()).
  const Node& expression() const { return *expression_; }
  const std::string& text() const { return text_; }

 private:
  Program() = default;

  std::string text_;
  std::shared_ptr<const Node> expression_;
  // Per TCP state: the index of its group's bytecode, or -1 if the state is
  // never selected.
  std::array<int, 16> group_of_{};
  std::vector<std::vector<uint8_t>> bytecode_;
};

}  // namespace filter

#endif  // TCPINFO_FILTER_PROGRAM_H_
