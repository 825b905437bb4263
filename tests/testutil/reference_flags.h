// The Go reference's flags, read from its whole -help output
// (../shared/testdata/reference/tcp-info-help.txt), so that tests check
// ours against every one of them and a flag missed fails a test.
#ifndef TCPINFO_TESTS_TESTUTIL_REFERENCE_FLAGS_H_
#define TCPINFO_TESTS_TESTUTIL_REFERENCE_FLAGS_H_

#include <string>
#include <vector>

namespace testutil {

struct ReferenceFlag {
  std::string name;  // "logx.debug"
  // The value's kind as Go's PrintDefaults shows it: "" for a boolean,
  // "string", "int", or "value" (a flag.Value that is not a bool flag).
  std::string kind;
  // A value ours must accept for it ("" for a boolean).
  std::string sample;
};

// Every flag of the reference's -help, in its order; fails the current test
// if the file cannot be read, or a flag of kind "value" has no sample here
// yet (add one to reference_flags.cc).
std::vector<ReferenceFlag> ReferenceFlags();

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_REFERENCE_FLAGS_H_
