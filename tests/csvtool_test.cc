// End-to-end tests of build/bin/csvtool: the reference's golden CSVs byte for
// byte (by file and by stdin, zstd and plain), raw netlink input, JSON lines,
// flags, and one test per kind of bad input (exit 1, one stderr line naming
// the line and the reason, the rows before it already written).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "parse/base64.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const char kGoldenFile[] = "ndt-jdczh_1553815964_00000000000003E8.00183";

std::string MlabPath(const std::string& name) {
  return testutil::TestDataDir() + "/mlab/" + name;
}
std::string GoldenPath(const std::string& name) {
  return testutil::TestDataDir() + "/golden/" + name + ".csv";
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "/csvtool_test_XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string File(const std::string& name, const std::string& contents) {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs csvtool with `args` (shell words), stdin from `stdin_path` if given.
Result RunCsvtool(const std::string& args, const std::string& stdin_path = "") {
  TempDir dir;
  const std::string out = dir.path() + "/out", err = dir.path() + "/err";
  std::string command = absl::StrCat(testutil::BinaryPath("csvtool"), " ", args,
                                     " >", out, " 2>", err);
  command += stdin_path.empty() ? " </dev/null" : " <'" + stdin_path + "'";
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = testutil::ReadFileOrDie(out);
  r.err = testutil::ReadFileOrDie(err);
  return r;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// The first `n` lines of `text`, each with its '\n'.
std::string FirstLines(const std::string& text, int n) {
  size_t end = 0;
  for (int i = 0; i < n; ++i) end = text.find('\n', end) + 1;
  return text.substr(0, end);
}

// Compresses `lines` into one zstd frame, flushing a block after each line
// as tcp-info's saver does; sets (*ends)[i] to the compressed size once
// line i is flushed.
std::string CompressPerLine(const std::vector<std::string>& lines,
                            std::vector<size_t>* ends) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  std::string chunk(ZSTD_CStreamOutSize(), '\0');
  for (size_t i = 0; i <= lines.size(); ++i) {
    const bool last = i == lines.size();
    const std::string text = last ? "" : lines[i] + "\n";
    ZSTD_inBuffer in{text.data(), text.size(), 0};
    size_t left;
    do {
      ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
      left = ZSTD_compressStream2(cctx, &ob, &in,
                                  last ? ZSTD_e_end : ZSTD_e_flush);
      EXPECT_FALSE(ZSTD_isError(left));
      out.append(chunk.data(), ob.pos);
    } while (left != 0 && !ZSTD_isError(left));
    if (!last) ends->push_back(out.size());
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

TEST(Csvtool, MatchesGoldenCsvByFileArgument) {
  for (const std::string& name :
       {std::string(kGoldenFile), std::string("archiveRecords")}) {
    const Result r = RunCsvtool(MlabPath(name + ".jsonl.zst"));
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_TRUE(r.out == testutil::ReadFileOrDie(GoldenPath(name)))
        << name << " differs from its golden CSV";
  }
}

TEST(Csvtool, MatchesGoldenCsvFromStdinCompressedAndPlain) {
  TempDir dir;
  for (const std::string& name :
       {std::string(kGoldenFile), std::string("archiveRecords")}) {
    const std::string golden = testutil::ReadFileOrDie(GoldenPath(name));
    // zstd on stdin, recognised by content.
    Result r = RunCsvtool("", MlabPath(name + ".jsonl.zst"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == golden) << name << " (zstd stdin)";
    // Plain JSONL on stdin ("-") and as a file whose name says nothing.
    const std::string plain =
        dir.File(name + ".data",
                 testutil::ReadZstdFileOrDie(MlabPath(name + ".jsonl.zst")));
    r = RunCsvtool("-", plain);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == golden) << name << " (plain stdin)";
    r = RunCsvtool(plain);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out == golden) << name << " (plain file)";
  }
}

TEST(Csvtool, GoldenHeaderHasTheReferenceQuirks) {
  const std::vector<std::string> header = absl::StrSplit(
      Lines(testutil::ReadFileOrDie(GoldenPath(kGoldenFile)))[0], ',');
  EXPECT_EQ(header.size(), 105u);
  const Result r =
      RunCsvtool(MlabPath(std::string(kGoldenFile) + ".jsonl.zst"));
  const std::string first = Lines(r.out)[0];
  EXPECT_THAT(first, HasSubstr("TCP.LastDataRecv,TCP.LastDataRecv,"));
  EXPECT_THAT(first, HasSubstr("SKMemInfo.Sndbug"));
  // The metadata line becomes a first row with the stand-in time.
  const std::string row = Lines(r.out)[1];
  EXPECT_THAT(row, StartsWith("2009-05-29T23:59:59Z,0,0,,,,"));
  EXPECT_EQ(std::count(row.begin(), row.end(), ','), 104);
}

TEST(Csvtool, EmptyInputGivesTheHeaderOnly) {
  TempDir dir;
  const Result r = RunCsvtool(dir.File("empty", ""));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out,
            Lines(testutil::ReadFileOrDie(GoldenPath(kGoldenFile)))[0] + "\n");
}

// The raw dump holds the same 420 kernel messages as archiveRecords, which
// has zero timestamps: the CSVs are identical.
TEST(Csvtool, RawNetlinkDumpGivesTheSameRowsAsItsArchive) {
  const Result r = RunCsvtool("-input raw " + MlabPath("raw-netlink-dump.zst"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 421u);
  EXPECT_TRUE(r.out == testutil::ReadFileOrDie(GoldenPath("archiveRecords")));
  // And from stdin, with the Go-style "-input=raw".
  const Result piped =
      RunCsvtool("-input=raw", MlabPath("raw-netlink-dump.zst"));
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_TRUE(piped.out == r.out);
}

TEST(Csvtool, JsonlFormatHasNamedFieldsForEverySnapshot) {
  const Result r = RunCsvtool(
      "-format jsonl " + MlabPath(std::string(kGoldenFile) + ".jsonl.zst"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 151u);
  std::vector<nlohmann::json> objects;
  for (const std::string& line : lines) {
    objects.push_back(nlohmann::json::parse(line, nullptr, false));
    ASSERT_FALSE(objects.back().is_discarded()) << line;
  }
  EXPECT_EQ(objects[0]["Metadata"]["UUID"],
            "ndt-jdczh_1553815964_00000000000003E8");
  EXPECT_EQ(objects[0]["Metadata"]["Sequence"], 183);
  EXPECT_EQ(objects[0]["Timestamp"], "2009-05-29T23:59:59Z");
  EXPECT_FALSE(objects[0].contains("IDM"));
  // The same values as the golden CSV's second row.
  const nlohmann::json& j = objects[1];
  EXPECT_EQ(j["Timestamp"], "2019-04-02T14:12:37.511Z");
  EXPECT_EQ(j["Observed"], 251);
  EXPECT_EQ(j["IDM"]["SPort"], 9091);
  EXPECT_EQ(j["IDM"]["DPort"], 43508);
  EXPECT_EQ(j["IDM"]["Src"], "192.168.14.134");
  EXPECT_EQ(j["IDM"]["Cookie"], "3E8");
  EXPECT_EQ(j["IDM"]["Expires"], 4294967152u);
  EXPECT_EQ(j["CongestionAlgorithm"], "cubic");
  EXPECT_EQ(j["TCP"]["RTO"], 326000);
  EXPECT_EQ(j["TCP"]["MaxPacingRate"], -1);
  EXPECT_EQ(j["TCP"]["LastAckRecv"], 144);
  EXPECT_EQ(j["SKMemInfo"]["Sndbuf"], 46080);
  // A 224-byte tcp_info: fields past it are absent, not zero.
  EXPECT_TRUE(j["TCP"].contains("ReordSeen"));
  EXPECT_FALSE(j["TCP"].contains("RcvOooPack"));
  EXPECT_FALSE(j.contains("BBR"));
}

TEST(Csvtool, HelpPrintsUsageAndSucceeds) {
  for (const char* flag : {"-help", "--help", "-h"}) {
    const Result r = RunCsvtool(flag);
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_THAT(r.out, StartsWith("usage: csvtool"));
    EXPECT_THAT(r.out, HasSubstr("-input raw"));
  }
}

TEST(Csvtool, UsageErrorsExitTwo) {
  for (const std::string& args :
       {std::string("a.jsonl b.jsonl"), std::string("-bogus"),
        std::string("-format xml x"), std::string("-input")}) {
    const Result r = RunCsvtool(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_THAT(r.err, HasSubstr("usage: csvtool")) << args;
    EXPECT_EQ(r.out, "") << args;
  }
}

TEST(Csvtool, MissingFileFailsWithOneLine) {
  const Result r = RunCsvtool("/nonexistent/archive.jsonl.zst");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "csvtool: /nonexistent/archive.jsonl.zst: No such file or "
            "directory\n");
}

// What csvtool did with records piped to its stdin.
struct PipedRun {
  int64_t peak_kib = -1;  // its own VmHWM once every record was written
  int64_t lines_out = 0;  // CSV lines, header included
  int exit_code = -1;
};

// Pipes an archive into csvtool: the metadata line of `lines`, then
// `records` of its records (round robin); counts the output lines. The
// peak resident size is csvtool's own (VmHWM of its image, not its
// parent's), read once the last record is in the pipe, before end of
// input. Under ASan, freed memory is reused at once (no quarantine), as in
// a plain build.
PipedRun PipeRecordsThroughCsvtool(const std::vector<std::string>& lines,
                                   int records) {
  PipedRun run;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "ASAN_OPTIONS=")) env.push_back(*e);
  }
  env.push_back("ASAN_OPTIONS=" +
                testutil::AsanOptionsWith("quarantine_size_mb=0"));
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string binary = testutil::BinaryPath("csvtool");
  char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
  // A csvtool that stops reading must fail the test, not end it by
  // SIGPIPE: ignored here while writing, the default in csvtool.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &pipe_signal);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction saved = {};
  sigaction(SIGPIPE, &ignore, &saved);
  struct RestoreSigpipe {
    const struct sigaction* saved;
    ~RestoreSigpipe() { sigaction(SIGPIPE, saved, nullptr); }
  } restore{&saved};
  pid_t pid;
  const int spawned =
      posix_spawn(&pid, binary.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << binary << ": " << strerror(spawned);
    close(in[1]);
    close(out[0]);
    return run;
  }
  std::thread reader([&run, fd = out[0]] {
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      run.lines_out += std::count(buf, buf + n, '\n');
    }
    close(fd);
  });
  // In chunks of about 1 MB, the way a file would be read.
  std::string chunk = lines[0] + "\n";
  bool written = true;
  for (int i = 0; i < records && written; ++i) {
    absl::StrAppend(&chunk, lines[1 + i % (lines.size() - 1)], "\n");
    if (chunk.size() >= (1 << 20) || i + 1 == records) {
      written = testutil::WriteAll(in[1], chunk);
      chunk.clear();
    }
  }
  EXPECT_TRUE(written) << "csvtool stopped reading: " << strerror(errno);
  run.peak_kib = testutil::ProcStatusKib(pid, "VmHWM");
  close(in[1]);
  int wstatus;
  waitpid(pid, &wstatus, 0);
  reader.join();
  run.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  return run;
}

// Memory does not grow with the input: ten times the records (20,000 then
// 200,000, 11 then 110 MB of JSON) take less than 4 MiB more, in the
// normal build and under ASan alike; in the normal build all of it fits in
// 32 MiB. A leak of 24 bytes per record, or input held whole, fails it.
TEST(Csvtool, MemoryStaysConstantOnALargeArchive) {
  const std::vector<std::string> lines = Lines(testutil::ReadZstdFileOrDie(
      MlabPath(std::string(kGoldenFile) + ".jsonl.zst")));
  ASSERT_EQ(lines.size(), 151u);
  const PipedRun small = PipeRecordsThroughCsvtool(lines, 20000);
  const PipedRun large = PipeRecordsThroughCsvtool(lines, 200000);
  EXPECT_EQ(small.exit_code, 0);
  EXPECT_EQ(large.exit_code, 0);
  // The header, the metadata line's row (as the reference writes it), the
  // records' rows.
  EXPECT_EQ(small.lines_out, 20002);
  EXPECT_EQ(large.lines_out, 200002);
  ASSERT_GT(small.peak_kib, 0);
  ASSERT_GT(large.peak_kib, 0);
  std::printf("csvtool peak RSS: %ld KiB for 20,000 records, %ld for 200,000\n",
              static_cast<long>(small.peak_kib),
              static_cast<long>(large.peak_kib));
  EXPECT_LT(large.peak_kib, small.peak_kib + 4096) << "KiB";
#if !defined(__SANITIZE_ADDRESS__)
  // ASan's shadow memory and allocator add a fixed amount on top.
  EXPECT_LT(large.peak_kib, 32 * 1024) << "KiB";
#endif
}

// Bad input: the good lines before it are converted, then one error line.
class CsvtoolBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    lines_ = Lines(testutil::ReadZstdFileOrDie(
        MlabPath(std::string(kGoldenFile) + ".jsonl.zst")));
    golden_ = testutil::ReadFileOrDie(GoldenPath(kGoldenFile));
    ASSERT_EQ(lines_.size(), 151u);
  }

  // Lines 1-5 of the real archive, `bad` as line 6, then the rest.
  std::string WithBadLine(const std::string& bad) {
    std::vector<std::string> lines(lines_.begin(), lines_.begin() + 5);
    lines.push_back(bad);
    lines.insert(lines.end(), lines_.begin() + 5, lines_.end());
    return absl::StrJoin(lines, "\n") + "\n";
  }

  // Runs on `contents` and expects the header plus `good_rows` rows, exit
  // 1 and exactly one stderr line holding `line_ref` and `reason`.
  void ExpectFailure(const std::string& contents, int good_rows,
                     const std::string& line_ref, const std::string& reason,
                     const std::string& flags = "") {
    const std::string path = dir_.File("bad", contents);
    const Result r = RunCsvtool(flags + " " + path);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.out == FirstLines(golden_, 1 + good_rows))
        << "want the header and " << good_rows << " rows, got:\n"
        << r.out.substr(0, 2000);
    EXPECT_THAT(r.err, StartsWith("csvtool: " + path + ": " + line_ref + ": "));
    EXPECT_THAT(r.err, HasSubstr(reason));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  std::vector<std::string> lines_;
  std::string golden_;
  TempDir dir_;
};

TEST_F(CsvtoolBadInput, MalformedJsonLine) {
  ExpectFailure(WithBadLine(lines_[5].substr(0, 100)), 5, "line 6",
                "malformed JSON at byte 100: unterminated string");
  ExpectFailure(WithBadLine(lines_[5] + "}"), 5, "line 6",
                "data after the record");
  ExpectFailure(WithBadLine("[1,2]"), 5, "line 6",
                "record is not a JSON object");
}

TEST_F(CsvtoolBadInput, BadBase64) {
  std::string bad = lines_[5];
  const size_t at = bad.find("\"RawIDM\":\"") + 12;
  bad[at] = '*';
  ExpectFailure(WithBadLine(bad), 5, "line 6",
                "RawIDM: illegal base64 data at input byte 2");
  bad = lines_[5];
  bad.insert(bad.find("\"Attributes\":[null,\"") + 20, "A");
  ExpectFailure(WithBadLine(bad), 5, "line 6",
                "Attributes[1]: illegal base64 data");
}

TEST_F(CsvtoolBadInput, RawIdmOfTheWrongSize) {
  std::string short_idm;
  parse::AppendBase64(std::string(40, 'x'), &short_idm);
  ExpectFailure(WithBadLine("{\"Timestamp\":\"2019-04-02T14:12:37.511Z\","
                            "\"RawIDM\":\"" +
                            short_idm + "\"}"),
                5, "line 6", "RawIDM is 40 bytes, want 72");
}

TEST_F(CsvtoolBadInput, AttributeListThatCannotBeRight) {
  std::string bad = lines_[5];
  const size_t at = bad.find("\"Attributes\":");
  ExpectFailure(WithBadLine(bad.substr(0, at) + "\"Attributes\":{\"a\":1}}"), 5,
                "line 6", "Attributes is not an array");
  ExpectFailure(WithBadLine(bad.substr(0, at) + "\"Attributes\":[null,7]}"), 5,
                "line 6", "Attributes[1] is not a string or null");
}

TEST_F(CsvtoolBadInput, RecordWithNeitherRawIdmNorMetadata) {
  ExpectFailure(WithBadLine("{\"Timestamp\":\"2019-04-02T14:12:37.511Z\"}"), 5,
                "line 6", "record has neither RawIDM nor Metadata");
}

TEST_F(CsvtoolBadInput, BadTimestamp) {
  ExpectFailure(WithBadLine("{\"Timestamp\":\"2019-04-02 14:12:37\"}"), 5,
                "line 6", "Timestamp: bad RFC 3339 time");
}

TEST_F(CsvtoolBadInput, TruncatedZstd) {
  std::vector<size_t> ends;
  const std::string zstd = CompressPerLine(lines_, &ends);
  // Cut inside the block holding line 31: lines 1-30 are complete.
  ExpectFailure(zstd.substr(0, ends[29] + 6), 30, "line 31",
                "truncated zstd data");
  // Cut right after line 30's block: the frame still is not finished.
  ExpectFailure(zstd.substr(0, ends[29]), 30, "line 31", "truncated zstd data");
}

TEST_F(CsvtoolBadInput, CorruptZstd) {
  std::vector<size_t> ends;
  std::string zstd = CompressPerLine(lines_, &ends);
  // Line 41's block header says "reserved block type".
  zstd[ends[39]] = zstd[ends[39] + 1] = zstd[ends[39] + 2] = '\xff';
  ExpectFailure(zstd, 40, "line 41", "corrupt zstd data");
  // Garbage after the last frame is no frame at all.
  std::vector<size_t> unused;
  ExpectFailure(CompressPerLine(lines_, &unused) + "garbage!", 151, "line 152",
                "corrupt zstd data: Unknown frame descriptor");
}

TEST_F(CsvtoolBadInput, RawDumpWithImpossibleAttributeLength) {
  std::string raw =
      testutil::ReadZstdFileOrDie(MlabPath("raw-netlink-dump.zst"));
  // Walk to message 5 and break its first attribute's length.
  size_t offset = 0;
  for (int i = 0; i < 4; ++i) {
    uint32_t len;
    std::memcpy(&len, raw.data() + offset, 4);
    offset += len;
  }
  raw[offset + 16 + 72] = raw[offset + 16 + 72 + 1] = '\xff';
  golden_ = testutil::ReadFileOrDie(GoldenPath("archiveRecords"));
  ExpectFailure(raw, 4, absl::StrCat("message 5 at byte ", offset),
                "has length 65535", "-input raw");
  // A dump cut inside a message.
  ExpectFailure(raw.substr(0, offset + 40), 4,
                absl::StrCat("message 5 at byte ", offset),
                "input ends inside a message", "-input raw");
}

}  // namespace
