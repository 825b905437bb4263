// Restarting on an archive a killed daemon left half written: before the
// first frame a process appends to an existing file, the file is cut back to
// the end of its last complete frame, so that every line stays decodable.
// Files that end well are left byte for byte as they were.
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "saver/frame_appender.h"
#include "saver/saver.h"
#include "tests/testutil/archive.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/saver_fixture.h"

namespace {

using parse::Timestamp;
using testutil::Archive;
using testutil::ReadArchive;

constexpr const char* kPrefix = "repair_1795300000_unsafe";

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/saver_repair.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Compress(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const size_t n =
      ZSTD_compress2(cctx, out.data(), out.size(), text.data(), text.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Text of `n` lines "<tag> <i>".
std::string Lines(const std::string& tag, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) absl::StrAppend(&text, tag, " ", i, "\n");
  return text;
}

// Appends one frame of `text` to `path` (its content when the file is
// empty); returns whether Append reported the file empty.
bool AppendText(saver::FrameAppender* appender, const std::string& dir,
                const std::string& path, bool first_in_process,
                const std::string& text, const std::string& if_empty = "") {
  bool was_empty = false;
  absl::StatusOr<size_t> n = appender->Append(
      dir, path, first_in_process, [&](bool empty, std::string* out) {
        was_empty = empty;
        if (empty) out->append(if_empty);
        out->append(text);
      });
  EXPECT_TRUE(n.ok()) << n.status();
  return was_empty;
}

TEST(SaverRepairFrames, EndsAtTheLastCompleteFrame) {
  const std::string a = Compress(Lines("a", 100));
  const std::string b = Compress(Lines("b", 300));
  EXPECT_EQ(saver::CompleteFramesLength(""), 0u);
  EXPECT_EQ(saver::CompleteFramesLength(a), a.size());
  EXPECT_EQ(saver::CompleteFramesLength(a + b), a.size() + b.size());
  for (size_t cut : {size_t{1}, size_t{4}, b.size() / 2, b.size() - 1}) {
    EXPECT_EQ(saver::CompleteFramesLength(a + b.substr(0, cut)), a.size())
        << cut;
  }
  EXPECT_EQ(saver::CompleteFramesLength(a + "garbage\n"), a.size());
  EXPECT_EQ(saver::CompleteFramesLength(std::string(64, '\0') + a), 0u);
  EXPECT_EQ(saver::CompleteFramesLength(a.substr(0, 3)), 0u);
}

class SaverRepairAppenderTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/f.zst"; }
  TempDir dir_;
  saver::FrameAppender appender_{1};
};

TEST_F(SaverRepairAppenderTest, TruncatedFinalFrameIsCutBeforeAppending) {
  const std::string a = Compress(Lines("a", 100));
  const std::string b = Compress(Lines("b", 300));
  WriteBytes(Path(), a + b.substr(0, b.size() - 7));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), true, "c\n"));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(appender_.repaired_files(), 1u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()), Lines("a", 100) + "c\n");
  EXPECT_EQ(testutil::ReadFileOrDie(Path()).substr(0, a.size()), a);
  EXPECT_NE(log.find(Path()), std::string::npos) << log;
  EXPECT_NE(log.find(absl::StrCat("cut ", b.size() - 7, " of ")),
            std::string::npos)
      << log;
}

TEST_F(SaverRepairAppenderTest, GarbageTailIsCut) {
  const std::string a = Compress(Lines("a", 100));
  WriteBytes(Path(), a + std::string("\x28\xb5\x2f\xfd garbage", 12));
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), true, "c\n"));
  EXPECT_EQ(appender_.repaired_files(), 1u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()), Lines("a", 100) + "c\n");
}

// Every block in place, but bytes that were never written (zeros after a
// power loss): the frame's checksum fails and it is cut too.
TEST_F(SaverRepairAppenderTest, FrameWithABadChecksumIsCut) {
  const std::string a = Compress(Lines("a", 100));
  std::string b = Compress(Lines("b", 300));
  ASSERT_EQ(saver::CompleteFramesLength(a + b), a.size() + b.size());
  b[b.size() - 2] ^= 0x55;  // inside the checksum
  ASSERT_EQ(saver::CompleteFramesLength(a + b), a.size() + b.size());
  WriteBytes(Path(), a + b);
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), true, "c\n"));
  EXPECT_EQ(appender_.repaired_files(), 1u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()), Lines("a", 100) + "c\n");
}

// The metadata frame itself was cut: the file is empty again and gets its
// metadata line with the next frame.
TEST_F(SaverRepairAppenderTest, CutFirstFrameLeavesAnEmptyFile) {
  const std::string a = Compress(Lines("meta", 1) + Lines("a", 100));
  WriteBytes(Path(), a.substr(0, a.size() / 2));
  EXPECT_TRUE(
      AppendText(&appender_, dir_.path(), Path(), true, "c\n", "meta 0\n"));
  EXPECT_EQ(appender_.repaired_files(), 1u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()), "meta 0\nc\n");
}

TEST_F(SaverRepairAppenderTest, EmptyFileGetsItsFirstFrame) {
  WriteBytes(Path(), "");
  EXPECT_TRUE(
      AppendText(&appender_, dir_.path(), Path(), true, "c\n", "meta 0\n"));
  EXPECT_EQ(appender_.repaired_files(), 0u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()), "meta 0\nc\n");
}

TEST_F(SaverRepairAppenderTest, FileEndingOnAFrameIsLeftAsItWas) {
  const std::string before =
      Compress(Lines("a", 100)) + Compress(Lines("b", 300));
  WriteBytes(Path(), before);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), true, "c\n"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(appender_.repaired_files(), 0u);
  const std::string after = testutil::ReadFileOrDie(Path());
  ASSERT_GT(after.size(), before.size());
  EXPECT_EQ(after.substr(0, before.size()), before);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(Path()),
            Lines("a", 100) + Lines("b", 300) + "c\n");
}

// Steady state: only the first append of a process looks at the file.
TEST_F(SaverRepairAppenderTest, LaterAppendsDoNotReadTheFile) {
  const std::string a = Compress(Lines("a", 10));
  WriteBytes(Path(), a);
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), true, "b\n"));
  std::ofstream(Path(), std::ios::binary | std::ios::app) << "junk";
  EXPECT_FALSE(AppendText(&appender_, dir_.path(), Path(), false, "c\n"));
  EXPECT_EQ(appender_.repaired_files(), 0u);
  const std::string bytes = testutil::ReadFileOrDie(Path());
  EXPECT_NE(bytes.find("junk"), std::string::npos);
}

// A first append that fails before it could check the file (read-only file
// system) leaves the check to the next append to that file.
TEST(SaverRepairAppender, CheckIsNotLostWhenTheFirstAppendFails) {
  if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0) {
    GTEST_SKIP() << "needs root for a private tmpfs";
  }
  mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  TempDir dir;
  ASSERT_EQ(mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=1m"), 0)
      << std::strerror(errno);
  const std::string path = dir.path() + "/f.zst";
  const std::string a = Compress(Lines("a", 10));
  WriteBytes(path, a + "junk");
  ASSERT_EQ(mount("tmpfs", dir.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY,
                  nullptr),
            0);
  saver::FrameAppender appender(1);
  testing::internal::CaptureStderr();
  absl::StatusOr<size_t> failed =
      appender.Append(dir.path(), path, true,
                      [](bool, std::string* out) { out->append("b\n"); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(mount("tmpfs", dir.path().c_str(), "tmpfs", MS_REMOUNT, nullptr),
            0);
  EXPECT_FALSE(AppendText(&appender, dir.path(), path, false, "c\n"));
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(appender.repaired_files(), 1u);
  EXPECT_EQ(testutil::ReadZstdFileOrDie(path), Lines("a", 10) + "c\n");
  umount2(dir.path().c_str(), MNT_DETACH);
}

// The whole saver, restarted on the files of one that was killed while
// writing: every line of every file decodes, the cut files continue where
// their last complete frame ended, the others are untouched.
class SaverRestartTest : public testutil::RealSnapshotsTest {
 protected:
  std::unique_ptr<saver::Saver> Start() {
    saver::Options o;
    o.output_dir = dir_.path();
    o.uuid_prefix = kPrefix;
    auto s = saver::Saver::Create(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  // Writes snapshots [first, first + n) of the real connection for `cookie`
  // and flushes them, one frame.
  void Write(saver::Saver* s, uint64_t cookie, size_t first, size_t n) {
    WriteSnapshots(s, cookie, first, n);
    s->Flush();
  }
  std::string PathOf(uint64_t cookie) const {
    return saver::ArchivePath(dir_.path(), T(0),
                              saver::FormatUuid(kPrefix, cookie), 0);
  }
  // The file holds its metadata line, then exactly snapshots `indices`.
  void ExpectSnapshots(uint64_t cookie, const std::vector<size_t>& indices) {
    const Archive a = ReadArchive(PathOf(cookie));
    ASSERT_EQ(a.lines.size(), indices.size() + 1) << PathOf(cookie);
    ASSERT_TRUE(a.records[0].metadata.has_value());
    EXPECT_EQ(a.records[0].metadata->uuid, saver::FormatUuid(kPrefix, cookie));
    for (size_t i = 0; i < indices.size(); ++i) {
      ExpectSnapshot(a.records[i + 1], indices[i], T(indices[i]));
    }
  }
  // `r` is the real snapshot `index`, written at `t`.
  static void ExpectSnapshot(const parse::ArchivalRecord& r, size_t index,
                             Timestamp t) {
    const parse::ArchivalRecord& want = original_->records[index];
    EXPECT_FALSE(r.metadata.has_value());
    EXPECT_EQ(r.timestamp, t) << index;
    EXPECT_EQ(r.raw_idm, want.raw_idm) << index;
    EXPECT_EQ(r.attributes, want.attributes) << index;
  }
  static std::vector<size_t> Join(std::vector<size_t> a,
                                  const std::vector<size_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  TempDir dir_;
};

TEST_F(SaverRestartTest, EveryLineDecodesAfterRestartOnKilledWrites) {
  // Before the "kill": four connections, two frames each.
  {
    std::unique_ptr<saver::Saver> first = Start();
    ASSERT_NE(first, nullptr);
    for (uint64_t c = 1; c <= 4; ++c) Write(first.get(), c, 0, 20);
    for (uint64_t c = 1; c <= 4; ++c) Write(first.get(), c, 20, 30);
  }
  const std::string whole = testutil::ReadFileOrDie(PathOf(1));
  const size_t first_frame = saver::CompleteFramesLength(
      whole.substr(0, whole.size() - 1));  // ends where frame 2 starts
  ASSERT_GT(first_frame, 0u);
  ASSERT_LT(first_frame, whole.size());
  // 1: the second frame half written. 2: garbage after it. 3: the first
  // frame (with the metadata) cut. 4: fine.
  std::filesystem::resize_file(PathOf(1),
                               first_frame + (whole.size() - first_frame) / 2);
  std::ofstream(PathOf(2), std::ios::binary | std::ios::app)
      << std::string(100, '\0');
  std::filesystem::resize_file(PathOf(3), first_frame / 2);
  const std::string untouched = testutil::ReadFileOrDie(PathOf(4));

  testing::internal::CaptureStderr();
  std::unique_ptr<saver::Saver> second = Start();
  ASSERT_NE(second, nullptr);
  for (uint64_t c = 1; c <= 4; ++c) Write(second.get(), c, 100, 10);
  for (uint64_t c = 1; c <= 4; ++c) Write(second.get(), c, 110, 10);
  const std::string log = testing::internal::GetCapturedStderr();

  const saver::Stats s = second->stats();
  EXPECT_EQ(s.repaired_files, 3u);
  EXPECT_EQ(s.write_errors, 0u);
  EXPECT_EQ(s.frames_written, 8u);
  // Logged at a bounded rate: one line for the three.
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find(PathOf(1)), std::string::npos) << log;

  ExpectSnapshots(1, Join(Range(0, 20), Range(100, 20)));
  ExpectSnapshots(2, Join(Range(0, 50), Range(100, 20)));
  ExpectSnapshots(3, Range(100, 20));
  ExpectSnapshots(4, Join(Range(0, 50), Range(100, 20)));
  const std::string after = testutil::ReadFileOrDie(PathOf(4));
  EXPECT_EQ(after.substr(0, untouched.size()), untouched);
}

// A pre-existing empty file (created, then killed before its first frame)
// gets the metadata line.
TEST_F(SaverRestartTest, EmptyFileGetsMetadataAfterRestart) {
  std::filesystem::create_directories(
      std::filesystem::path(PathOf(7)).parent_path());
  WriteBytes(PathOf(7), "");
  std::unique_ptr<saver::Saver> s = Start();
  ASSERT_NE(s, nullptr);
  Write(s.get(), 7, 0, 5);
  EXPECT_EQ(s->stats().repaired_files, 0u);
  ExpectSnapshots(7, Range(0, 5));
}

// A connection rotating to a new file, or closed and seen again, starts a
// file the process has not written: its first frame checks it again.
TEST_F(SaverRestartTest, NewSequenceIsCheckedOnItsFirstFrameToo) {
  std::unique_ptr<saver::Saver> s = Start();
  ASSERT_NE(s, nullptr);
  Write(s.get(), 9, 0, 5);
  s->Close(9);
  s->WaitForWriter();
  const std::string next = saver::ArchivePath(dir_.path(), T(1000),
                                              saver::FormatUuid(kPrefix, 9), 1);
  const std::string frame = Compress(Lines("x", 3));
  WriteBytes(next, frame + frame.substr(0, 10));  // a predecessor's
  testing::internal::CaptureStderr();
  s->Write(9, T(1000), original_->records[10].View());
  s->Write(9, T(1001), original_->records[11].View());
  s->Flush();
  s->Write(9, T(1002), original_->records[12].View());
  s->Flush();
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(s->stats().repaired_files, 1u);
  const std::vector<std::string> lines =
      absl::StrSplit(testutil::ReadZstdFileOrDie(next), '\n');
  ASSERT_EQ(lines.size(), 7u);  // 3 old, 3 snapshots, "" after the last '\n'
  EXPECT_EQ(lines[2], "x 2");
  for (size_t i = 0; i < 3; ++i) {
    absl::StatusOr<parse::ArchivalRecord> r =
        parse::DecodeRecordJson(lines[3 + i]);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectSnapshot(*r, 10 + i, T(1000 + static_cast<int64_t>(i)));
  }
}

}  // namespace
