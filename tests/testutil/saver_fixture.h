// A fixture for saver tests that write the snapshots of a real M-Lab
// connection (testdata/mlab, kLongConnection) under cookies and times of
// their own.
//
// Threading: like any gtest fixture, it belongs to the test's thread; the
// snapshots are loaded once per suite and only read after that.
#ifndef TCPINFO_TESTS_TESTUTIL_SAVER_FIXTURE_H_
#define TCPINFO_TESTS_TESTUTIL_SAVER_FIXTURE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "parse/timestamp.h"
#include "saver/saver.h"
#include "tests/testutil/archive.h"

namespace testutil {

class RealSnapshotsTest : public ::testing::Test {
 protected:
  // The M-Lab archive whose snapshots the tests write.
  static constexpr const char* kLongConnection =
      "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst";

  // Loads original_ (the snapshots of kLongConnection) / frees it.
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // `ms` milliseconds after a fixed time (2026-11-22T01:00:00Z): snapshot i
  // is written at T(i).
  static parse::Timestamp T(int64_t ms);
  // Writes snapshots [first, first + n) of original_ for `cookie` to `s`,
  // snapshot i at T(i); does not flush.
  static void WriteSnapshots(saver::Saver* s, uint64_t cookie, size_t first,
                             size_t n);
  // first, first + 1, ..., first + n - 1.
  static std::vector<size_t> Range(size_t first, size_t n);

  static Archive* original_;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_SAVER_FIXTURE_H_
