#include "filter/bytecode.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace filter {
namespace {

using inetdiag::BcOp;
using inetdiag::HostCond;

size_t AddressBytes(uint8_t family) {
  return family == inetdiag::kAfInet    ? 4
         : family == inetdiag::kAfInet6 ? 16
                                        : 0;
}

// Emits operations whose `no` jumps go to labels bound later (every jump
// of a compiled program goes forward). Label 0 is "reject": 4 bytes past
// the end.
class Emitter {
 public:
  static constexpr int kReject = 0;

  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[label] = static_cast<int64_t>(code_.size()); }

  // One operation `code` followed by `payload`, going on to the next
  // operation if it holds, else to `no_label`.
  void Op(uint8_t code, const void* payload, size_t payload_size,
          int no_label) {
    BcOp op{code, static_cast<uint8_t>(sizeof(BcOp) + payload_size), 0};
    fixups_.push_back({code_.size(), no_label});
    Append(&op, sizeof(op));
    Append(payload, payload_size);
  }

  absl::StatusOr<std::vector<uint8_t>> Finish() {
    if (code_.size() > kMaxBytecode) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the expression compiles to ", code_.size(),
          " bytes of bytecode, more than the kernel's ", kMaxBytecode));
    }
    labels_[kReject] = static_cast<int64_t>(code_.size()) + 4;
    for (const Fixup& f : fixups_) {
      const uint16_t no = static_cast<uint16_t>(labels_[f.label] - f.offset);
      std::memcpy(&code_[f.offset + offsetof(BcOp, no)], &no, sizeof(no));
    }
    return std::move(code_);
  }

 private:
  struct Fixup {
    size_t offset;
    int label;
  };
  void Append(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    code_.insert(code_.end(), b, b + n);
  }

  std::vector<uint8_t> code_;
  std::vector<int64_t> labels_{-1};
  std::vector<Fixup> fixups_;
};

uint8_t PortCode(const Node& n) {
  switch (n.op) {
    case PortOp::kEq:
      return n.source ? inetdiag::kBcSourceEq : inetdiag::kBcDestEq;
    case PortOp::kGe:
      return n.source ? inetdiag::kBcSourceGe : inetdiag::kBcDestGe;
    case PortOp::kLe:
      return n.source ? inetdiag::kBcSourceLe : inetdiag::kBcDestLe;
  }
  return inetdiag::kBcNop;
}

// Code that reaches its end if `n` holds and jumps to `no` if not.
void Generate(const Node& n, int no, Emitter* e) {
  switch (n.kind) {
    case Node::Kind::kPort: {
      const BcOp value{0, 0, n.port};
      e->Op(PortCode(n), &value, sizeof(value), no);
      return;
    }
    case Node::Kind::kHost: {
      uint8_t payload[sizeof(HostCond) + 16] = {};
      HostCond c{};
      c.family = n.host.family;
      c.prefix_len = n.host.prefix_len;
      c.port = n.host.port;
      std::memcpy(payload, &c, sizeof(c));
      const size_t bytes = AddressBytes(c.family);
      std::memcpy(payload + sizeof(c), n.host.address.data(), bytes);
      e->Op(n.source ? inetdiag::kBcSourceCond : inetdiag::kBcDestCond, payload,
            sizeof(c) + bytes, no);
      return;
    }
    case Node::Kind::kAnd:
      Generate(*n.left, no, e);
      Generate(*n.right, no, e);
      return;
    case Node::Kind::kOr: {
      const int second = e->NewLabel();
      const int done = e->NewLabel();
      Generate(*n.left, second, e);
      e->Op(inetdiag::kBcJmp, nullptr, 0, done);
      e->Bind(second);
      Generate(*n.right, no, e);
      e->Bind(done);
      return;
    }
    case Node::Kind::kNot: {
      const int held = e->NewLabel();
      Generate(*n.left, held, e);
      e->Op(inetdiag::kBcJmp, nullptr, 0, no);
      e->Bind(held);
      return;
    }
    case Node::Kind::kFalse:
      e->Op(inetdiag::kBcJmp, nullptr, 0, no);
      return;
    case Node::Kind::kTrue:
    case Node::Kind::kStates:  // excluded by the contract
      return;
  }
}

// Reads a T at `offset` of `program`, if it is there.
template <typename T>
bool ReadAt(const std::vector<uint8_t>& program, size_t offset, T* out) {
  if (offset > program.size() || program.size() - offset < sizeof(T)) {
    return false;
  }
  std::memcpy(out, program.data() + offset, sizeof(T));
  return true;
}

absl::Status Rejected(size_t offset, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bytecode rejected at offset ", offset, ": ", why));
}

// The kernel's valid_cc: `target` bytes before the end lies on the chain
// of `yes` steps from the start.
bool OnYesChain(const std::vector<uint8_t>& program, int target) {
  int len = static_cast<int>(program.size());
  size_t pos = 0;
  while (len >= 0) {
    if (target > len) return false;
    if (target == len) return true;
    BcOp op;
    if (!ReadAt(program, pos, &op)) return false;
    if (op.yes < 4 || (op.yes & 3) != 0) return false;
    len -= op.yes;
    pos += op.yes;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> Compile(const Node& n) {
  Emitter e;
  Generate(n, Emitter::kReject, &e);
  return e.Finish();
}

bool Run(const std::vector<uint8_t>& program, const inetdiag::Msg& msg) {
  const uint16_t sport = ntohs(msg.id.sport_be);
  const uint16_t dport = ntohs(msg.id.dport_be);
  int len = static_cast<int>(program.size());
  size_t pos = 0;
  while (len > 0) {
    BcOp op;
    if (!ReadAt(program, pos, &op)) return false;
    bool yes = true;
    BcOp arg{};
    switch (op.code) {
      case inetdiag::kBcNop:
        break;
      case inetdiag::kBcJmp:
        yes = false;
        break;
      case inetdiag::kBcSourceEq:
      case inetdiag::kBcSourceGe:
      case inetdiag::kBcSourceLe:
      case inetdiag::kBcDestEq:
      case inetdiag::kBcDestGe:
      case inetdiag::kBcDestLe: {
        if (!ReadAt(program, pos + sizeof(op), &arg)) return false;
        const bool source = op.code == inetdiag::kBcSourceEq ||
                            op.code == inetdiag::kBcSourceGe ||
                            op.code == inetdiag::kBcSourceLe;
        const uint16_t p = source ? sport : dport;
        if (op.code == inetdiag::kBcSourceEq ||
            op.code == inetdiag::kBcDestEq) {
          yes = p == arg.no;
        } else if (op.code == inetdiag::kBcSourceGe ||
                   op.code == inetdiag::kBcDestGe) {
          yes = p >= arg.no;
        } else {
          yes = p <= arg.no;
        }
        break;
      }
      case inetdiag::kBcSourceCond:
      case inetdiag::kBcDestCond: {
        HostCond c;
        if (!ReadAt(program, pos + sizeof(op), &c)) return false;
        HostCondition h;
        h.family = c.family;
        h.prefix_len = c.prefix_len;
        h.port = c.port;
        const size_t bytes = AddressBytes(c.family);
        const size_t at = pos + sizeof(op) + sizeof(c);
        if (program.size() - std::min(program.size(), at) < bytes) {
          return false;
        }
        std::memcpy(h.address.data(), program.data() + at, bytes);
        const bool source = op.code == inetdiag::kBcSourceCond;
        yes = HostMatches(h, msg.family, source ? msg.id.src : msg.id.dst,
                          source ? sport : dport);
        break;
      }
      default:  // conditions a compiled program never holds
        yes = false;
        break;
    }
    const int step = yes ? op.yes : op.no;
    if (step == 0) return false;
    len -= step;
    pos += step;
  }
  return len == 0;
}

absl::Status Audit(const std::vector<uint8_t>& program) {
  const int total = static_cast<int>(program.size());
  if (program.size() > kMaxBytecode) return Rejected(0, "too long");
  int len = total;
  size_t pos = 0;
  while (len > 0) {
    BcOp op;
    if (!ReadAt(program, pos, &op)) return Rejected(pos, "truncated op");
    int min_len = sizeof(BcOp);
    switch (op.code) {
      case inetdiag::kBcSourceCond:
      case inetdiag::kBcDestCond: {
        min_len += sizeof(HostCond);
        if (len < min_len) return Rejected(pos, "truncated hostcond");
        HostCond c;
        ReadAt(program, pos + sizeof(op), &c);
        if (c.family != inetdiag::kAfUnspec && c.family != inetdiag::kAfInet &&
            c.family != inetdiag::kAfInet6) {
          return Rejected(pos, "hostcond family");
        }
        const int bytes = static_cast<int>(AddressBytes(c.family));
        min_len += bytes;
        if (len < min_len) return Rejected(pos, "truncated address");
        if (c.prefix_len > 8 * bytes) return Rejected(pos, "prefix length");
        break;
      }
      case inetdiag::kBcDevCond:
        min_len += sizeof(uint32_t);
        if (len < min_len) return Rejected(pos, "truncated devcond");
        break;
      case inetdiag::kBcSourceEq:
      case inetdiag::kBcSourceGe:
      case inetdiag::kBcSourceLe:
      case inetdiag::kBcDestEq:
      case inetdiag::kBcDestGe:
      case inetdiag::kBcDestLe:
        min_len += sizeof(BcOp);
        if (len < min_len) return Rejected(pos, "truncated port comparison");
        break;
      case inetdiag::kBcMarkCond:
      case inetdiag::kBcCgroupCond:
        min_len += 8;
        if (len < min_len) return Rejected(pos, "truncated condition");
        break;
      case inetdiag::kBcAuto:
      case inetdiag::kBcJmp:
      case inetdiag::kBcNop:
        break;
      default:
        return Rejected(pos, absl::StrCat("unknown op ", op.code));
    }
    if (op.code != inetdiag::kBcNop) {
      if (op.no < min_len || op.no > len + 4 || (op.no & 3) != 0) {
        return Rejected(pos, "no jump");
      }
      if (op.no < len && !OnYesChain(program, len - op.no)) {
        return Rejected(pos, "no jump lands inside an op");
      }
    }
    if (op.yes < min_len || op.yes > len + 4 || (op.yes & 3) != 0) {
      return Rejected(pos, "yes jump");
    }
    pos += op.yes;
    len -= op.yes;
  }
  if (len != 0) return Rejected(pos, "runs past its end");
  return absl::OkStatus();
}

}  // namespace filter
