#include <arpa/inet.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "filter/bytecode.h"
#include "filter/expression.h"
#include "filter/parser.h"
#include "filter/program.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tcp/tcp_info.h"

namespace filter {
namespace {

// A socket as inet_diag reports it: v4 addresses in the first word, v6 in
// all four.
inetdiag::Msg Socket(uint8_t state, const char* src, uint16_t sport,
                     const char* dst, uint16_t dport) {
  inetdiag::Msg m{};
  m.state = state;
  const bool v6 = std::strchr(src, ':') != nullptr;
  m.family = v6 ? inetdiag::kAfInet6 : inetdiag::kAfInet;
  inet_pton(v6 ? AF_INET6 : AF_INET, src, m.id.src);
  inet_pton(v6 ? AF_INET6 : AF_INET, dst, m.id.dst);
  m.id.sport_be = htons(sport);
  m.id.dport_be = htons(dport);
  return m;
}

// Evaluate(), the compiled program and the compiled program after Audit
// all agree on `m`; returns their answer.
bool Selects(const std::string& expr, const inetdiag::Msg& m) {
  absl::StatusOr<Program> p = Program::Create(expr);
  EXPECT_TRUE(p.ok()) << expr << ": " << p.status();
  if (!p.ok()) return false;
  for (const inetdiag::DumpQuery& q : p->Queries(kAllStates)) {
    EXPECT_TRUE(Audit(q.bytecode).ok()) << expr;
  }
  const bool evaluated = Evaluate(p->expression(), m);
  EXPECT_EQ(p->Matches(m), evaluated) << expr;
  return evaluated;
}

std::string ErrorOf(const std::string& expr) {
  absl::StatusOr<NodePtr> n = Parse(expr);
  EXPECT_FALSE(n.ok()) << expr;
  return n.ok() ? "" : std::string(n.status().message());
}

const inetdiag::Msg kWeb =
    Socket(tcp::kEstablished, "10.77.0.2", 40000, "10.77.0.1", 443);

TEST(FilterParse, SsPortComparisons) {
  EXPECT_TRUE(Selects("dport = :443", kWeb));
  EXPECT_TRUE(Selects("dport == 443", kWeb));
  EXPECT_TRUE(Selects("dport eq :https", kWeb));
  EXPECT_FALSE(Selects("dport != 443", kWeb));
  EXPECT_FALSE(Selects("dport neq 443", kWeb));
  EXPECT_TRUE(Selects("dport >= 443", kWeb));
  EXPECT_FALSE(Selects("dport > 443", kWeb));
  EXPECT_TRUE(Selects("dport gt 442", kWeb));
  EXPECT_TRUE(Selects("dport <= 443", kWeb));
  EXPECT_FALSE(Selects("dport < 443", kWeb));
  EXPECT_TRUE(Selects("dport lt 444", kWeb));
  EXPECT_TRUE(Selects("sport ge 40000 && sport le 40000", kWeb));
  EXPECT_TRUE(Selects("dport :443", kWeb));
}

TEST(FilterParse, SsHostConditions) {
  EXPECT_TRUE(Selects("dst 10.77.0.1", kWeb));
  EXPECT_TRUE(Selects("dst 10.77.0.1:443", kWeb));
  EXPECT_FALSE(Selects("dst 10.77.0.1:80", kWeb));
  EXPECT_TRUE(Selects("src 10.77.0.0/16", kWeb));
  EXPECT_TRUE(Selects("src 10.77.0.0/16:40000", kWeb));
  EXPECT_FALSE(Selects("src 10.78.0.0/16", kWeb));
  EXPECT_TRUE(Selects("dst :443", kWeb));
  EXPECT_TRUE(Selects("dst *:443", kWeb));
  EXPECT_TRUE(Selects("dst *", kWeb));
  const inetdiag::Msg v6 =
      Socket(tcp::kEstablished, "fd77::2", 5000, "fd77::1", 22);
  EXPECT_TRUE(Selects("dst [fd77::1]:22", v6));
  EXPECT_TRUE(Selects("dst [fd77::1]", v6));
  EXPECT_TRUE(Selects("dst fd77::/16", v6));
  EXPECT_TRUE(Selects("dst fd77::1", v6));  // ss would take "1" as a port
  EXPECT_FALSE(Selects("dst [fd77::2]", v6));
  EXPECT_FALSE(Selects("dst 10.77.0.1", v6));
  EXPECT_FALSE(Selects("dst fd77::/16", kWeb));
}

TEST(FilterParse, AnIpv4ConditionMatchesTheV4MappedAddressAsInTheKernel) {
  const inetdiag::Msg mapped = Socket(tcp::kEstablished, "::ffff:10.77.0.2",
                                      40000, "::ffff:10.77.0.1", 443);
  EXPECT_TRUE(Selects("dst 10.77.0.1", mapped));
  EXPECT_TRUE(Selects("src 10.77.0.0/24", mapped));
  EXPECT_TRUE(Selects("ip", mapped));
  EXPECT_FALSE(Selects("ip6", mapped));
  EXPECT_FALSE(Selects("dst [fd77::1]", mapped));
}

TEST(FilterParse, TcpdumpPrimitives) {
  EXPECT_TRUE(Selects("host 10.77.0.1", kWeb));
  EXPECT_TRUE(Selects("host 10.77.0.2 and port 443", kWeb));
  EXPECT_FALSE(Selects("src host 10.77.0.1", kWeb));
  EXPECT_TRUE(Selects("dst host 10.77.0.1", kWeb));
  EXPECT_TRUE(Selects("net 10.77.0.0/24", kWeb));
  EXPECT_FALSE(Selects("src net 10.77.1.0/24", kWeb));
  EXPECT_TRUE(Selects("src port 40000", kWeb));
  EXPECT_FALSE(Selects("dst port 40000", kWeb));
  EXPECT_TRUE(Selects("tcp port https", kWeb));
  EXPECT_TRUE(Selects("portrange 400-500", kWeb));
  EXPECT_TRUE(Selects("dst portrange 500-400", kWeb));  // swapped, as tcpdump
  EXPECT_FALSE(Selects("src portrange 400-500", kWeb));
  EXPECT_TRUE(Selects("ip and not ip6", kWeb));
}

TEST(FilterParse, AndAndOrHaveEqualPrecedenceLeftToRight) {
  // ((dport = 1 or dport = 443) and sport = 1): false. With and binding
  // tighter it would be true.
  EXPECT_FALSE(Selects("dport = 1 or dport = 443 and sport = 1", kWeb));
  // (dport = 443 and sport = 1) or dport = 443: true.
  EXPECT_TRUE(Selects("dport = 443 and sport = 1 or dport = 443", kWeb));
  EXPECT_TRUE(Selects("dport = 1 or (dport = 443 and sport = 40000)", kWeb));
  // Juxtaposition is and.
  EXPECT_FALSE(Selects("dport = 443 sport = 1", kWeb));
  EXPECT_TRUE(Selects("dport = 443 sport = 40000", kWeb));
}

TEST(FilterParse, NotBindsTightest) {
  EXPECT_TRUE(Selects("not dport = 1 and dport = 443", kWeb));
  EXPECT_FALSE(Selects("! dport = 443 or dport = 1", kWeb));
  EXPECT_TRUE(Selects("!(dport = 443 and sport = 1)", kWeb));
  EXPECT_TRUE(Selects("not not dport = 443", kWeb));
}

TEST(FilterParse, StatesAsSsBuildsThem) {
  const inetdiag::Msg listen =
      Socket(tcp::kListen, "10.77.0.1", 443, "0.0.0.0", 0);
  const inetdiag::Msg wait =
      Socket(tcp::kTimeWait, "10.77.0.2", 40001, "10.77.0.1", 443);
  EXPECT_TRUE(Selects("state established", kWeb));
  EXPECT_FALSE(Selects("state established", listen));
  EXPECT_TRUE(Selects("state established state listening", listen));
  EXPECT_FALSE(Selects("exclude listening", listen));
  EXPECT_TRUE(Selects("exclude listening", wait));
  // exclude first starts from all; a later state adds back.
  EXPECT_TRUE(Selects("exclude listening state listening", listen));
  EXPECT_TRUE(Selects("connected", wait));
  EXPECT_FALSE(Selects("connected", listen));
  EXPECT_TRUE(Selects("bucket", wait));
  EXPECT_FALSE(Selects("big", wait));
  EXPECT_TRUE(Selects("synchronized", kWeb));
  EXPECT_TRUE(Selects("state time-wait dport = 443", wait));
  EXPECT_FALSE(Selects("state established and sport = 443", listen));
  EXPECT_TRUE(Selects("established or sport = 443", listen));
}

TEST(FilterParse, ErrorsSayWhere) {
  EXPECT_EQ(ErrorOf("dport = foo"),
            "column 9: unknown port \"foo\": dport = >>>foo");
  EXPECT_EQ(ErrorOf("(dport = 22"),
            "column 1: '(' is never closed: >>>(dport = 22");
  EXPECT_EQ(ErrorOf("dport = 22)"),
            "column 11: unbalanced ')': dport = 22>>>)");
  EXPECT_EQ(ErrorOf("src 10.0.0.0/33"),
            "column 5: prefix length 33 exceeds 32: src >>>10.0.0.0/33");
  EXPECT_EQ(ErrorOf("state nosuch"),
            "column 7: expected a state name: state >>>nosuch");
  EXPECT_EQ(ErrorOf("dport = 22 and"),
            "column 15: expression ends too early: dport = 22 and>>>");
  EXPECT_EQ(ErrorOf("sport = 70000"),
            "column 9: port 70000 is out of range: sport = >>>70000");
  EXPECT_EQ(ErrorOf("bogus"), "column 1: unknown word \"bogus\": >>>bogus");
  EXPECT_EQ(ErrorOf("host 10.0.0.0/8"),
            "column 6: a host is an address without /LEN (use net): host "
            ">>>10.0.0.0/8");
  EXPECT_EQ(ErrorOf("src [fd77::1"),
            "column 5: '[' without ']': src >>>[fd77::1");
  EXPECT_EQ(ErrorOf("dport = 1 = 2"),
            "column 11: unexpected '=': dport = 1 >>>= 2");
  std::string deep(200, '(');
  EXPECT_EQ(ErrorOf(deep).substr(0, 32), "column 102: nested deeper than 1");
}

TEST(FilterProgram, AStateInsideAnOrSplitsTheQueries) {
  absl::StatusOr<Program> p = Program::Create("established or dport = 443");
  ASSERT_TRUE(p.ok());
  const std::vector<inetdiag::DumpQuery> q = p->Queries(kAllStates);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].states, 1u << tcp::kEstablished);
  EXPECT_TRUE(q[0].bytecode.empty());
  EXPECT_EQ(q[1].states, kAllStates & ~(1u << tcp::kEstablished));
  EXPECT_FALSE(q[1].bytecode.empty());
  // The collector's base states narrow each query.
  const std::vector<inetdiag::DumpQuery> listen =
      p->Queries(1u << tcp::kListen);
  ASSERT_EQ(listen.size(), 1u);
  EXPECT_EQ(listen[0].states, 1u << tcp::kListen);
}

TEST(FilterProgram, StatesAtTheTopAreOneQueryWithItsMask) {
  absl::StatusOr<Program> p =
      Program::Create("state established state fin-wait-1 dport = 443");
  ASSERT_TRUE(p.ok());
  const std::vector<inetdiag::DumpQuery> q = p->Queries(kAllStates);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].states, (1u << tcp::kEstablished) | (1u << tcp::kFinWait1));
  // One D_EQ: op + port op.
  ASSERT_EQ(q[0].bytecode.size(), 8u);
  EXPECT_EQ(q[0].bytecode[0], inetdiag::kBcDestEq);
  EXPECT_EQ(q[0].bytecode[1], 8);                           // yes: next op
  EXPECT_EQ(q[0].bytecode[2] | q[0].bytecode[3] << 8, 12);  // no: end + 4
  EXPECT_TRUE(Program::Create("dport = 1 and not dport = 1")
                  ->Queries(kAllStates)
                  .size() == 1);
  EXPECT_TRUE(Program::Create("established and listening")
                  ->Queries(kAllStates)
                  .empty());
}

TEST(FilterBytecode, AuditRejectsWhatTheKernelRejects) {
  std::vector<uint8_t> code =
      *Compile(*Parse("dport = 1 or sport = 2").value());
  EXPECT_TRUE(Audit(code).ok());
  std::vector<uint8_t> bad = code;
  bad[2] = 2;  // a no jump not a multiple of 4
  EXPECT_FALSE(Audit(bad).ok());
  bad = code;
  bad[2] = 4;  // lands inside the port comparison's second half
  EXPECT_FALSE(Audit(bad).ok());
  bad = code;
  bad[0] = 99;  // unknown op
  EXPECT_FALSE(Audit(bad).ok());
  bad = code;
  bad.resize(bad.size() - 4);  // truncated
  EXPECT_FALSE(Audit(bad).ok());
  std::vector<uint8_t> host = *Compile(*Parse("src 10.0.0.0/8").value());
  ASSERT_TRUE(Audit(host).ok());
  host[5] = 40;  // prefix longer than an IPv4 address
  EXPECT_FALSE(Audit(host).ok());
}

TEST(FilterBytecode, CompiledProgramsAgreeWithTheExpressionOnRandomSockets) {
  const char* exprs[] = {
      "sport >= 1000 and not (dport = 22 or dst 10.77.1.0/24)",
      "not src 10.77.0.2:40000 or dport < 443",
      "host fd77::1 or portrange 100-200 and ! net 10.77.0.0/17",
      "(dst [fd77::1]:443 || dst 10.77.0.1:443) && sport > 1024",
      "established or listening and sport = 443 or not dport >= 10",
      "exclude time-wait not (connected and dst 10.77.0.0/16)",
  };
  std::mt19937 rng(7);
  const char* addrs[] = {"10.77.0.1", "10.77.1.9", "10.78.0.1",
                         "fd77::1",   "fd77::2",   "::ffff:10.77.0.1"};
  for (const char* e : exprs) {
    for (int i = 0; i < 500; ++i) {
      const int a = rng() % 6;
      const int b = a >= 3 ? 3 + rng() % 3 : rng() % 3;  // same family
      const inetdiag::Msg m =
          Socket(1 + rng() % 11, addrs[a], rng() % 2 ? 443 : rng() % 3000,
                 addrs[b], rng() % 2 ? 22 : rng() % 3000);
      Selects(e, m);
    }
  }
}

}  // namespace
}  // namespace filter
