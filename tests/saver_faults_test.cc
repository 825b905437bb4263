// The saver under the faults a host throws at it: a full disk, a read-only
// file system, the output directory removed. Each time the error is counted
// and logged at a bounded rate, files already written stay decodable, and
// writing resumes once the cause is gone. The tmpfs cases need root.
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "saver/saver.h"
#include "tests/testutil/archive.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/saver_fixture.h"

namespace {

using testutil::Archive;
using testutil::ReadArchive;

// A small tmpfs on a fresh directory, unmounted and removed at the end.
class Tmpfs {
 public:
  explicit Tmpfs(size_t bytes) {
    std::string tmpl = "/tmp/saver_tmpfs.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    const std::string options = absl::StrCat("size=", bytes, ",mode=0755");
    mounted_ = mount("tmpfs", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    rmdir(dir_.c_str());
  }
  bool mounted() const { return mounted_; }
  const std::string& dir() const { return dir_; }
  bool Remount(bool read_only) {
    return mount("tmpfs", dir_.c_str(), "tmpfs",
                 MS_REMOUNT | (read_only ? MS_RDONLY : 0), nullptr) == 0;
  }
  // Fills the file system with `name` until it is full, then frees all but
  // `leave` bytes of it.
  void Fill(const std::string& name, size_t leave = 0) {
    const std::string path = dir_ + "/" + name;
    {
      std::FILE* f = std::fopen(path.c_str(), "w");
      std::setvbuf(f, nullptr, _IONBF, 0);
      const std::string block(4096, 'x');
      while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
      }
      while (std::fwrite("x", 1, 1, f) == 1) {
      }
      std::fclose(f);
    }
    if (leave > 0) {
      const auto size = std::filesystem::file_size(path);
      std::filesystem::resize_file(path, size > leave ? size - leave : 0);
    }
  }

 private:
  std::string dir_;
  bool mounted_ = false;
};

class SaverFaultsTest : public testutil::RealSnapshotsTest {
 protected:
  static void SetUpTestSuite() {
    RealSnapshotsTest::SetUpTestSuite();
    // Mount in a private namespace (while still single-threaded), so that a
    // test killed half-way leaves no mount behind.
    if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0) {
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    }
  }

  void Start(const std::string& dir) {
    saver::Options o;
    o.output_dir = dir;
    o.uuid_prefix = "faults_1795300000_unsafe";
    dir_ = dir;
    auto s = saver::Saver::Create(o);
    ASSERT_TRUE(s.ok()) << s.status();
    saver_ = *std::move(s);
  }
  // Writes snapshots [first, first + n) of the real connection for `cookie`.
  void WriteSnapshots(uint64_t cookie, size_t first, size_t n) {
    RealSnapshotsTest::WriteSnapshots(saver_.get(), cookie, first, n);
  }
  std::string PathOf(uint64_t cookie) {
    return saver::ArchivePath(dir_, T(0), saver_->Uuid(cookie), 0);
  }
  // Every archive under the output decodes completely.
  void ExpectEveryFileDecodes() {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_)) {
      if (!e.is_regular_file() || e.path().extension() != ".zst") continue;
      SCOPED_TRACE(e.path().string());
      ReadArchive(e.path().string());
    }
  }
  // `cookie`'s file holds its metadata and exactly the snapshots `indices`,
  // as WriteSnapshots() wrote them.
  void ExpectSnapshots(uint64_t cookie, const std::vector<size_t>& indices) {
    const Archive a = ReadArchive(PathOf(cookie));
    ASSERT_EQ(a.lines.size(), indices.size() + 1) << PathOf(cookie);
    EXPECT_TRUE(a.records[0].metadata.has_value());
    for (size_t i = 0; i < indices.size(); ++i) {
      const parse::ArchivalRecord& want = original_->records[indices[i]];
      EXPECT_EQ(a.records[i + 1].timestamp,
                T(static_cast<int64_t>(indices[i])));
      EXPECT_EQ(a.records[i + 1].raw_idm, want.raw_idm) << i;
      EXPECT_EQ(a.records[i + 1].attributes, want.attributes) << i;
    }
  }

  std::string dir_;
  std::unique_ptr<saver::Saver> saver_;
};

#define REQUIRE_TMPFS(fs)                                                    \
  if (geteuid() != 0 || !(fs).mounted()) {                                   \
    GTEST_SKIP() << "needs root to mount a tmpfs: " << std::strerror(errno); \
  }

TEST_F(SaverFaultsTest, DiskFullIsCountedLoggedOnceAndWritingResumes) {
  Tmpfs fs(256 * 1024);
  REQUIRE_TMPFS(fs);
  Start(fs.dir());
  WriteSnapshots(1, 0, 20);
  saver_->Flush();
  ASSERT_EQ(saver_->stats().write_errors, 0u);
  ExpectSnapshots(1, Range(0, 20));

  fs.Fill("filler");
  testing::internal::CaptureStderr();
  WriteSnapshots(1, 20, 300);  // one frame far larger than any slack
  for (uint64_t c = 2; c < 6; ++c) WriteSnapshots(c, 0, 5);
  saver_->Flush();
  const std::string log = testing::internal::GetCapturedStderr();
  const saver::Stats full = saver_->stats();
  EXPECT_GE(full.write_errors, 5u);
  EXPECT_EQ(full.records_dropped, 300u + 4 * 5);
  // One line for the burst of errors, naming the cause.
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  // Nothing already written was damaged; nothing partial was left.
  ExpectSnapshots(1, Range(0, 20));
  ExpectEveryFileDecodes();

  std::filesystem::remove(fs.dir() + "/filler");
  WriteSnapshots(1, 320, 10);
  for (uint64_t c = 2; c < 6; ++c) WriteSnapshots(c, 5, 5);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, full.write_errors);
  std::vector<size_t> expected = Range(0, 20);
  for (size_t i : Range(320, 10)) expected.push_back(i);
  ExpectSnapshots(1, expected);
  // The files whose first frame failed start with their metadata line.
  for (uint64_t c = 2; c < 6; ++c) ExpectSnapshots(c, Range(5, 5));
  ExpectEveryFileDecodes();
}

// A frame that only partly fits is cut off again: the file keeps its size.
TEST_F(SaverFaultsTest, ShortWriteIsTruncatedAway) {
  Tmpfs fs(256 * 1024);
  REQUIRE_TMPFS(fs);
  Start(fs.dir());
  WriteSnapshots(1, 0, 20);
  saver_->Flush();
  const auto size = std::filesystem::file_size(PathOf(1));
  fs.Fill("filler", /*leave=*/8192);
  WriteSnapshots(1, 20, 400);  // compresses to well over 8 KiB
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 1u);
  EXPECT_EQ(std::filesystem::file_size(PathOf(1)), size);
  ExpectSnapshots(1, Range(0, 20));
}

TEST_F(SaverFaultsTest, ReadOnlyFileSystemIsCountedAndWritingResumes) {
  Tmpfs fs(1 << 20);
  REQUIRE_TMPFS(fs);
  Start(fs.dir());
  WriteSnapshots(1, 0, 10);
  saver_->Flush();
  ASSERT_TRUE(fs.Remount(/*read_only=*/true));
  // A new saver would refuse this output at start-up.
  saver::Options o;
  o.output_dir = fs.dir();
  o.uuid_prefix = "p";
  EXPECT_EQ(saver::Saver::Create(o).status().code(),
            absl::StatusCode::kFailedPrecondition);
  WriteSnapshots(1, 10, 10);
  WriteSnapshots(2, 0, 10);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 2u);
  EXPECT_EQ(saver_->stats().records_dropped, 20u);
  ASSERT_TRUE(fs.Remount(/*read_only=*/false));
  WriteSnapshots(1, 20, 10);
  WriteSnapshots(2, 10, 10);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 2u);
  std::vector<size_t> expected = Range(0, 10);
  for (size_t i : Range(20, 10)) expected.push_back(i);
  ExpectSnapshots(1, expected);
  ExpectSnapshots(2, Range(10, 10));
}

// The date directories are made again; a removed output directory is not
// (an operator removed it), but writing resumes once it is back.
TEST_F(SaverFaultsTest, RemovedDirectoriesAreRecreatedOrWaitedFor) {
  std::string tmpl = "/tmp/saver_faults.XXXXXX";
  const std::string root = mkdtemp(tmpl.data());
  const std::string out = root + "/out";
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  Start(out);
  WriteSnapshots(1, 0, 10);
  saver_->Flush();
  std::filesystem::remove_all(out + "/2026");
  WriteSnapshots(1, 10, 10);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 0u);
  ExpectSnapshots(1, Range(10, 10));  // a new file, with its metadata

  std::filesystem::remove_all(out);
  WriteSnapshots(1, 20, 10);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 1u);
  EXPECT_FALSE(std::filesystem::exists(out));
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  WriteSnapshots(1, 30, 10);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().write_errors, 1u);
  ExpectSnapshots(1, Range(30, 10));
  std::filesystem::remove_all(root);
}

}  // namespace
