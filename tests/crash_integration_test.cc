// The daemon's own end, as root (issue 7): build/bin/tcp-info polls a
// connfarm client namespace every 10 ms under load and is killed.
//
// SIGKILL, while its writer is busy, several times on the same output with
// restarts: every archive decodes up to its last complete frame, no complete
// line is garbage, every file older than a second holds its metadata and a
// snapshot, and the restarted daemon cuts off the half-written frame a kill
// leaves (simulated on top, since a kill rarely lands inside write()) before
// it appends, so that no damage remains in a file it wrote to.
//
// SIGTERM under heavy churn: the daemon exits 0 promptly, every file decodes
// completely, every connection open at the end has its final state archived,
// and the counters of its summary line add up to what is on disk.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "collector/dump_socket.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "parse/record_view.h"
#include "saver/frame_appender.h"
#include "tcp/tcp_info.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

using testutil::ArchiveFile;
using testutil::ReadText;

// One archive as a crash may leave it.
struct Scan {
  size_t size = 0;      // bytes in the file
  size_t complete = 0;  // bytes in complete frames
  std::string error;    // bytes that are neither frames nor part of one
  std::vector<parse::ArchivalRecord> records;  // of the complete lines
  bool partial_tail() const { return complete < size; }
};

// Decodes what a zstd reader can of `path`; every complete line must parse.
Scan ScanArchive(const std::string& path) {
  Scan s;
  const std::string bytes = testutil::ReadFileOrDie(path);
  s.size = bytes.size();
  s.complete = saver::CompleteFramesLength(bytes);
  std::string text;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  size_t left = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer out{chunk.data(), chunk.size(), 0};
    left = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(left)) {
      s.error = absl::StrCat("at byte ", in.pos, " of ", bytes.size(), ": ",
                             ZSTD_getErrorName(left));
      break;
    }
    text.append(chunk.data(), out.pos);
  }
  ZSTD_freeDCtx(dctx);
  if (s.error.empty() && (left != 0) != s.partial_tail()) {
    s.error = absl::StrCat("frames end at ", s.complete, " of ", s.size,
                           " but the decoder ", left != 0 ? "wants" : "needs",
                           " no more input");
  }
  // A partial frame may end in the middle of a line: only complete lines
  // count. A file of complete frames ends with one.
  const size_t end = text.rfind('\n') + 1;  // 0 without any '\n'
  if (s.error.empty() && !s.partial_tail() && end != text.size()) {
    s.error = "complete frames end inside a line";
  }
  const std::vector<absl::string_view> lines = absl::StrSplit(
      absl::string_view(text).substr(0, end), '\n', absl::SkipEmpty());
  for (size_t i = 0; i < lines.size() && s.error.empty(); ++i) {
    absl::StatusOr<parse::ArchivalRecord> r = parse::DecodeRecordJson(lines[i]);
    if (!r.ok()) {
      s.error =
          absl::StrCat("line ", i + 1, " is garbage: ", r.status().message());
    } else {
      s.records.push_back(*std::move(r));
    }
  }
  return s;
}

// Line 1 is the file's metadata, no other line is, and lines are in time
// order; with `need_snapshot`, at least one snapshot follows the metadata.
void ExpectWellFormed(const ArchiveFile& f, const Scan& s, bool need_snapshot) {
  SCOPED_TRACE(f.path);
  EXPECT_EQ(s.error, "");
  if (need_snapshot) {
    EXPECT_GE(s.records.size(), 2u);
  }
  if (s.records.empty()) return;
  ASSERT_TRUE(s.records[0].metadata.has_value());
  EXPECT_EQ(s.records[0].metadata->uuid, f.uuid);
  EXPECT_EQ(s.records[0].metadata->sequence, f.sequence);
  for (size_t i = 1; i < s.records.size(); ++i) {
    EXPECT_FALSE(s.records[i].metadata.has_value()) << "line " << i + 1;
    EXPECT_FALSE(s.records[i].timestamp < s.records[i - 1].timestamp)
        << "line " << i + 1;
  }
}

absl::Time BirthTime(const std::string& path) {
  struct statx st;
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_BTIME, &st) != 0 ||
      (st.stx_mask & STATX_BTIME) == 0) {
    return absl::InfiniteFuture();
  }
  return absl::FromUnixSeconds(st.stx_btime.tv_sec) +
         absl::Nanoseconds(st.stx_btime.tv_nsec);
}

// The counters of tcp_info that make a snapshot by themselves (all before
// tcpi_busy_time): equal counters, equal archived state.
struct Counters {
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;
  uint32_t segs_out = 0;
  uint32_t segs_in = 0;
  bool operator==(const Counters& o) const {
    return bytes_acked == o.bytes_acked && bytes_received == o.bytes_received &&
           segs_out == o.segs_out && segs_in == o.segs_in;
  }
  bool operator<(const Counters& o) const {
    return std::tie(bytes_acked, bytes_received, segs_out, segs_in) <
           std::tie(o.bytes_acked, o.bytes_received, o.segs_out, o.segs_in);
  }
};

Counters CountersOf(const tcp::TcpInfo& i) {
  return {i.bytes_acked, i.bytes_received, i.segs_out, i.segs_in};
}

// The daemon's "summary k=v ..." line (the last one in `log`) as numbers.
std::map<std::string, int64_t> SummaryOf(const std::string& log) {
  std::map<std::string, int64_t> out;
  const size_t at = log.rfind("summary connections=");
  if (at == std::string::npos) return out;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  for (absl::string_view field : absl::StrSplit(line, ' ')) {
    const std::pair<std::string, std::string> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    int64_t v;
    if (absl::SimpleAtoi(kv.second, &v)) out[kv.first] = v;
  }
  return out;
}

// A farm under load, a sampler of its client namespace, and the daemon,
// torn down however the test ends.
class CrashIntegration : public testutil::DaemonTest {
 protected:
  CrashIntegration() : DaemonTest({"crash_it", "crit", "", 0}) {}

  void TearDown() override {
    sampler_.reset();
    DaemonTest::TearDown();
  }

  // Brings the farm up with `options` and opens the sampler.
  void StartFarm(const std::string& tag,
                 const std::vector<std::string>& options) {
    ASSERT_NO_FATAL_FAILURE(UpFarm(tag));
    ASSERT_TRUE(farm_->Start(options, dir_ + "/ready"))
        << ReadText(farm_->log());
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      absl::StatusOr<std::unique_ptr<collector::DumpSocket>> s =
          collector::DumpSocket::Open();
      ASSERT_TRUE(s.ok()) << s.status();
      sampler_ = *std::move(s);
    });
    ASSERT_NE(sampler_, nullptr);
  }

  // The established connections of the client namespace and their counters.
  std::map<uint64_t, Counters> Established() {
    std::map<uint64_t, Counters> out;
    for (uint8_t family : {inetdiag::kAfInet6, inetdiag::kAfInet}) {
      sampler_->Dump(family, [&](const collector::DumpMessage& m) {
        absl::StatusOr<parse::RecordView> v =
            parse::SplitMessage(absl::string_view(m.payload, m.size));
        if (!v.ok() || v->Idm().state != tcp::kEstablished) return;
        tcp::TcpInfo info{};
        if (v->Has(inetdiag::kInfo)) {
          const absl::string_view raw = v->attributes[inetdiag::kInfo];
          std::memcpy(&info, raw.data(), std::min(raw.size(), sizeof(info)));
        }
        out[v->Cookie()] = CountersOf(info);
      });
    }
    return out;
  }

  // Connections established in two samples 200 ms apart: the daemon,
  // polling every 10 ms, has seen each of them. With `idle`, those whose
  // counters did not change in between, and the counters.
  std::set<uint64_t> SeenTwice(std::map<uint64_t, Counters>* idle = nullptr) {
    const std::map<uint64_t, Counters> first = Established();
    absl::SleepFor(absl::Milliseconds(200));
    const std::map<uint64_t, Counters> second = Established();
    std::set<uint64_t> out;
    for (const auto& [cookie, counters] : second) {
      auto it = first.find(cookie);
      if (it == first.end()) continue;
      out.insert(cookie);
      if (idle != nullptr && it->second == counters) (*idle)[cookie] = counters;
    }
    return out;
  }

  // Waits (at most 3 s) until the daemon writes (its writer appending a
  // batch, one file after the other), then SIGKILLs it at once and reaps it.
  // Returns when it was killed.
  absl::Time KillWhileWriting() {
    const std::string io = absl::StrCat("/proc/", daemon_, "/io");
    auto written = [&] {
      std::ifstream in(io);
      std::string line;
      int64_t n = -1;
      while (std::getline(in, line)) {
        absl::string_view rest = line;
        if (absl::ConsumePrefix(&rest, "wchar: ")) absl::SimpleAtoi(rest, &n);
      }
      return n;
    };
    const int64_t before = written();
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (written() == before && absl::Now() < deadline) {
      absl::SleepFor(absl::Microseconds(200));
    }
    EXPECT_EQ(kill(daemon_, SIGKILL), 0);
    const absl::Time killed = absl::Now();
    const int status = testutil::WaitFor(daemon_, absl::Seconds(10));
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    daemon_ = -1;
    return killed;
  }

  std::unique_ptr<collector::DumpSocket> sampler_;
};

TEST_F(CrashIntegration, SigkillLeavesWholeLinesAndRestartsRepairTheTails) {
  const absl::Time test_start = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StartFarm(
      "ck", {"--conns", "300", "--active", "60", "--bytes-per-sec", "50000",
             "--churn", "10", "--v6-fraction", "0.2", "--duration", "60"}));
  constexpr int kKills = 3;
  // Files cut by the test after a kill, by path: their size right after.
  // One no daemon appended to since is left out of the checks.
  std::map<std::string, uintmax_t> damaged;
  auto untouched_since_cut = [&](const std::string& path) {
    auto it = damaged.find(path);
    return it != damaged.end() && fs::file_size(path) == it->second;
  };
  int natural_tails = 0;
  for (int round = 0; round < kKills; ++round) {
    SCOPED_TRACE(absl::StrCat("kill ", round + 1));
    const absl::Time started = absl::Now();
    ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({}));
    const std::set<uint64_t> early = SeenTwice();
    // The saver hands a batch on once it is 1 s old: 2 s after the daemon
    // polled them, every one of these is on disk.
    absl::SleepFor(absl::Seconds(2));
    const absl::Time killed = KillWhileWriting();

    // Whatever the kill left: only whole frames plus at most a part of one
    // at the very end; whole lines; old files complete.
    const std::map<uint64_t, std::vector<ArchiveFile>> files = Archives();
    std::map<uint64_t, const ArchiveFile*> sequence_zero;
    for (const auto& [cookie, list] : files) {
      for (const ArchiveFile& f : list) {
        if (f.sequence == 0) sequence_zero[cookie] = &f;
        if (untouched_since_cut(f.path)) continue;
        const Scan s = ScanArchive(f.path);
        // Files this run created more than 1 s before its kill hold a
        // snapshot. Not required of a file an earlier kill caught between
        // creating it and its first write (empty, its connection since
        // gone), nor of one the test cut, which its repair may have cut
        // back to nothing just before this kill.
        const absl::Time born = BirthTime(f.path);
        const bool old = born >= started && born < killed - absl::Seconds(1) &&
                         damaged.count(f.path) == 0;
        ExpectWellFormed(f, s, /*need_snapshot=*/old);
        if (s.partial_tail()) ++natural_tails;
      }
    }
    // A connection the daemon saw 2 s before the kill is on disk.
    ASSERT_GE(early.size(), 250u);
    for (uint64_t c : early) {
      EXPECT_EQ(sequence_zero.count(c), 1u) << "connection " << c;
    }

    // What a kill inside write() leaves, in files whose connections live
    // on: the last frame cut short, or (a partial write on a full disk, a
    // crash of the host) zeros after it.
    const std::map<uint64_t, Counters> alive = Established();
    int cut = 0;
    for (const auto& [cookie, f] : sequence_zero) {
      if (cut == 12) break;
      if (alive.count(cookie) == 0 || damaged.count(f->path) != 0) continue;
      if (cut % 4 == 3) {
        std::ofstream(f->path, std::ios::binary | std::ios::app)
            << std::string(64, '\0');
      } else {
        // Into the checksum and the last block.
        fs::resize_file(f->path, fs::file_size(f->path) - 5);
      }
      damaged[f->path] = fs::file_size(f->path);
      ++cut;
    }
    ASSERT_EQ(cut, 12);
  }

  // The last restart, ended by SIGTERM: every file it wrote to is whole.
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({}));
  const std::set<uint64_t> last_run = SeenTwice();
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_NO_FATAL_FAILURE(StopDaemon());

  int repaired_checked = 0;
  int files_checked = 0;
  for (const auto& [cookie, list] : Archives()) {
    for (const ArchiveFile& f : list) {
      if (last_run.count(cookie) == 0 && untouched_since_cut(f.path)) continue;
      const Scan s = ScanArchive(f.path);
      // The last run appended to its connections' files: those hold a
      // snapshot; the others were checked after the kill that ended them.
      ExpectWellFormed(f, s, /*need_snapshot=*/last_run.count(cookie) != 0);
      ++files_checked;
      if (last_run.count(cookie) == 0) continue;
      EXPECT_FALSE(s.partial_tail()) << f.path << " ends in part of a frame";
      if (damaged.count(f.path) != 0) ++repaired_checked;
    }
  }
  EXPECT_GE(files_checked, 300);
  // Most cut files still had their connection, so the daemons after the
  // kills appended to them.
  EXPECT_GE(repaired_checked, kKills * 12 / 2);
  // Each restart found the files of the previous kill and said so once.
  const std::string log = ReadText(daemon_log());
  int repair_lines = 0;
  for (size_t at = log.find("after its last complete zstd frame");
       at != std::string::npos;
       at = log.find("after its last complete zstd frame", at + 1)) {
    ++repair_lines;
  }
  EXPECT_GE(repair_lines, kKills) << log;
  std::cout << "crash: " << kKills << " kills, " << natural_tails
            << " files ended in part of a frame after a kill, "
            << damaged.size() << " cut by the test, " << repaired_checked
            << " of them appended to again and whole, " << files_checked
            << " files\n";
  EXPECT_LT(absl::Now() - test_start, absl::Seconds(40));
}

TEST_F(CrashIntegration, SigtermUnderChurnLosesNothing) {
  const absl::Time test_start = absl::Now();
  ASSERT_NO_FATAL_FAILURE(
      StartFarm("ct", {"--conns", "300", "--active", "40", "--churn", "40",
                       "--short-lived-per-sec", "60", "--v6-fraction", "0.2",
                       "--duration", "60"}));
  // Connections of the test's own that move a known number of bytes just
  // before the end, so the last snapshot is still pending at SIGTERM.
  constexpr uint16_t kPort = 18613;
  int listener = -1;
  testutil::InNamespace(farm_->Namespace("srv"), [&] {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const sockaddr_storage a = testutil::Address(false, kPort);
    ASSERT_EQ(bind(listener, reinterpret_cast<const sockaddr*>(&a),
                   testutil::Length(false)),
              0)
        << std::strerror(errno);
    ASSERT_EQ(listen(listener, 16), 0);
  });
  struct Own {
    int client = -1;
    int server = -1;
    uint64_t cookie = 0;
  };
  std::vector<Own> own(4);
  testutil::InNamespace(farm_->Namespace("cli"), [&] {
    for (Own& o : own) {
      o.client = socket(AF_INET, SOCK_STREAM, 0);
      testutil::SetTimeouts(o.client);
      const sockaddr_storage a = testutil::Address(false, kPort);
      ASSERT_EQ(connect(o.client, reinterpret_cast<const sockaddr*>(&a),
                        testutil::Length(false)),
                0)
          << std::strerror(errno);
      socklen_t len = sizeof(o.cookie);
      getsockopt(o.client, SOL_SOCKET, SO_COOKIE, &o.cookie, &len);
    }
  });
  for (Own& o : own) {
    o.server = accept(listener, nullptr, nullptr);
    ASSERT_GE(o.server, 0);
    testutil::SetTimeouts(o.server);
  }

  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({}));
  absl::SleepFor(absl::Milliseconds(2500));
  for (size_t i = 0; i < own.size(); ++i) {
    testutil::SendAll(own[i].client, 30000 + 1000 * i);
    testutil::ReceiveAll(own[i].server, 30000 + 1000 * i);
    testutil::SendAll(own[i].server, 5000 + 100 * i);
    testutil::ReceiveAll(own[i].client, 5000 + 100 * i);
  }
  absl::SleepFor(absl::Milliseconds(100));
  std::map<uint64_t, Counters> idle;
  const std::set<uint64_t> open_at_end = SeenTwice(&idle);
  const absl::Time term = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  const absl::Duration exit_time = absl::Now() - term;
  EXPECT_LT(exit_time, absl::Seconds(5));

  // Every file whole; every connection open at the end archived with the
  // state it ended in.
  const std::map<uint64_t, std::vector<ArchiveFile>> files = Archives();
  int64_t files_on_disk = 0;
  int64_t snapshots = 0;
  std::map<uint64_t, std::set<Counters>> archived;
  std::map<uint64_t, tcp::TcpInfo> last;
  for (const auto& [cookie, list] : files) {
    for (const ArchiveFile& f : list) {
      const Scan s = ScanArchive(f.path);
      ExpectWellFormed(f, s, /*need_snapshot=*/true);
      EXPECT_FALSE(s.partial_tail()) << f.path;
      ++files_on_disk;
      snapshots += static_cast<int64_t>(s.records.size()) - 1;
      for (size_t i = 1; i < s.records.size(); ++i) {
        tcp::TcpInfo info;
        if (!testutil::Info(s.records[i], &info)) continue;
        archived[cookie].insert(CountersOf(info));
        last[cookie] = info;
      }
    }
  }
  EXPECT_GE(files.size(), 300u);
  ASSERT_GE(open_at_end.size(), 250u);
  ASSERT_GE(idle.size(), 100u);
  for (uint64_t c : open_at_end) {
    EXPECT_EQ(files.count(c), 1u) << "connection " << c << " not archived";
  }
  for (const auto& [cookie, counters] : idle) {
    EXPECT_EQ(archived[cookie].count(counters), 1u)
        << "connection " << cookie << ": its final counters are not archived";
  }
  for (size_t i = 0; i < own.size(); ++i) {
    EXPECT_EQ(last[own[i].cookie].bytes_sent, 30000 + 1000 * i) << i;
    EXPECT_EQ(last[own[i].cookie].bytes_received, 5000 + 100 * i) << i;
  }

  // The summary agrees with the disk: every accepted snapshot is a line,
  // every file counted exists.
  const std::string log = ReadText(daemon_log());
  EXPECT_NE(log.find("stopped by signal"), std::string::npos) << log;
  std::map<std::string, int64_t> sum = SummaryOf(log);
  ASSERT_FALSE(sum.empty()) << log;
  EXPECT_EQ(sum["write_errors"], 0);
  EXPECT_EQ(sum["files_open"], 0);
  EXPECT_EQ(sum["records_written"], snapshots);
  EXPECT_EQ(sum["files_created"], files_on_disk);
  EXPECT_EQ(sum["opened"], sum["files_created"]);
  // A destroy event of a connection already gone from the dumps is its
  // last snapshot without being a change of the cache.
  EXPECT_GE(sum["records_written"], sum["changes"]);
  EXPECT_LE(sum["records_written"] - sum["changes"], sum["destroy_events"]);
  EXPECT_GT(sum["closed"], 40);
  std::cout << "sigterm: exit after " << absl::FormatDuration(exit_time) << ", "
            << files_on_disk << " files, " << snapshots << " snapshots, "
            << open_at_end.size() << " open at the end (" << idle.size()
            << " idle), summary closed=" << sum["closed"] << "\n";

  for (Own& o : own) {
    close(o.client);
    close(o.server);
  }
  close(listener);
  EXPECT_LT(absl::Now() - test_start, absl::Seconds(30));
}

}  // namespace
