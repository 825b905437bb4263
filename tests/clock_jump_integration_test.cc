// End to end, as root: build/bin/tcp-info polls a connfarm client namespace
// (a few dozen connections with traffic and churn) while its wall clock —
// and only its own, through the LD_PRELOAD shim tests/testutil/fake_clock.c
// — is stepped back an hour and then forward a day. What must hold:
//
//   - polling goes on at the interval across both steps (the polling
//     interval histogram keeps counting at about 100 cycles a second, and
//     the send-rate histogram about once a second);
//   - every snapshot is stamped by the wall clock in force when it was
//     taken (the daemon does see the steps);
//   - no file is rotated or split: one file, sequence 0, per connection,
//     each in the directory of its first snapshot's date, each decoding;
//   - the polling interval histogram holds no absurd observation: its sum
//     is the daemon's monotonic run time at most.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "parse/timestamp.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

using testutil::ArchiveFile;
using testutil::ReadText;

constexpr int kMetricsPort = 9990;
const absl::Duration kBack = absl::Hours(-1);
const absl::Duration kForward = absl::Hours(24);
// How long the daemon may go on stamping with the clock it had before a
// step: absl::Now() resynchronizes with the kernel's clock every ~2 s.
const absl::Duration kStepSeen = absl::Seconds(3);

// The offset file the shim maps: 8 bytes, nanoseconds, changed atomically.
class WallClockOffset {
 public:
  explicit WallClockOffset(const std::string& path) : path_(path) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof(int64_t)) != 0) return;
    void* p = mmap(nullptr, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
                   fd, 0);
    close(fd);
    if (p != MAP_FAILED) offset_ = static_cast<int64_t*>(p);
  }
  ~WallClockOffset() {
    if (offset_ != nullptr) munmap(offset_, sizeof(int64_t));
  }
  bool ok() const { return offset_ != nullptr; }
  const std::string& path() const { return path_; }
  void Set(absl::Duration d) {
    __atomic_store_n(offset_, absl::ToInt64Nanoseconds(d), __ATOMIC_RELAXED);
  }

 private:
  std::string path_;
  int64_t* offset_ = nullptr;
};

absl::Time ToTime(parse::Timestamp t) {
  return absl::FromUnixSeconds(t.seconds) + absl::Nanoseconds(t.nanos);
}

// One phase of the run: the real time it spans and the daemon's clock
// offset during it.
struct Phase {
  const char* name;
  absl::Duration offset;
  absl::Time begin{};
  absl::Time end{};
};

// The phase whose clock stamped `t`: its real time, shifted back by the
// phase's offset, falls inside the phase (or within kStepSeen after it).
const Phase* PhaseOf(const std::vector<Phase>& phases, absl::Time t) {
  for (const Phase& p : phases) {
    const absl::Time real = t - p.offset;
    if (real >= p.begin - absl::Milliseconds(50) && real <= p.end + kStepSeen) {
      return &p;
    }
  }
  return nullptr;
}

struct Scrape {
  double cycles = -1;        // polling intervals observed
  double interval_sum = -1;  // seconds
  double rate_observations = -1;
};

Scrape ScrapeMetrics(const std::string& netns) {
  Scrape s;
  const std::string body =
      testutil::HttpGet("127.0.0.1", kMetricsPort, "/metrics", netns);
  const auto families = testutil::ParseExposition(body);
  auto sample = [&](const char* family, const char* name) {
    auto f = families.find(family);
    if (f == families.end()) return -1.0;
    auto v = f->second.samples.find(name);
    return v == f->second.samples.end() ? -1.0 : v->second;
  };
  s.cycles = sample("tcpinfo_polling_interval_histogram",
                    "tcpinfo_polling_interval_histogram_count");
  s.interval_sum = sample("tcpinfo_polling_interval_histogram",
                          "tcpinfo_polling_interval_histogram_sum");
  s.rate_observations = sample("tcpinfo_send_rate_histogram",
                               "tcpinfo_send_rate_histogram_count");
  return s;
}

// A farm, and the daemon polling its client namespace with its wall clock
// shifted by the offset file, torn down however the test ends.
class ClockJumpIntegration : public testutil::DaemonTest {
 protected:
  ClockJumpIntegration() : DaemonTest({"clock_jump_it", "cjtest", "", 0}) {}
};

TEST_F(ClockJumpIntegration,
       PollingTimestampsAndFilesStaySaneAcrossClockSteps) {
  const absl::Time test_start = absl::Now();
  WallClockOffset offset(dir_ + "/clock_offset");
  ASSERT_TRUE(offset.ok());

  ASSERT_NO_FATAL_FAILURE(UpFarm("cj"));
  ASSERT_TRUE(farm_->Start({"--conns", "40", "--active", "20", "--churn", "3",
                            "--v6-fraction", "0.25", "--duration", "40"},
                           dir_ + "/ready"))
      << ReadText(farm_->log());

  // The shim is preloaded ahead of the sanitizer runtime (ASan build).
  const std::string asan_options =
      testutil::AsanOptionsWith("verify_asan_link_order=0");
  // Three phases of 4 s: normal, an hour back, a day forward. The rates
  // are measured over the last 2 s of each, once the step is surely seen.
  // A phase begins before its step (the first before the daemon starts):
  // whatever the daemon stamps with its clock comes after.
  std::vector<Phase> phases = {
      {"normal", absl::ZeroDuration()}, {"back", kBack}, {"forward", kForward}};
  phases[0].begin = absl::Now();
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      {absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort)},
      {"/usr/bin/env", absl::StrCat("LD_PRELOAD=", TCPINFO_FAKE_CLOCK_LIBRARY),
       absl::StrCat("TCPINFO_FAKE_CLOCK_FILE=", offset.path()),
       absl::StrCat("ASAN_OPTIONS=", asan_options)}));
  const std::string netns = farm_->name() + "-cli";
  const absl::Time daemon_start = absl::Now();

  for (Phase& p : phases) {
    if (&p != &phases[0]) p.begin = absl::Now();
    offset.Set(p.offset);
    absl::SleepFor(absl::Seconds(2));
    const Scrape before = ScrapeMetrics(netns);
    const absl::Time from = absl::Now();
    absl::SleepFor(absl::Seconds(2));
    const Scrape after = ScrapeMetrics(netns);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - from);
    p.end = absl::Now();
    ASSERT_EQ(waitpid(daemon_, nullptr, WNOHANG), 0)
        << "daemon exited: " << ReadText(daemon_log());
    ASSERT_GE(before.cycles, 0) << p.name << ": no metrics";
    ASSERT_GE(after.cycles, 0) << p.name << ": no metrics";
    // 10 ms polling: about 100 cycles a second; a stalled loop makes none.
    const double cycles_per_second = (after.cycles - before.cycles) / seconds;
    EXPECT_GE(cycles_per_second, 40) << p.name;
    EXPECT_LE(cycles_per_second, 110) << p.name;
    // Rates are observed once a second.
    EXPECT_GE(after.rate_observations - before.rate_observations, 1) << p.name;
    std::printf("%s: %.0f cycles/s, %.0f rate observations in %.1f s\n", p.name,
                cycles_per_second,
                after.rate_observations - before.rate_observations, seconds);
  }
  const absl::Time measured_until = phases.back().end;
  const Scrape last = ScrapeMetrics(netns);
  const absl::Duration ran = absl::Now() - daemon_start;
  // Each observation is one start-to-start interval: together they span
  // the run at most, and none is negative or a day long.
  EXPECT_GE(last.interval_sum, 0);
  EXPECT_LE(last.interval_sum, absl::ToDoubleSeconds(ran) + 1);
  EXPECT_GE(last.interval_sum,
            0.8 * absl::ToDoubleSeconds(measured_until - phases[0].begin));

  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  // The last phase lasts as long as its clock stamped records.
  phases.back().end = absl::Now();

  // Every file: one per connection, sequence 0, decodes, in the directory
  // of its first snapshot, every snapshot stamped by the clock of a phase.
  const std::map<uint64_t, std::vector<ArchiveFile>> files = Archives();
  EXPECT_GE(files.size(), 40u);
  std::map<std::string, int> snapshots_by_phase, files_by_phase;
  int backward_steps = 0;
  for (const auto& [cookie, list] : files) {
    EXPECT_EQ(list.size(), 1u) << "cookie " << cookie << " has " << list.size()
                               << " files, e.g. " << list.back().path;
    for (const ArchiveFile& f : list) {
      EXPECT_EQ(f.sequence, 0) << f.path;
      const std::vector<parse::ArchivalRecord> records =
          testutil::Decode(f.path);
      ASSERT_GE(records.size(), 2u) << f.path;
      ASSERT_TRUE(records[0].metadata.has_value()) << f.path;
      EXPECT_EQ(records[0].metadata->uuid, f.uuid);
      if (f.sequence == 0) {
        EXPECT_EQ(records[0].metadata->start_time, records[1].timestamp);
      }
      const parse::CivilDate d = parse::ToCivilDate(records[1].timestamp);
      EXPECT_EQ(fs::path(f.path).parent_path().string(),
                absl::StrFormat("%s/out/%04d/%02d/%02d", dir_, d.year, d.month,
                                d.day));
      const Phase* first = PhaseOf(phases, ToTime(records[1].timestamp));
      if (first != nullptr) ++files_by_phase[first->name];
      for (size_t i = 1; i < records.size(); ++i) {
        const absl::Time t = ToTime(records[i].timestamp);
        const Phase* p = PhaseOf(phases, t);
        EXPECT_NE(p, nullptr) << f.path << " line " << i + 1 << ": "
                              << absl::FormatTime(t) << " is no phase's time";
        if (p != nullptr) ++snapshots_by_phase[p->name];
        if (i < 2) continue;
        // Within a file time runs forward, except across the step back.
        const absl::Duration step = t - ToTime(records[i - 1].timestamp);
        if (step < absl::ZeroDuration()) {
          ++backward_steps;
          EXPECT_LT(absl::AbsDuration(step - kBack), absl::Seconds(15))
              << f.path << " line " << i + 1;
        }
      }
    }
  }
  // The daemon saw both steps: snapshots and new files in every phase.
  for (const Phase& p : phases) {
    EXPECT_GT(snapshots_by_phase[p.name], 20) << p.name;
    EXPECT_GT(files_by_phase[p.name], 0) << p.name;
    std::printf("%s: %d snapshots, %d files started\n", p.name,
                snapshots_by_phase[p.name], files_by_phase[p.name]);
  }
  EXPECT_GT(backward_steps, 0);
  EXPECT_LT(absl::Now() - test_start, absl::Seconds(40));
}

}  // namespace
