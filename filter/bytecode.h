// Bytecode: inet_diag filter programs (INET_DIAG_REQ_BYTECODE) for a
// state-free expression: the compiler, an interpreter that runs a program
// exactly as the kernel's inet_diag_bc_run does, and a validator with the
// rules of the kernel's inet_diag_bc_audit (a program it rejects makes the
// whole dump fail with EINVAL).
//
// A compiled program: each leaf is one S_EQ/S_GE/S_LE/D_* port comparison
// or S_COND/D_COND address condition that goes on to the next operation if
// it holds and jumps on if not; `not` and `or` add one JMP each. A socket
// is accepted by reaching the end, rejected by jumping 4 bytes past it.
//
// Pure functions; thread-safe.
#ifndef TCPINFO_FILTER_BYTECODE_H_
#define TCPINFO_FILTER_BYTECODE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "filter/expression.h"
#include "inetdiag/inet_diag.h"

namespace filter {

// The longest program an INET_DIAG_REQ_BYTECODE attribute holds.
inline constexpr size_t kMaxBytecode = 65528;

// Compiles `n`, which must be free of state sets and constants (the result
// of ForState that is neither kTrue nor kFalse). Fails if the program
// would exceed kMaxBytecode.
absl::StatusOr<std::vector<uint8_t>> Compile(const Node& n);

// Runs `program` (which must pass Audit) on the socket `msg` describes, as
// the kernel does; an empty program accepts every socket.
bool Run(const std::vector<uint8_t>& program, const inetdiag::Msg& msg);

// OK if the kernel's inet_diag_bc_audit accepts `program` from a reader
// with CAP_NET_ADMIN; else InvalidArgument saying which rule failed, at
// which offset.
absl::Status Audit(const std::vector<uint8_t>& program);

}  // namespace filter

#endif  // TCPINFO_FILTER_BYTECODE_H_
