// Expression: the parsed form of a -filter expression, a tree whose leaves
// are what the kernel's inet_diag bytecode can test (a port comparison, an
// address condition) plus TCP state sets, which it cannot (see program.h).
// Every syntax the parser accepts (ss's, tcpdump's primitives) lowers to
// these few node kinds.
//
// Plain data; immutable once built; thread-compatible.
#ifndef TCPINFO_FILTER_EXPRESSION_H_
#define TCPINFO_FILTER_EXPRESSION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "inetdiag/inet_diag.h"

namespace filter {

// Bit s stands for TCP state s (1 ESTABLISHED .. 11 CLOSING), as in
// idiag_states.
inline constexpr uint32_t kAllStates = 0xFFEu;

// An address condition, exactly an inet_diag_hostcond: family kAfUnspec
// (any address; prefix_len 0), kAfInet or kAfInet6; the first prefix_len
// bits of `address` (big-endian) must match; port -1 matches any port. An
// IPv4 condition also matches the v4-mapped address of an IPv6 socket, as
// in the kernel.
struct HostCondition {
  uint8_t family = inetdiag::kAfUnspec;
  uint8_t prefix_len = 0;
  int32_t port = -1;
  std::array<uint8_t, 16> address{};
};

enum class PortOp : uint8_t { kEq, kGe, kLe };

struct Node {
  enum class Kind : uint8_t {
    kTrue,
    kFalse,
    kStates,  // the socket's state is in `states`
    kPort,    // source (or destination) port `op` `port`
    kHost,    // source (or destination) address and port match `host`
    kAnd,
    kOr,
    kNot,  // of `left`
  };
  Kind kind = Kind::kTrue;
  uint32_t states = 0;
  bool source = true;  // kPort, kHost: the local side (sport / src)
  PortOp op = PortOp::kEq;
  uint16_t port = 0;
  HostCondition host;
  std::unique_ptr<Node> left, right;
};

using NodePtr = std::unique_ptr<Node>;

NodePtr MakeConstant(bool value);
NodePtr MakeStates(uint32_t states);
NodePtr MakePort(bool source, PortOp op, uint16_t port);
NodePtr MakeHost(bool source, const HostCondition& host);
NodePtr MakeAnd(NodePtr a, NodePtr b);
NodePtr MakeOr(NodePtr a, NodePtr b);
NodePtr MakeNot(NodePtr a);

// A deep copy of `n`.
NodePtr Clone(const Node& n);

// `n` with every state set replaced by whether it holds `state`, and
// constants folded away: the result is kTrue, kFalse, or free of both and
// of state sets.
NodePtr ForState(const Node& n, uint8_t state);

// A canonical one-line form of `n` (equal trees give equal strings), e.g.
// "(sport>=1024 & !dst 10.77.0.0/16:-1)".
std::string ToString(const Node& n);

// Whether the socket `msg` describes satisfies `n`, by the kernel's rules
// for each leaf. The reference semantics that the compiled program
// (program.h) must reproduce.
bool Evaluate(const Node& n, const inetdiag::Msg& msg);

// Whether `host` matches the address `address` (big-endian words; 1 word
// for kAfInet) and port `port` of a socket of family `family`, exactly as
// the kernel's inet_diag_bc_run tests S_COND and D_COND.
bool HostMatches(const HostCondition& host, uint8_t family,
                 const uint32_t* address, uint16_t port);

}  // namespace filter

#endif  // TCPINFO_FILTER_EXPRESSION_H_
