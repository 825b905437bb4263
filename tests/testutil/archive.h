// Reading archives in tests: every line of a zstd JSONL archive, decoded,
// and the real M-Lab archives and snapshots in ../shared/testdata/mlab.
#ifndef TCPINFO_TESTS_TESTUTIL_ARCHIVE_H_
#define TCPINFO_TESTS_TESTUTIL_ARCHIVE_H_

#include <string>
#include <vector>

#include "parse/archival_record.h"

namespace testutil {

struct Archive {
  std::vector<std::string> lines;              // each without its '\n'
  std::vector<parse::ArchivalRecord> records;  // records[i] is lines[i]
};

// The real M-Lab archives in testdata/mlab/ that together hold every kind
// of record (metadata, snapshots of several connections and kernels, a
// FIN_WAIT2 close): what a test or benchmark reads to cover them all.
// Header-only, so benchmarks can use it without linking gtest.
inline constexpr const char* kMlabArchives[] = {
    "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst",
    "ndt-jdczh_1553815964_00000000000003E8.00185.jsonl.zst",
    "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst",
    "finwait2-sample_1554836592_unsafe_000000000135A272.00000.jsonl.zst",
    "archiveRecords.jsonl.zst",
};

// Decompresses and decodes every line of `path`; fails the current test on
// a bad stream or line (and skips that line).
Archive ReadArchive(const std::string& path);

// The snapshots of testdata/mlab/<name>, without its metadata line.
Archive MlabSnapshots(const std::string& name);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_ARCHIVE_H_
