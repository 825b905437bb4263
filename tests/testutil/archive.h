// Reading archives in tests: every line of a zstd JSONL archive, decoded,
// and the real M-Lab snapshots in ../shared/testdata/mlab.
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

// Decompresses and decodes every line of `path`; fails the current test on
// a bad stream or line (and skips that line).
Archive ReadArchive(const std::string& path);

// The snapshots of testdata/mlab/<name>, without its metadata line.
Archive MlabSnapshots(const std::string& name);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_ARCHIVE_H_
