// Paths tests need: the source tree, the shared test data beside the
// repository, and the built binaries.
#ifndef TCPINFO_TESTS_TESTUTIL_PATHS_H_
#define TCPINFO_TESTS_TESTUTIL_PATHS_H_

#include <string>

namespace testutil {

// The repository root.
std::string SourceDir();
// ../shared/testdata, or $TCPINFO_TESTDATA if set.
std::string TestDataDir();
// ../shared/tools/connfarm, or $TCPINFO_CONNFARM if set.
std::string ConnfarmPath();
// build/bin/<name>.
std::string BinaryPath(const std::string& name);
// Reads a whole file; fails the current test (and returns "") if it cannot.
std::string ReadFileOrDie(const std::string& path);
// Decompresses a whole zstd file (all frames); fails the test on error.
std::string ReadZstdFileOrDie(const std::string& path);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_PATHS_H_
