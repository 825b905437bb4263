// csvtool throughput on a large archive built from real M-Lab records.
//
//   build/bin/csvtool_bench [--records=N] [benchmark flags]
//
// Builds (once, in $TMPDIR) a zstd archive of a metadata line and N
// snapshot lines (default 1,000,000) cycled from the real records in
// ../shared/testdata/mlab, then measures:
//   BM_ArchiveToCsv    the csvtool pipeline in-process on one core: read +
//                      zstd + decode + Snapshot + CSV (output discarded)
//   BM_ArchiveToJsonl  the same with -format jsonl
//   BM_CsvtoolBinary   build/bin/csvtool FILE > /dev/null, wall time
// Each reports records/s and input MB/s (decompressed JSON bytes).
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "parse/archive_reader.h"
#include "parse/csv_writer.h"
#include "parse/input_stream.h"
#include "parse/snapshot.h"
#include "parse/snapshot_json.h"
#include "parse/timestamp.h"
#include "tests/testutil/archive.h"

namespace {

int64_t g_records = 1000000;
std::string g_archive_path;  // set once the archive exists

struct Archive {
  std::string path;
  int64_t records = 0;      // including the metadata line
  uint64_t json_bytes = 0;  // decompressed size
  uint64_t zstd_bytes = 0;
};

std::string SourceDir() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string dir = n > 0 ? std::string(exe, n) : ".";
  // build*/bin/csvtool_bench -> repository root.
  for (int i = 0; i < 3; ++i) dir = dir.substr(0, dir.rfind('/'));
  return dir;
}

std::string BinDir() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  const std::string path = n > 0 ? std::string(exe, n) : "./x";
  return path.substr(0, path.rfind('/'));
}

std::string Decompress(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string compressed = ss.str();
  std::string out;
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_inBuffer ib{compressed.data(), compressed.size(), 0};
  std::string chunk(1 << 16, '\0');
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    if (ZSTD_isError(ZSTD_decompressStream(ds, &ob, &ib))) break;
    out.append(chunk.data(), ob.pos);
  }
  ZSTD_freeDStream(ds);
  return out;
}

// Builds the archive once per process.
const Archive& GetArchive() {
  static const Archive archive = [] {
    Archive a;
    const char* tmp = std::getenv("TMPDIR");
    a.path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/csvtool_bench_",
                          getpid(), ".jsonl.zst");
    const char* testdata = std::getenv("TCPINFO_TESTDATA");
    const std::string dir = testdata != nullptr
                                ? std::string(testdata) + "/mlab/"
                                : SourceDir() + "/../shared/testdata/mlab/";
    std::vector<std::string> snapshots;
    std::string metadata;
    for (const char* file : testutil::kMlabArchives) {
      for (absl::string_view line :
           absl::StrSplit(Decompress(dir + file), '\n', absl::SkipEmpty())) {
        if (absl::StrContains(line, "\"RawIDM\"")) {
          snapshots.emplace_back(line);
        } else if (metadata.empty()) {
          metadata = std::string(line);
        }
      }
    }
    if (snapshots.empty()) {
      std::fprintf(stderr, "csvtool_bench: no records found in %s\n",
                   dir.c_str());
      std::exit(1);
    }
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    std::ofstream out(a.path, std::ios::binary | std::ios::trunc);
    std::string chunk(ZSTD_CStreamOutSize(), '\0');
    std::string batch;
    auto compress = [&](bool last) {
      ZSTD_inBuffer in{batch.data(), batch.size(), 0};
      size_t left;
      do {
        ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
        left = ZSTD_compressStream2(cctx, &ob, &in,
                                    last ? ZSTD_e_end : ZSTD_e_continue);
        out.write(chunk.data(), static_cast<std::streamsize>(ob.pos));
        a.zstd_bytes += ob.pos;
      } while (in.pos < in.size || (last && left != 0));
      a.json_bytes += batch.size();
      batch.clear();
    };
    batch = metadata + "\n";
    a.records = 1;
    // Each snapshot gets its own timestamp, 10 ms apart, as a busy
    // collector's would be (and so the archive is not one repeated block).
    constexpr absl::string_view kPrefix = "{\"Timestamp\":\"";
    const parse::Timestamp start{1554214357, 511000000, 0};
    for (int64_t i = 0; i < g_records; ++i) {
      const std::string& line =
          snapshots[static_cast<size_t>(i) % snapshots.size()];
      const size_t end = line.find('"', kPrefix.size());
      if (!absl::StartsWith(line, kPrefix) || end == std::string::npos) {
        batch += line;
      } else {
        batch.append(kPrefix.data(), kPrefix.size());
        parse::AppendRfc3339(
            parse::Timestamp::FromUnixNanos(start.seconds * 1000000000 +
                                            start.nanos + i * 10000000),
            &batch);
        batch.append(line, end);
      }
      batch += '\n';
      ++a.records;
      if (batch.size() > (1 << 20)) compress(false);
    }
    compress(true);
    ZSTD_freeCCtx(cctx);
    g_archive_path = a.path;
    std::fprintf(stderr,
                 "csvtool_bench: %s: %lld records, %.1f MB JSON, %.1f MB "
                 "zstd\n",
                 a.path.c_str(), static_cast<long long>(a.records),
                 a.json_bytes / 1e6, a.zstd_bytes / 1e6);
    return a;
  }();
  return archive;
}

void Report(benchmark::State& state, const Archive& a) {
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(a.records) * state.iterations(),
                         benchmark::Counter::kIsRate);
  state.counters["MB/s"] = benchmark::Counter(
      static_cast<double>(a.json_bytes) * state.iterations() / 1e6,
      benchmark::Counter::kIsRate);
}

void Convert(benchmark::State& state, bool jsonl) {
  const Archive& a = GetArchive();
  std::string out;
  out.reserve(2 << 20);
  for (auto _ : state) {
    auto input = parse::InputStream::Open(a.path);
    if (!input.ok()) {
      state.SkipWithError("cannot open the archive");
      return;
    }
    parse::ArchiveReader reader(*std::move(input));
    parse::DecodedRecord record;
    parse::Snapshot snapshot;
    int64_t n = 0;
    if (!jsonl) parse::AppendCsvHeader(&out);
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&record);
      if (!got.ok() || !*got) break;
      if (!parse::DecodeSnapshot(record.timestamp, record.raw_idm,
                                 record.attributes, record.has_metadata,
                                 &snapshot)
               .ok()) {
        break;
      }
      if (jsonl) {
        parse::AppendSnapshotJsonLine(snapshot, &record.metadata, &out);
      } else {
        parse::AppendCsvRow(snapshot, &out);
      }
      if (out.size() >= (1 << 20)) {
        benchmark::DoNotOptimize(out.data());
        out.clear();
      }
      ++n;
    }
    if (n != a.records) state.SkipWithError("not every record converted");
  }
  Report(state, a);
}

void BM_ArchiveToCsv(benchmark::State& state) { Convert(state, false); }
void BM_ArchiveToJsonl(benchmark::State& state) { Convert(state, true); }

void BM_CsvtoolBinary(benchmark::State& state) {
  const Archive& a = GetArchive();
  const std::string command =
      absl::StrCat(BinDir(), "/csvtool '", a.path, "' > /dev/null");
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError(("failed: " + command).c_str());
      return;
    }
    state.SetIterationTime(elapsed.count());
  }
  Report(state, a);
}

BENCHMARK(BM_ArchiveToCsv)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_ArchiveToJsonl)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_CsvtoolBinary)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first: --records=N.
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--records=", 10) == 0) {
      g_records = std::atoll(argv[i] + 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!g_archive_path.empty()) std::remove(g_archive_path.c_str());
  return 0;
}
