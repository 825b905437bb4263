// Fuzzes filter/: any text either fails to parse with a message, or
// compiles to dump queries whose bytecode passes the kernel's
// inet_diag_bc_audit rules (filter::Audit), fits an attribute, and selects
// exactly what the parsed expression does on sockets made from the input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "filter/bytecode.h"
#include "filter/program.h"
#include "fuzz/fuzz_check.h"
#include "inetdiag/inet_diag.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fuzz::FuzzCheck;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<filter::Program> p = filter::Program::Create(input);
  if (!p.ok()) {
    FuzzCheck(!p.status().message().empty(), "an error without a message");
    return 0;
  }
  uint32_t states = 0;
  for (const inetdiag::DumpQuery& q : p->Queries(filter::kAllStates)) {
    FuzzCheck(q.states != 0 && (q.states & states) == 0,
              "queries overlap or are empty");
    states |= q.states;
    FuzzCheck(q.bytecode.size() <= filter::kMaxBytecode, "bytecode too long");
    FuzzCheck(filter::Audit(q.bytecode).ok(), "the kernel rejects bytecode");
  }
  // Sockets from the input's bytes: each state, both families, addresses
  // and ports taken from the text so that its conditions can match.
  inetdiag::Msg m{};
  std::memcpy(&m, data, std::min(size, sizeof(m)));
  for (int s = 1; s <= 11; ++s) {  // the states sockets are dumped in
    for (uint8_t family : {inetdiag::kAfInet, inetdiag::kAfInet6}) {
      m.state = static_cast<uint8_t>(s);
      m.family = family;
      FuzzCheck(p->Matches(m) == filter::Evaluate(p->expression(), m),
                "program and expression disagree");
    }
  }
  return 0;
}
