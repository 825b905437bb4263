#include "filter/parser.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tcp/tcp_info.h"

namespace filter {
namespace {

struct Token {
  std::string text;
  size_t column;  // byte offset in the expression
  bool word;      // false: an operator or parenthesis
};

bool IsOperatorChar(char c) { return std::strchr("()=<>!&|", c) != nullptr; }

std::vector<Token> Tokenize(absl::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (c == '(' || c == ')') {
      ++i;
    } else if (IsOperatorChar(c)) {
      // = == != < > <= >= && || & | !
      ++i;
      if (i < s.size() && ((s[i] == '=' && c != '&' && c != '|') ||
                           (s[i] == c && (c == '&' || c == '|')))) {
        ++i;
      }
    } else {
      while (i < s.size() &&
             !absl::ascii_isspace(static_cast<unsigned char>(s[i])) &&
             !IsOperatorChar(s[i])) {
        ++i;
      }
      tokens.push_back({std::string(s.substr(start, i - start)), start, true});
      continue;
    }
    tokens.push_back({std::string(s.substr(start, i - start)), start, false});
  }
  return tokens;
}

// A comparison as written, lowered to the kernel's three: a > b is
// !(a <= b), a < b is !(a >= b), a != b is !(a == b).
struct Comparison {
  PortOp op;
  bool negate;
};

std::optional<Comparison> ComparisonNamed(absl::string_view t) {
  if (t == "=" || t == "==" || t == "eq") return Comparison{PortOp::kEq, false};
  if (t == "!=" || t == "ne" || t == "neq") {
    return Comparison{PortOp::kEq, true};
  }
  if (t == ">=" || t == "ge" || t == "geq") {
    return Comparison{PortOp::kGe, false};
  }
  if (t == "<=" || t == "le" || t == "leq") {
    return Comparison{PortOp::kLe, false};
  }
  if (t == ">" || t == "gt") return Comparison{PortOp::kLe, true};
  if (t == "<" || t == "lt") return Comparison{PortOp::kGe, true};
  return std::nullopt;
}

uint32_t Bit(int state) { return 1u << state; }

class Parser {
 public:
  explicit Parser(absl::string_view text)
      : text_(text), tokens_(Tokenize(text)) {}

  absl::StatusOr<NodePtr> Run() {
    if (tokens_.empty()) return MakeConstant(true);
    NodePtr n = Expr(0);
    if (!error_.empty()) return Failure();
    if (pos_ < tokens_.size()) {
      Fail(pos_,
           tokens_[pos_].text == ")" ? "unbalanced ')'" : "expected and/or");
      return Failure();
    }
    return n;
  }

 private:
  bool AtEnd() const { return pos_ >= tokens_.size(); }
  const std::string& Peek() const {
    static const std::string kEnd;
    return AtEnd() ? kEnd : tokens_[pos_].text;
  }
  bool PeekIs(std::initializer_list<absl::string_view> any) const {
    if (AtEnd()) return false;
    for (absl::string_view a : any) {
      if (tokens_[pos_].text == a) return true;
    }
    return false;
  }

  // Records the first mistake, at token `at` (or the end); returns null.
  NodePtr Fail(size_t at, absl::string_view what) {
    if (error_.empty()) {
      error_column_ = at < tokens_.size() ? tokens_[at].column : text_.size();
      error_ = std::string(what);
    }
    return nullptr;
  }

  absl::Status Failure() const {
    return absl::InvalidArgumentError(absl::StrCat(
        "column ", error_column_ + 1, ": ", error_, ": ",
        text_.substr(0, error_column_), ">>>", text_.substr(error_column_)));
  }

  NodePtr Leaf(NodePtr n) {
    if (++leaves_ > kMaxLeaves) {
      return Fail(pos_ - 1, absl::StrCat("more than ", kMaxLeaves, " terms"));
    }
    return n;
  }

  NodePtr Expr(int depth) {
    NodePtr left = Term(depth);
    while (left != nullptr && !AtEnd() && Peek() != ")") {
      bool is_or = false;
      if (PeekIs({"and", "&&", "&"})) {
        ++pos_;
      } else if (PeekIs({"or", "||", "|"})) {
        is_or = true;
        ++pos_;
      }
      NodePtr right = Term(depth);
      if (right == nullptr) return nullptr;
      left = is_or ? MakeOr(std::move(left), std::move(right))
                   : MakeAnd(std::move(left), std::move(right));
    }
    return left;
  }

  NodePtr Term(int depth) {
    if (depth > kMaxDepth) {
      return Fail(pos_, absl::StrCat("nested deeper than ", kMaxDepth));
    }
    if (AtEnd()) return Fail(pos_, "expression ends too early");
    if (PeekIs({"not", "!"})) {
      ++pos_;
      NodePtr a = Term(depth + 1);
      return a == nullptr ? nullptr : MakeNot(std::move(a));
    }
    if (Peek() == "(") {
      const size_t open = pos_++;
      NodePtr e = Expr(depth + 1);
      if (e == nullptr) return nullptr;
      if (Peek() != ")") return Fail(open, "'(' is never closed");
      ++pos_;
      return e;
    }
    if (PeekIs({"state", "exclude"})) return States();
    return Atom();
  }

  NodePtr States() {
    uint32_t states = 0;
    bool first = true;
    while (PeekIs({"state", "exclude"})) {
      const bool exclude = Peek() == "exclude";
      ++pos_;
      const uint32_t bits = AtEnd() ? 0 : StateNamed(Peek());
      if (bits == 0) return Fail(pos_, "expected a state name");
      ++pos_;
      if (first) states = exclude ? kAllStates : 0;
      states = exclude ? states & ~bits : states | bits;
      first = false;
    }
    return Leaf(MakeStates(states));
  }

  // A word, consumed; null (and the error recorded) if there is none.
  const Token* Word(absl::string_view what) {
    if (AtEnd() || !tokens_[pos_].word) {
      Fail(pos_, absl::StrCat("expected ", what));
      return nullptr;
    }
    return &tokens_[pos_++];
  }

  std::optional<uint16_t> Port(absl::string_view text, size_t at) {
    uint32_t n = 0;
    if (absl::SimpleAtoi(text, &n)) {
      if (n <= 65535) return static_cast<uint16_t>(n);
      Fail(at, absl::StrCat("port ", text, " is out of range"));
      return std::nullopt;
    }
    const std::string name(text);
    if (!name.empty() &&
        absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) {
      if (const struct servent* se = getservbyname(name.c_str(), "tcp")) {
        return ntohs(static_cast<uint16_t>(se->s_port));
      }
    }
    Fail(at, absl::StrCat("unknown port \"", text, "\""));
    return std::nullopt;
  }

  NodePtr Atom() {
    const size_t at = pos_;
    const Token& t = tokens_[pos_];
    if (!t.word) return Fail(at, absl::StrCat("unexpected '", t.text, "'"));
    ++pos_;
    const std::string& w = t.text;
    if (w == "sport" || w == "dport") return PortComparison(w == "sport");
    if (w == "src" || w == "dst") {
      const bool source = w == "src";
      if (PeekIs({"host", "net", "port", "portrange"})) {
        return Primitive(source);
      }
      const Token* value = Word("an address");
      if (value == nullptr) return nullptr;
      HostCondition h;
      if (!HostCond(value->text, pos_ - 1, &h)) return nullptr;
      return Leaf(MakeHost(source, h));
    }
    if (w == "host" || w == "net" || w == "port" || w == "portrange") {
      --pos_;
      NodePtr s = Primitive(true);
      if (s == nullptr) return nullptr;
      pos_ = at;
      NodePtr d = Primitive(false);
      if (d == nullptr) return nullptr;
      return MakeOr(std::move(s), std::move(d));
    }
    if (w == "tcp") return MakeConstant(true);
    if (w == "ip" || w == "ip6") {
      // The kernel's IPv4 condition also holds for a v4-mapped IPv6
      // socket, whose packets are IPv4 on the wire.
      HostCondition v4;
      v4.family = inetdiag::kAfInet;
      NodePtr ip = Leaf(MakeHost(true, v4));
      if (w == "ip" || ip == nullptr) return ip;
      HostCondition v6;
      v6.family = inetdiag::kAfInet6;
      return MakeAnd(MakeHost(true, v6), MakeNot(std::move(ip)));
    }
    if (const uint32_t states = StateNamed(w)) return Leaf(MakeStates(states));
    return Fail(at, absl::StrCat("unknown word \"", w, "\""));
  }

  NodePtr PortComparison(bool source) {
    Comparison c{PortOp::kEq, false};
    if (!AtEnd()) {
      if (std::optional<Comparison> named = ComparisonNamed(Peek())) {
        c = *named;
        ++pos_;
      }
    }
    const Token* value = Word("a port");
    if (value == nullptr) return nullptr;
    absl::string_view text = value->text;
    absl::ConsumePrefix(&text, ":");
    const std::optional<uint16_t> port = Port(text, pos_ - 1);
    if (!port.has_value()) return nullptr;
    NodePtr n = Leaf(MakePort(source, c.op, *port));
    if (n == nullptr || !c.negate) return n;
    return MakeNot(std::move(n));
  }

  // tcpdump's host/net/port/portrange at the current token, for the source
  // side (`source`) or the destination side.
  NodePtr Primitive(bool source) {
    const std::string kind = tokens_[pos_++].text;
    const Token* value = Word(kind == "portrange" ? "a port range"
                              : kind == "port"    ? "a port"
                                                  : "an address");
    if (value == nullptr) return nullptr;
    const size_t at = pos_ - 1;
    if (kind == "port") {
      const std::optional<uint16_t> port = Port(value->text, at);
      if (!port.has_value()) return nullptr;
      return Leaf(MakePort(source, PortOp::kEq, *port));
    }
    if (kind == "portrange") {
      const std::vector<absl::string_view> ends =
          absl::StrSplit(value->text, absl::MaxSplits('-', 1));
      if (ends.size() != 2) return Fail(at, "expected LOW-HIGH");
      std::optional<uint16_t> low = Port(ends[0], at);
      if (!low.has_value()) return nullptr;
      std::optional<uint16_t> high = Port(ends[1], at);
      if (!high.has_value()) return nullptr;
      if (*low > *high) std::swap(low, high);  // as tcpdump does
      NodePtr l = Leaf(MakePort(source, PortOp::kGe, *low));
      NodePtr h = Leaf(MakePort(source, PortOp::kLe, *high));
      if (l == nullptr || h == nullptr) return nullptr;
      return MakeAnd(std::move(l), std::move(h));
    }
    HostCondition h;
    if (!Address(value->text, at, kind == "net", &h)) return nullptr;
    return Leaf(MakeHost(source, h));
  }

  // ADDR, or with `prefix_allowed` ADDR/LEN, into h (port -1).
  bool Address(absl::string_view text, size_t at, bool prefix_allowed,
               HostCondition* h) {
    absl::string_view addr = text;
    std::optional<int> prefix;
    const size_t slash = text.find('/');
    if (slash != absl::string_view::npos) {
      if (!prefix_allowed) {
        Fail(at, "a host is an address without /LEN (use net)");
        return false;
      }
      int n = 0;
      if (!absl::SimpleAtoi(text.substr(slash + 1), &n) || n < 0) {
        Fail(at, absl::StrCat("bad prefix length in \"", text, "\""));
        return false;
      }
      prefix = n;
      addr = text.substr(0, slash);
    }
    const std::string a(addr);
    if (inet_pton(AF_INET, a.c_str(), h->address.data()) == 1) {
      h->family = inetdiag::kAfInet;
    } else if (inet_pton(AF_INET6, a.c_str(), h->address.data()) == 1) {
      h->family = inetdiag::kAfInet6;
    } else {
      Fail(at, absl::StrCat("not an IPv4 or IPv6 address: \"", addr, "\""));
      return false;
    }
    const int bits = h->family == inetdiag::kAfInet ? 32 : 128;
    if (prefix.value_or(bits) > bits) {
      Fail(at, absl::StrCat("prefix length ", *prefix, " exceeds ", bits));
      return false;
    }
    h->prefix_len = static_cast<uint8_t>(prefix.value_or(bits));
    // Bits past the prefix are never compared: zero them, so that equal
    // conditions look equal.
    for (int i = h->prefix_len; i < 128; ++i) {
      h->address[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    }
    return true;
  }

  // ss's HOSTCOND: *, *:PORT, :PORT, ADDR[/LEN][:PORT], [ADDR][/LEN][:PORT],
  // V6ADDR/LEN, and (unlike ss) a bare V6ADDR.
  bool HostCond(absl::string_view text, size_t at, HostCondition* h) {
    absl::string_view addr = text;
    absl::string_view port;
    bool has_port = false;
    if (absl::ConsumePrefix(&addr, "[")) {
      const size_t close = addr.find(']');
      if (close == absl::string_view::npos) {
        Fail(at, "'[' without ']'");
        return false;
      }
      absl::string_view rest = addr.substr(close + 1);
      addr = addr.substr(0, close);
      std::string with_prefix(addr);
      if (absl::StartsWith(rest, "/")) {
        const size_t colon = rest.find(':');
        absl::StrAppend(&with_prefix, rest.substr(0, colon));
        rest = colon == absl::string_view::npos ? "" : rest.substr(colon);
      }
      if (!rest.empty()) {
        if (!absl::ConsumePrefix(&rest, ":")) {
          Fail(at, absl::StrCat("expected :PORT after ']' in \"", text, "\""));
          return false;
        }
        port = rest;
        has_port = true;
      }
      if (!Address(with_prefix, at, true, h)) return false;
    } else {
      // The port follows the last ':' after any /LEN; an address with
      // several ':' and no /LEN is IPv6 without a port.
      const size_t slash = addr.find('/');
      const size_t colon = addr.rfind(':');
      const bool v6_bare =
          slash == absl::string_view::npos && addr.find(':') != colon;
      if (colon != absl::string_view::npos && !v6_bare &&
          (slash == absl::string_view::npos || colon > slash)) {
        port = addr.substr(colon + 1);
        addr = addr.substr(0, colon);
        has_port = true;
      }
      if (!addr.empty() && addr != "*") {
        if (!Address(addr, at, true, h)) return false;
      }
    }
    if (has_port && !port.empty() && port != "*") {
      const std::optional<uint16_t> p = Port(port, at);
      if (!p.has_value()) return false;
      h->port = *p;
    } else if (has_port && port.empty()) {
      Fail(at, absl::StrCat("expected a port after ':' in \"", text, "\""));
      return false;
    }
    return true;
  }

  absl::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int leaves_ = 0;
  std::string error_;
  size_t error_column_ = 0;
};

}  // namespace

uint32_t StateNamed(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  const uint32_t close_listen = Bit(tcp::kClose) | Bit(tcp::kListen);
  struct Named {
    const char* name;
    uint32_t states;
  };
  static const Named kNames[] = {
      {"established", Bit(tcp::kEstablished)},
      {"syn-sent", Bit(tcp::kSynSent)},
      {"syn-recv", Bit(tcp::kSynRecv)},
      {"syn-rcv", Bit(tcp::kSynRecv)},
      {"fin-wait-1", Bit(tcp::kFinWait1)},
      {"fin-wait-2", Bit(tcp::kFinWait2)},
      {"time-wait", Bit(tcp::kTimeWait)},
      {"closed", Bit(tcp::kClose)},
      {"close", Bit(tcp::kClose)},
      {"unconnected", Bit(tcp::kClose)},
      {"close-wait", Bit(tcp::kCloseWait)},
      {"last-ack", Bit(tcp::kLastAck)},
      {"listening", Bit(tcp::kListen)},
      {"listen", Bit(tcp::kListen)},
      {"closing", Bit(tcp::kClosing)},
      {"all", kAllStates},
      {"connected", kAllStates & ~close_listen},
      {"synchronized", kAllStates & ~close_listen & ~Bit(tcp::kSynSent)},
      {"bucket", Bit(tcp::kSynRecv) | Bit(tcp::kTimeWait)},
      {"big", kAllStates & ~(Bit(tcp::kSynRecv) | Bit(tcp::kTimeWait))},
  };
  for (const Named& k : kNames) {
    if (n == k.name) return k.states;
  }
  return 0;
}

absl::StatusOr<NodePtr> Parse(absl::string_view text) {
  return Parser(text).Run();
}

}  // namespace filter
