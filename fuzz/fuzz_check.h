// FuzzCheck(): the invariant check of the fuzz targets. A failed check
// prints what broke and aborts, which libFuzzer reports as a crash and saves
// the input that caused it.
//
// Thread-safe (it only writes to stderr).
#ifndef TCPINFO_FUZZ_FUZZ_CHECK_H_
#define TCPINFO_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

namespace fuzz {

// Aborts with `what` on stderr unless `ok`.
inline void FuzzCheck(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace fuzz

#endif  // TCPINFO_FUZZ_FUZZ_CHECK_H_
