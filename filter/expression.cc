#include "filter/expression.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace filter {

NodePtr MakeConstant(bool value) {
  auto n = std::make_unique<Node>();
  n->kind = value ? Node::Kind::kTrue : Node::Kind::kFalse;
  return n;
}

NodePtr MakeStates(uint32_t states) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::kStates;
  n->states = states & kAllStates;
  return n;
}

NodePtr MakePort(bool source, PortOp op, uint16_t port) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::kPort;
  n->source = source;
  n->op = op;
  n->port = port;
  return n;
}

NodePtr MakeHost(bool source, const HostCondition& host) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::kHost;
  n->source = source;
  n->host = host;
  return n;
}

namespace {

NodePtr MakeBinary(Node::Kind kind, NodePtr a, NodePtr b) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->left = std::move(a);
  n->right = std::move(b);
  return n;
}

bool IsConstant(const Node& n, bool value) {
  return n.kind == (value ? Node::Kind::kTrue : Node::Kind::kFalse);
}

std::string AddressString(const HostCondition& h) {
  char text[INET6_ADDRSTRLEN] = "*";
  if (h.family == inetdiag::kAfInet) {
    inet_ntop(AF_INET, h.address.data(), text, sizeof(text));
  } else if (h.family == inetdiag::kAfInet6) {
    inet_ntop(AF_INET6, h.address.data(), text, sizeof(text));
  }
  return absl::StrCat(text, "/", h.prefix_len, ":", h.port);
}

}  // namespace

NodePtr MakeAnd(NodePtr a, NodePtr b) {
  return MakeBinary(Node::Kind::kAnd, std::move(a), std::move(b));
}

NodePtr MakeOr(NodePtr a, NodePtr b) {
  return MakeBinary(Node::Kind::kOr, std::move(a), std::move(b));
}

NodePtr MakeNot(NodePtr a) {
  auto n = std::make_unique<Node>();
  n->kind = Node::Kind::kNot;
  n->left = std::move(a);
  return n;
}

NodePtr Clone(const Node& n) {
  auto c = std::make_unique<Node>();
  c->kind = n.kind;
  c->states = n.states;
  c->source = n.source;
  c->op = n.op;
  c->port = n.port;
  c->host = n.host;
  if (n.left) c->left = Clone(*n.left);
  if (n.right) c->right = Clone(*n.right);
  return c;
}

NodePtr ForState(const Node& n, uint8_t state) {
  switch (n.kind) {
    case Node::Kind::kStates:
      return MakeConstant(state < 32 && (n.states >> state & 1u) != 0);
    case Node::Kind::kNot: {
      NodePtr a = ForState(*n.left, state);
      if (IsConstant(*a, true)) return MakeConstant(false);
      if (IsConstant(*a, false)) return MakeConstant(true);
      return MakeNot(std::move(a));
    }
    case Node::Kind::kAnd:
    case Node::Kind::kOr: {
      // The constant that decides the operator (false for and, true for or).
      const bool decisive = n.kind == Node::Kind::kOr;
      NodePtr a = ForState(*n.left, state);
      if (IsConstant(*a, decisive)) return a;
      NodePtr b = ForState(*n.right, state);
      if (IsConstant(*b, decisive)) return b;
      if (IsConstant(*a, !decisive)) return b;
      if (IsConstant(*b, !decisive)) return a;
      return MakeBinary(n.kind, std::move(a), std::move(b));
    }
    default:
      return Clone(n);
  }
}

std::string ToString(const Node& n) {
  const char* side = n.source ? "s" : "d";
  switch (n.kind) {
    case Node::Kind::kTrue:
      return "true";
    case Node::Kind::kFalse:
      return "false";
    case Node::Kind::kStates:
      return absl::StrCat("states:", n.states);
    case Node::Kind::kPort:
      return absl::StrCat(side, "port",
                          n.op == PortOp::kEq   ? "="
                          : n.op == PortOp::kGe ? ">="
                                                : "<=",
                          n.port);
    case Node::Kind::kHost:
      return absl::StrCat(n.source ? "src " : "dst ", AddressString(n.host));
    case Node::Kind::kAnd:
      return absl::StrCat("(", ToString(*n.left), " & ", ToString(*n.right),
                          ")");
    case Node::Kind::kOr:
      return absl::StrCat("(", ToString(*n.left), " | ", ToString(*n.right),
                          ")");
    case Node::Kind::kNot:
      return absl::StrCat("!", ToString(*n.left));
  }
  return "";
}

namespace {

// The kernel's bitstring_match: the first `bits` bits of a1 and a2 agree.
bool PrefixMatches(const uint32_t* a1, const uint8_t* a2_bytes, int bits) {
  uint32_t a2[4];
  std::memcpy(a2, a2_bytes, sizeof(a2));
  const int words = bits >> 5;
  bits &= 0x1f;
  if (words > 0 && std::memcmp(a1, a2, words * 4) != 0) return false;
  if (bits > 0) {
    const uint32_t mask = htonl(0xffffffffu << (32 - bits));
    if (((a1[words] ^ a2[words]) & mask) != 0) return false;
  }
  return true;
}

}  // namespace

bool HostMatches(const HostCondition& host, uint8_t family,
                 const uint32_t* address, uint16_t port) {
  if (host.port != -1 && host.port != port) return false;
  if (host.family != inetdiag::kAfUnspec && host.family != family) {
    return family == inetdiag::kAfInet6 && host.family == inetdiag::kAfInet &&
           address[0] == 0 && address[1] == 0 && address[2] == htonl(0xffff) &&
           PrefixMatches(address + 3, host.address.data(), host.prefix_len);
  }
  if (host.prefix_len == 0) return true;
  return PrefixMatches(address, host.address.data(), host.prefix_len);
}

bool Evaluate(const Node& n, const inetdiag::Msg& msg) {
  switch (n.kind) {
    case Node::Kind::kTrue:
      return true;
    case Node::Kind::kFalse:
      return false;
    case Node::Kind::kStates:
      return msg.state < 32 && (n.states >> msg.state & 1u) != 0;
    case Node::Kind::kPort: {
      const uint16_t p = ntohs(n.source ? msg.id.sport_be : msg.id.dport_be);
      return n.op == PortOp::kEq   ? p == n.port
             : n.op == PortOp::kGe ? p >= n.port
                                   : p <= n.port;
    }
    case Node::Kind::kHost:
      return HostMatches(n.host, msg.family, n.source ? msg.id.src : msg.id.dst,
                         ntohs(n.source ? msg.id.sport_be : msg.id.dport_be));
    case Node::Kind::kAnd:
      return Evaluate(*n.left, msg) && Evaluate(*n.right, msg);
    case Node::Kind::kOr:
      return Evaluate(*n.left, msg) || Evaluate(*n.right, msg);
    case Node::Kind::kNot:
      return !Evaluate(*n.left, msg);
  }
  return false;
}

}  // namespace filter
