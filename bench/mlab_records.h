// Real M-Lab snapshots for the microbenchmarks, read once from
// ../shared/testdata/mlab (or $TCPINFO_TESTDATA/mlab).
#ifndef TCPINFO_BENCH_MLAB_RECORDS_H_
#define TCPINFO_BENCH_MLAB_RECORDS_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "parse/archive_reader.h"
#include "parse/input_stream.h"

namespace bench {

// The snapshots (no metadata) of testdata/mlab/<name>; exits on error.
inline std::vector<parse::ArchivalRecord> MlabSnapshots(
    const std::string& name) {
  std::string dir;
  if (const char* env = std::getenv("TCPINFO_TESTDATA")) {
    dir = env;
  } else {
    char exe[4096] = {};
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    const std::string bin(exe, n > 0 ? n : 0);  // <repo>/<build>/bin/x
    std::string repo = bin.substr(0, bin.rfind('/'));
    repo = repo.substr(0, repo.rfind('/'));
    repo = repo.substr(0, repo.rfind('/'));
    dir = repo + "/../shared/testdata";
  }
  const std::string path = dir + "/mlab/" + name;
  auto input = parse::InputStream::Open(path);
  if (!input.ok()) {
    std::fprintf(stderr, "%s\n", input.status().ToString().c_str());
    std::exit(1);
  }
  parse::ArchiveReader reader(*std::move(input));
  parse::DecodedRecord d;
  std::vector<parse::ArchivalRecord> out;
  for (;;) {
    absl::StatusOr<bool> more = reader.Next(&d);
    if (!more.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   more.status().ToString().c_str());
      std::exit(1);
    }
    if (!*more) break;
    if (d.has_metadata || d.raw_idm.data() == nullptr) continue;
    parse::ArchivalRecord r;
    r.timestamp = d.timestamp;
    r.raw_idm = std::string(d.raw_idm);
    for (absl::string_view a : d.attributes) {
      if (a.data() == nullptr) {
        r.attributes.emplace_back();
      } else {
        r.attributes.emplace_back(std::string(a));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The long NDT connection, 891 snapshots.
inline const std::vector<parse::ArchivalRecord>& LongConnection() {
  static const auto* records = new std::vector<parse::ArchivalRecord>(
      MlabSnapshots("ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst"));
  return *records;
}

// `r` as a 6.18 kernel reports it (tcp_info grown to 280 bytes) under
// another cookie.
inline parse::ArchivalRecord AsConnection(parse::ArchivalRecord r,
                                          uint64_t cookie) {
  const uint32_t words[2] = {static_cast<uint32_t>(cookie),
                             static_cast<uint32_t>(cookie >> 32)};
  std::memcpy(r.raw_idm.data() + offsetof(inetdiag::Msg, id) +
                  offsetof(inetdiag::SockId, cookie),
              words, sizeof(words));
  if (r.attributes.size() > inetdiag::kInfo &&
      r.attributes[inetdiag::kInfo].has_value()) {
    r.attributes[inetdiag::kInfo]->resize(280, '\0');
  }
  return r;
}

// N connections (cookies 1000 + i), each with two consecutive real
// snapshots of the long connection, and views of both.
struct SnapshotPairs {
  std::vector<parse::ArchivalRecord> a, b;
  std::vector<parse::RecordView> a_views, b_views;

  explicit SnapshotPairs(int n) {
    const auto& records = LongConnection();
    for (int i = 0; i < n; ++i) {
      a.push_back(AsConnection(records[100 + i % 300], 1000 + i));
      b.push_back(AsConnection(records[101 + i % 300], 1000 + i));
    }
    for (int i = 0; i < n; ++i) {
      a_views.push_back(a[i].View());
      b_views.push_back(b[i].View());
    }
  }
};

}  // namespace bench

#endif  // TCPINFO_BENCH_MLAB_RECORDS_H_
