#include "saver/saver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "tests/testutil/archive.h"
#include "tests/testutil/paths.h"

namespace {

using parse::ArchivalRecord;
using parse::Timestamp;
using testutil::Archive;
using testutil::ReadArchive;

constexpr const char* kLongConnection =
    "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst";
constexpr const char* kFinWait2 =
    "finwait2-sample_1554836592_unsafe_000000000135A272.00000.jsonl.zst";
constexpr uint64_t kLongCookie = 0x62D84;
constexpr const char* kPrefix = "ndt-7hhhv_1559749627";

Timestamp At(const char* rfc3339) { return *parse::ParseRfc3339(rfc3339); }

Timestamp Plus(Timestamp t, absl::Duration d) {
  return Timestamp::FromUnixNanos(t.seconds * 1000000000 + t.nanos +
                                  absl::ToInt64Nanoseconds(d));
}

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/saver_test.XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int CountFrames(const std::string& path) {
  const std::string bytes = testutil::ReadFileOrDie(path);
  int frames = 0;
  for (size_t off = 0; off < bytes.size(); ++frames) {
    const size_t n =
        ZSTD_findFrameCompressedSize(bytes.data() + off, bytes.size() - off);
    if (ZSTD_isError(n)) return -1;
    off += n;
  }
  return frames;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

saver::Options OptionsFor(const std::string& dir) {
  saver::Options o;
  o.output_dir = dir;
  o.uuid_prefix = kPrefix;
  return o;
}

// A saver writing into a fresh directory, and the snapshots of a real
// connection to feed it.
class SaverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    original_ = new Archive(testutil::MlabSnapshots(kLongConnection));
  }
  static void TearDownTestSuite() { delete original_; }

  // Starts the saver; `adjust` may change the default options first. Files'
  // ages are measured on monotonic_, which only the test moves.
  void Start(void (*adjust)(saver::Options*) = nullptr) {
    options_ = OptionsFor(dir_.path());
    options_.monotonic_clock = [this] { return monotonic_; };
    if (adjust != nullptr) adjust(&options_);
    auto s = saver::Saver::Create(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    saver_ = *std::move(s);
  }
  // The real snapshot i, to write under any cookie and time.
  parse::RecordView Snapshot(size_t i) const {
    return original_->records[i].View();
  }
  std::string PathOf(uint64_t cookie, Timestamp date, int64_t sequence) {
    return saver::ArchivePath(dir_.path(), date, saver_->Uuid(cookie),
                              sequence);
  }

  static Archive* original_;
  absl::Duration monotonic_ = absl::Hours(1000);
  TempDir dir_;
  saver::Options options_;
  std::unique_ptr<saver::Saver> saver_;
};
Archive* SaverTest::original_ = nullptr;

TEST(SaverNaming, UuidIsPrefixAndCookieInSixteenUpperHexDigits) {
  EXPECT_EQ(saver::FormatUuid("ndt-jdczh_1553815964", 0x3E8),
            "ndt-jdczh_1553815964_00000000000003E8");
  EXPECT_EQ(saver::FormatUuid("finwait2-sample_1554836592_unsafe", 0x135A272),
            "finwait2-sample_1554836592_unsafe_000000000135A272");
  EXPECT_EQ(saver::FormatUuid("h", 0xFEDCBA9876543210), "h_FEDCBA9876543210");
}

TEST(SaverNaming, ArchivePathMatchesTheReference) {
  EXPECT_EQ(saver::ArchivePath("/data", At("2019-04-02T14:12:37.511Z"),
                               "ndt-jdczh_1553815964_00000000000003E8", 183),
            "/data/2019/04/02/"
            "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");
  EXPECT_EQ(saver::ArchivePath("out/", At("2019-07-01T00:00:12.092Z"), "u", 0),
            "out/2019/07/01/u.00000.jsonl.zst");
  // The date is the UTC one, whatever zone the timestamp was written in.
  EXPECT_EQ(
      saver::ArchivePath("/d", At("2019-08-26T20:02:17.6-04:00"), "u", 123456),
      "/d/2019/08/27/u.123456.jsonl.zst");
}

TEST(SaverNaming, DefaultPrefixIsHostnameBootTimeUnsafe) {
  auto prefix = saver::DefaultUuidPrefix();
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::ifstream stat("/proc/stat");
  std::string line, btime;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) btime = line.substr(6);
  }
  ASSERT_FALSE(btime.empty());
  EXPECT_EQ(*prefix, absl::StrCat(host, "_", btime, "_unsafe"));
  EXPECT_THAT(*prefix, ::testing::MatchesRegex(".+_[0-9]{9,}_unsafe"));
}

TEST(SaverCreate, RejectsAMissingOrNonDirectoryOutput) {
  TempDir dir;
  saver::Options o = OptionsFor(dir.path() + "/missing");
  auto missing = saver::Saver::Create(o);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("missing"), std::string::npos);
  const std::string file = dir.path() + "/file";
  std::ofstream(file) << "x";
  o.output_dir = file;
  auto not_dir = saver::Saver::Create(o);
  EXPECT_EQ(not_dir.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_dir.status().message().find("not a directory"),
            std::string::npos);
  o.output_dir = dir.path();
  o.uuid_prefix = "";
  EXPECT_FALSE(saver::Saver::Create(o).ok());
}

// Every record of a real connection, written with its own timestamps and
// ticked as a collector would, comes back byte for byte after the metadata
// line, in one zstd stream of several frames.
TEST_F(SaverTest, WritesARealConnectionBackByteForByte) {
  Start();
  ASSERT_EQ(original_->records.size(), 891u);
  for (const ArchivalRecord& r : original_->records) {
    saver_->Write(kLongCookie, r.timestamp, r.View());
    saver_->Tick(r.timestamp);
  }
  EXPECT_EQ(saver_->stats().connections, 1u);
  saver_->Close(kLongCookie);
  saver_->WaitForWriter();

  const Timestamp first = original_->records.front().timestamp;
  EXPECT_EQ(saver_->Uuid(kLongCookie), "ndt-7hhhv_1559749627_0000000000062D84");
  const std::string path = PathOf(kLongCookie, first, 0);
  EXPECT_EQ(path, dir_.path() +
                      "/2019/07/01/"
                      "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst");
  const Archive written = ReadArchive(path);
  ASSERT_EQ(written.lines.size(), original_->lines.size() + 1);
  EXPECT_EQ(written.lines[0],
            "{\"Timestamp\":\"0001-01-01T00:00:00Z\",\"Metadata\":{\"UUID\":"
            "\"ndt-7hhhv_1559749627_0000000000062D84\",\"Sequence\":0,"
            "\"StartTime\":\"2019-07-01T00:00:12.092Z\"}}");
  for (size_t i = 0; i < original_->lines.size(); ++i) {
    ASSERT_EQ(written.lines[i + 1], original_->lines[i]) << "line " << i + 1;
  }
  // The connection spans ten seconds, flushed once a second.
  const int frames = CountFrames(path);
  EXPECT_GE(frames, 9);
  EXPECT_LE(frames, 12);
  const saver::Stats s = saver_->stats();
  EXPECT_EQ(s.frames_written, static_cast<uint64_t>(frames));
  EXPECT_EQ(s.records_written, 891u);
  EXPECT_EQ(s.files_created, 1u);
  EXPECT_EQ(s.write_errors, 0u);
  EXPECT_EQ(s.records_dropped, 0u);
  EXPECT_EQ(s.bytes_written, std::filesystem::file_size(path));
  std::printf("%d frames, %.1f archive bytes per snapshot (reference: 70.8)\n",
              frames, static_cast<double>(s.bytes_written) / 891);
  EXPECT_EQ(s.connections, 0u);
  EXPECT_EQ(s.open_files, 0u);
  EXPECT_EQ(s.buffered_bytes, 0u);
  // The zstd tool reads it as one stream too.
  EXPECT_EQ(std::system(("zstd -q -t " + path).c_str()), 0);
}

// Timestamps in another zone are written back as they came.
TEST_F(SaverTest, KeepsTimestampZones) {
  Start();
  const Archive original = testutil::MlabSnapshots(kFinWait2);
  for (const ArchivalRecord& r : original.records) {
    saver_->Write(7, r.timestamp, r.View());
  }
  saver_->CloseAll();
  const Archive written =
      ReadArchive(PathOf(7, original.records[0].timestamp, 0));
  ASSERT_EQ(written.lines.size(), original.lines.size() + 1);
  for (size_t i = 0; i < original.lines.size(); ++i) {
    EXPECT_EQ(written.lines[i + 1], original.lines[i]);
  }
}

TEST_F(SaverTest, FlushesPendingSnapshotsOncePerInterval) {
  Start();
  const Timestamp t0 = At("2026-11-22T01:00:00Z");
  const std::string path = PathOf(1, t0, 0);
  saver_->Write(1, t0, Snapshot(0));
  saver_->Tick(Plus(t0, absl::Milliseconds(999)));
  saver_->WaitForWriter();
  EXPECT_FALSE(Exists(path));
  saver_->Tick(Plus(t0, absl::Seconds(1)));
  saver_->WaitForWriter();
  ASSERT_TRUE(Exists(path));
  EXPECT_EQ(ReadArchive(path).lines.size(), 2u);  // metadata + 1

  // Two more, the first at +1.2 s: due at +2.2 s.
  saver_->Write(1, Plus(t0, absl::Milliseconds(1200)), Snapshot(1));
  saver_->Write(1, Plus(t0, absl::Milliseconds(1500)), Snapshot(2));
  saver_->Tick(Plus(t0, absl::Milliseconds(2100)));
  saver_->WaitForWriter();
  EXPECT_EQ(ReadArchive(path).lines.size(), 2u);
  saver_->Tick(Plus(t0, absl::Milliseconds(2200)));
  saver_->WaitForWriter();
  const Archive a = ReadArchive(path);
  ASSERT_EQ(a.lines.size(), 4u);
  EXPECT_EQ(a.records[2].timestamp, Plus(t0, absl::Milliseconds(1200)));
  EXPECT_EQ(a.records[2].raw_idm, original_->records[1].raw_idm);
  EXPECT_EQ(a.records[3].attributes, original_->records[2].attributes);
  EXPECT_EQ(CountFrames(path), 2);
  // The file is complete after every frame, while the connection lives on.
  EXPECT_EQ(saver_->stats().connections, 1u);
}

TEST_F(SaverTest, CloseFinishesTheFileAtOnceAndALaterWriteStartsANewSequence) {
  Start();
  const Timestamp t0 = At("2026-11-22T01:00:00Z");
  saver_->Write(9, t0, Snapshot(0));
  saver_->Write(8, t0, Snapshot(0));
  saver_->Write(9, Plus(t0, absl::Milliseconds(10)), Snapshot(1));
  saver_->Close(9);
  saver_->Close(10);  // unknown: ignored
  saver_->WaitForWriter();
  const Archive a = ReadArchive(PathOf(9, t0, 0));
  ASSERT_EQ(a.lines.size(), 3u);
  EXPECT_EQ(a.records[2].timestamp, Plus(t0, absl::Milliseconds(10)));
  // The other connection's snapshot waits for its flush interval.
  EXPECT_FALSE(Exists(PathOf(8, t0, 0)));
  saver_->Tick(Plus(t0, absl::Seconds(1)));
  saver_->WaitForWriter();
  EXPECT_EQ(ReadArchive(PathOf(8, t0, 0)).lines.size(), 2u);

  const Timestamp t1 = Plus(t0, absl::Seconds(5));
  saver_->Write(9, t1, Snapshot(2));
  saver_->Close(9);
  saver_->WaitForWriter();
  const Archive b = ReadArchive(PathOf(9, t1, 1));
  ASSERT_EQ(b.lines.size(), 2u);
  EXPECT_EQ(b.records[0].metadata->sequence, 1);
  EXPECT_EQ(b.records[0].metadata->start_time, t0);
  EXPECT_EQ(saver_->stats().files_created, 3u);  // 9 twice, 8 once
}

// After `rotation` the next snapshot starts sequence+1, dated by it (here
// across midnight UTC), each file with its own metadata line; the metadata
// StartTime stays the connection's first sighting, as in the reference.
TEST_F(SaverTest, RotatesAfterTheRotationPeriod) {
  Start([](saver::Options* o) { o->rotation = absl::Minutes(10); });
  const Timestamp t0 = At("2019-04-02T23:55:00Z");
  const absl::Duration m0 = monotonic_;
  const std::vector<Timestamp> times = {
      t0, Plus(t0, absl::Minutes(5)), Plus(t0, absl::Minutes(10)),
      Plus(t0, absl::Minutes(19)), Plus(t0, absl::Minutes(20))};
  for (size_t i = 0; i < times.size(); ++i) {
    monotonic_ = m0 + (absl::FromUnixSeconds(times[i].seconds) -
                       absl::FromUnixSeconds(t0.seconds));
    saver_->Write(5, times[i], Snapshot(i));
    saver_->Tick(times[i]);
  }
  saver_->Close(5);
  saver_->WaitForWriter();
  const std::string uuid = saver_->Uuid(5);
  const std::vector<std::string> paths = {
      dir_.path() + "/2019/04/02/" + uuid + ".00000.jsonl.zst",
      dir_.path() + "/2019/04/03/" + uuid + ".00001.jsonl.zst",
      dir_.path() + "/2019/04/03/" + uuid + ".00002.jsonl.zst"};
  const std::vector<size_t> snapshots = {2, 2, 1};
  size_t next = 0;
  for (int seq = 0; seq < 3; ++seq) {
    const Archive a = ReadArchive(paths[seq]);
    ASSERT_EQ(a.lines.size(), snapshots[seq] + 1) << paths[seq];
    EXPECT_EQ(a.records[0].metadata->uuid, uuid);
    EXPECT_EQ(a.records[0].metadata->sequence, seq);
    EXPECT_EQ(a.records[0].metadata->start_time, t0);
    for (size_t i = 1; i < a.records.size(); ++i) {
      EXPECT_EQ(a.records[i].timestamp, times[next++]);
    }
  }
  EXPECT_EQ(next, times.size());
  EXPECT_EQ(saver_->stats().files_created, 3u);
}

// The wall clock is stepped back an hour, then forward a day: the age of a
// file is monotonic, so neither step rotates or splits it, while every
// snapshot keeps its own (wall) timestamp and a file started after a step
// is dated by the stepped clock. Pending snapshots are flushed at a step.
TEST_F(SaverTest, AWallClockStepNeitherRotatesNorSplitsAFile) {
  Start([](saver::Options* o) { o->rotation = absl::Seconds(2); });
  const Timestamp t0 = At("2026-11-22T00:30:00Z");
  saver_->Write(3, t0, Snapshot(0));
  monotonic_ += absl::Seconds(1);
  saver_->Write(3, Plus(t0, absl::Seconds(1)), Snapshot(1));
  // An hour back, into the previous day: the pending snapshots go at once,
  // and the next one still belongs to the same file.
  const Timestamp back = Plus(t0, absl::Hours(-1) + absl::Seconds(1));
  saver_->Tick(back);
  saver_->WaitForWriter();
  EXPECT_EQ(ReadArchive(PathOf(3, t0, 0)).lines.size(), 3u);
  monotonic_ += absl::Milliseconds(500);
  saver_->Write(3, back, Snapshot(2));
  // Two monotonic seconds after the file began: sequence 1, dated by the
  // stepped clock (2026-11-21).
  monotonic_ += absl::Milliseconds(500);
  const Timestamp back2 = Plus(back, absl::Milliseconds(500));
  saver_->Write(3, back2, Snapshot(3));
  // A day forward: same file.
  monotonic_ += absl::Milliseconds(500);
  const Timestamp forward = Plus(t0, absl::Hours(24) + absl::Seconds(2));
  saver_->Write(3, forward, Snapshot(4));
  saver_->Flush();
  const Archive first = ReadArchive(PathOf(3, t0, 0));
  ASSERT_EQ(first.lines.size(), 4u);
  EXPECT_EQ(first.records[3].timestamp, back);
  const std::string second_path = PathOf(3, back2, 1);
  EXPECT_NE(second_path.find("/2026/11/21/"), std::string::npos);
  const Archive second = ReadArchive(second_path);
  ASSERT_EQ(second.lines.size(), 3u);
  EXPECT_EQ(second.records[0].metadata->start_time, t0);
  EXPECT_EQ(second.records[1].timestamp, back2);
  EXPECT_EQ(second.records[2].timestamp, forward);
  EXPECT_EQ(saver_->stats().files_created, 2u);
}

int CountOpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory itself
}

// Descriptors do not grow with connections: 2,000 live connections, each
// with a file on disk, hold none between frames and at most one during.
TEST_F(SaverTest, DescriptorsDoNotGrowWithConnections) {
  Start();
  const int baseline = CountOpenFds();
  std::atomic<bool> done{false};
  std::atomic<int> peak{0};
  std::thread sampler([&] {
    while (!done.load()) {
      peak.store(std::max(peak.load(), CountOpenFds()));
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  constexpr int kConnections = 2000;
  const Timestamp t0 = At("2026-11-22T01:00:00Z");
  Timestamp t = t0;
  for (int round = 0; round < 3; ++round) {
    for (int c = 0; c < kConnections; ++c) {
      saver_->Write(100 + c, t, Snapshot(round * 7 + c % 7));
    }
    t = Plus(t, absl::Seconds(1));
    saver_->Tick(t);
  }
  saver_->Flush();
  done.store(true);
  sampler.join();
  const saver::Stats s = saver_->stats();
  EXPECT_EQ(s.connections, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(s.open_files, 0u);
  EXPECT_EQ(s.frames_written, 3u * kConnections);
  EXPECT_EQ(CountOpenFds(), baseline);
  EXPECT_LE(peak.load(), baseline + 1);
  int files = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(dir_.path())) {
    files += e.is_regular_file();
  }
  EXPECT_EQ(files, kConnections);
  EXPECT_EQ(ReadArchive(PathOf(100 + 1234, t0, 0)).lines.size(), 4u);
}

// When the writer cannot keep up, memory stays bounded: snapshots beyond
// the bound are dropped and counted.
TEST_F(SaverTest, BoundsBufferedMemory) {
  Start([](saver::Options* o) {
    o->max_buffered_bytes = 20000;
    o->batch_bytes = size_t{1} << 30;
  });
  const Timestamp t0 = At("2026-11-22T01:00:00Z");
  for (int i = 0; i < 200; ++i) {
    saver_->Write(1 + i % 3, t0, Snapshot(i));
    EXPECT_LE(saver_->stats().buffered_bytes, options_.max_buffered_bytes);
  }
  const saver::Stats s = saver_->stats();
  EXPECT_GT(s.records_dropped, 100u);
  EXPECT_EQ(s.records_written + s.records_dropped, 200u);
  saver_->Flush();
  EXPECT_EQ(saver_->stats().buffered_bytes, 0u);
  EXPECT_EQ(saver_->stats().frames_written, 3u);
}

}  // namespace
