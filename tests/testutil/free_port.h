// FreeLoopbackPort: a TCP port for a test's private server.
//
// Thread-safe.
#ifndef TCPINFO_TESTS_TESTUTIL_FREE_PORT_H_
#define TCPINFO_TESTS_TESTUTIL_FREE_PORT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace testutil {

// A port on 127.0.0.1 that nothing listened on a moment ago (the kernel's
// pick for a bind to port 0).
absl::StatusOr<uint16_t> FreeLoopbackPort();

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_FREE_PORT_H_
