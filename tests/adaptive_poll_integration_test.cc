// Adaptive polling proven equal to full polling (issue 20), as root: in a
// connfarm client namespace with 2,000 connections (50 streaming, 20
// replaced per second, short-lived ones besides) and 20 connections of the
// test's own that switch between busy (a send every 20 ms for 300 ms) and
// idle (1.3 s), a full-polling and an adaptive daemon run side by side from
// before the first connection until after the last one closed. Then:
//   - every connection has an archive in both;
//   - its final record (raw inet_diag_msg and every attribute) is the same;
//   - the adaptive daemon's first snapshot of a connection is at most one
//     discovery interval (1 s) after the full daemon's (plus 100 ms for
//     the scheduler);
//   - from then on, every state both daemons had time to see is in both,
//     no later than the documented bound: on a streaming connection (polled
//     every cycle by both), each acked+received level that lasted 30 ms or
//     more in the full archive is in the adaptive one (99 % of them),
//     within two intervals (75 %: the scheduler delays either daemon on a
//     shared machine; 99.95 % on a quiet one); on any connection, each
//     level that lasted 1.2 s or more within one discovery interval plus
//     100 ms (99 %);
//   - the adaptive daemon made exact requests and fell back to no dump.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "tcp/tcp_info.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

constexpr uint16_t kPort = 18620;
constexpr int kSwitching = 20;
constexpr int kFarmSeconds = 20;
constexpr int kAdaptiveMetricsPort = 9991;
constexpr int64_t kIntervalMs = 10;
constexpr int64_t kDiscoveryMs = 1000;
// On a shared 2-core machine either daemon's poll may be delayed by the
// scheduler: the slack added to the one-discovery-interval bounds.
constexpr int64_t kSchedulerMs = 100;

struct Snapshot {
  int64_t ms;      // timestamp, Unix milliseconds
  uint64_t level;  // tcpi_bytes_acked + tcpi_bytes_received
};

// A connection's archive files, in sequence order, decoded.
struct Series {
  std::vector<Snapshot> snapshots;
  parse::ArchivalRecord last;
};

Series Load(const std::vector<testutil::ArchiveFile>& files) {
  std::vector<testutil::ArchiveFile> list = files;
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    return a.sequence < b.sequence;
  });
  Series s;
  for (const testutil::ArchiveFile& f : list) {
    for (parse::ArchivalRecord& r : testutil::Decode(f.path)) {
      if (r.raw_idm.empty()) continue;  // the metadata line
      tcp::TcpInfo info;
      if (testutil::Info(r, &info)) {
        s.snapshots.push_back(
            {r.timestamp.seconds * 1000 + r.timestamp.nanos / 1000000,
             info.bytes_acked + info.bytes_received});
      }
      s.last = std::move(r);
    }
  }
  return s;
}

// The first time `series` holds `level` (a sum of counters, so it holds
// it once, for a while); -1 if never.
int64_t FirstSeen(const Series& series, uint64_t level) {
  for (const Snapshot& s : series.snapshots) {
    if (s.level == level) return s.ms;
  }
  return -1;
}

class AdaptivePoll : public testutil::DaemonTest {
 protected:
  AdaptivePoll() : DaemonTest({"adaptive_it", "adit", "ad", kPort}) {}

  void TearDown() override {
    if (adaptive_ > 0) kill(adaptive_, SIGKILL);
    if (adaptive_ > 0) testutil::WaitFor(adaptive_, absl::Seconds(10));
    DaemonTest::TearDown();
  }

  // The adaptive daemon: like StartPollingDaemon's, its own output tree,
  // log and metrics port.
  void StartAdaptiveDaemon() {
    ASSERT_EQ(system(absl::StrCat("mkdir -p ", dir_, "/adaptive").c_str()), 0);
    adaptive_ = testutil::Spawn(
        {testutil::ConnfarmPath(), "exec", "--name", farm_->name(), "--",
         testutil::BinaryPath("tcp-info"), "-output=" + dir_ + "/adaptive",
         "-uuid-prefix-file=" + dir_ + "/prefix", "-interval=10ms",
         "-poll.mode=adaptive", "-poll.discovery-interval=1s",
         absl::StrCat("-prometheusx.listen-address=127.0.0.1:",
                      kAdaptiveMetricsPort)},
        adaptive_log());
    ASSERT_TRUE(testutil::WaitForExe(adaptive_, "tcp-info", absl::Seconds(10)));
    ASSERT_TRUE(testutil::WaitUntilPolling(adaptive_, absl::Seconds(15)))
        << testutil::ReadText(adaptive_log());
  }

  void StopAdaptiveDaemon() {
    ASSERT_EQ(kill(adaptive_, SIGTERM), 0);
    const int status = testutil::WaitFor(adaptive_, absl::Seconds(10));
    ASSERT_GE(status, 0);
    adaptive_ = -1;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << testutil::ReadText(adaptive_log());
  }

  // The test's own connections, each switching between busy and idle for
  // `seconds`, then closed.
  void RunSwitchingConnections(int seconds) {
    std::thread server([&] {
      std::vector<struct pollfd> fds;
      for (int i = 0; i < kSwitching && !HasFailure(); ++i) {
        const int fd = accept(listeners_[i % 2], nullptr, nullptr);
        ASSERT_GE(fd, 0) << std::strerror(errno);
        fds.push_back({fd, POLLIN, 0});
      }
      size_t open = fds.size();
      char buffer[65536];
      const absl::Time deadline = absl::Now() + absl::Seconds(seconds + 10);
      while (open > 0 && absl::Now() < deadline) {
        if (poll(fds.data(), fds.size(), 100) <= 0) continue;
        for (struct pollfd& p : fds) {
          if (p.fd < 0 || p.revents == 0) continue;
          if (recv(p.fd, buffer, sizeof(buffer), 0) <= 0) {
            close(p.fd);
            p.fd = -1;
            --open;
          }
        }
      }
      EXPECT_EQ(open, 0u);
      for (struct pollfd& p : fds) {
        if (p.fd >= 0) close(p.fd);
      }
    });
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      std::vector<int> fds;
      for (int i = 0; i < kSwitching; ++i) {
        const bool v6 = i % 2 == 1;
        const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        testutil::SetTimeouts(fd);
        const sockaddr_storage a = testutil::Address(v6, kPort);
        ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&a),
                          testutil::Length(v6)),
                  0)
            << std::strerror(errno);
        fds.push_back(fd);
      }
      const std::string chunk(2000, 'x');
      const absl::Time start = absl::Now();
      const absl::Time end = start + absl::Seconds(seconds);
      while (absl::Now() < end) {
        const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
        for (int i = 0; i < kSwitching; ++i) {
          // A 1.6 s period, each connection at its own phase: busy for the
          // first 300 ms.
          if ((ms + 80 * i) % 1600 < 300) {
            ASSERT_EQ(send(fds[i], chunk.data(), chunk.size(), 0),
                      static_cast<ssize_t>(chunk.size()));
          }
        }
        absl::SleepFor(absl::Milliseconds(20));
      }
      for (int fd : fds) close(fd);
    });
    server.join();
  }

  std::string adaptive_log() const { return dir_ + "/adaptive.log"; }

  pid_t adaptive_ = -1;
};

TEST_F(AdaptivePoll, ArchivesWhatFullPollingArchives) {
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({}));
  ASSERT_NO_FATAL_FAILURE(StartAdaptiveDaemon());
  const std::string ready = dir_ + "/farm.ready";
  ASSERT_TRUE(
      farm_->Start({"--conns", "2000", "--active", "50", "--churn", "20",
                    "--duration", absl::StrCat(kFarmSeconds), "--seed", "20"},
                   ready))
      << testutil::ReadText(farm_->log());
  ASSERT_NO_FATAL_FAILURE(RunSwitchingConnections(kFarmSeconds - 4));
  // The farm closes its connections when its run ends.
  const absl::Time deadline = absl::Now() + absl::Seconds(kFarmSeconds + 20);
  while (!absl::StrContains(testutil::ReadText(farm_->log()), "done rc=") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(absl::StrContains(testutil::ReadText(farm_->log()), "done rc=0"))
      << testutil::ReadText(farm_->log());
  // Destroy events, then two discovery dumps, for the last closes.
  absl::SleepFor(absl::Milliseconds(2500));
  const std::string metrics = testutil::HttpGet(
      "127.0.0.1", kAdaptiveMetricsPort, "/metrics", farm_->name() + "-cli");
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  ASSERT_NO_FATAL_FAILURE(StopAdaptiveDaemon());

  const auto full = Archives();
  const auto adaptive = testutil::ListArchives(dir_ + "/adaptive", prefix_);
  std::cout << "connections archived: full " << full.size() << ", adaptive "
            << adaptive.size() << "\n";
  EXPECT_GE(full.size(), 2000u + kSwitching);
  int missing = 0;
  for (const auto& [cookie, files] : full) {
    if (!adaptive.contains(cookie)) ++missing;
  }
  for (const auto& [cookie, files] : adaptive) {
    if (!full.contains(cookie)) ++missing;
  }
  EXPECT_EQ(missing, 0) << "connections archived by one daemon only";

  int finals_differ = 0, streaming = 0, stable_levels = 0, late_stable = 0,
      idle_levels = 0, late_idle = 0, late_first = 0, missing_stable = 0;
  int64_t worst_stable = 0, worst_idle = 0, worst_first = 0;
  for (const auto& [cookie, files] : full) {
    const auto a = adaptive.find(cookie);
    if (a == adaptive.end()) continue;
    const Series f = Load(files);
    const Series s = Load(a->second);
    if (f.last.raw_idm != s.last.raw_idm ||
        f.last.attributes != s.last.attributes) {
      ++finals_differ;
    }
    // A streaming connection changes every 100 ms or so for the whole run,
    // never idle for a second (the switching ones are, for 1.3 s).
    int64_t longest_gap = 0;
    for (size_t i = 1; i < f.snapshots.size(); ++i) {
      longest_gap =
          std::max(longest_gap, f.snapshots[i].ms - f.snapshots[i - 1].ms);
    }
    const bool is_streaming =
        f.snapshots.size() >= static_cast<size_t>(kFarmSeconds * 5) &&
        longest_gap < 1000;
    streaming += is_streaming;
    // A new connection is first seen at most one discovery interval late;
    // what it did before is not compared.
    if (f.snapshots.empty() || s.snapshots.empty()) continue;
    const int64_t first_late = s.snapshots[0].ms - f.snapshots[0].ms;
    worst_first = std::max(worst_first, first_late);
    if (first_late > kDiscoveryMs + kSchedulerMs) ++late_first;
    for (size_t i = 0; i + 1 < f.snapshots.size(); ++i) {
      const Snapshot& x = f.snapshots[i];
      const int64_t lasted = f.snapshots[i + 1].ms - x.ms;
      if (x.level == f.snapshots[i + 1].level) continue;
      if (x.ms < s.snapshots[0].ms) continue;
      if (is_streaming && lasted >= 30) {
        ++stable_levels;
        const int64_t seen = FirstSeen(s, x.level);
        const int64_t late = seen < 0 ? 1 << 30 : seen - x.ms;
        worst_stable = std::max(worst_stable, late);
        if (seen < 0) ++missing_stable;
        if (late > 2 * kIntervalMs) ++late_stable;
      }
      if (lasted >= 1200) {
        ++idle_levels;
        const int64_t seen = FirstSeen(s, x.level);
        const int64_t late = seen < 0 ? 1 << 30 : seen - x.ms;
        worst_idle = std::max(worst_idle, late);
        if (late > kDiscoveryMs + kSchedulerMs) ++late_idle;
      }
    }
  }
  std::cout << "final records differing: " << finals_differ << "\n"
            << "streaming connections: " << streaming << ", levels of 30 ms+ "
            << stable_levels << ", later than 2 intervals " << late_stable
            << ", missing " << missing_stable << " (worst " << worst_stable
            << " ms)\n"
            << "levels of 1.2 s+: " << idle_levels
            << ", later than 1 s + 100 ms " << late_idle << " (worst "
            << worst_idle << " ms)\n";
  std::cout << "first snapshots later than 1 s + 100 ms: " << late_first
            << " (worst " << worst_first << " ms)\n";
  EXPECT_EQ(finals_differ, 0);
  EXPECT_EQ(late_first, 0) << worst_first;
  EXPECT_GE(streaming, 45);
  EXPECT_GT(stable_levels, 40 * kFarmSeconds);
  // Two daemons on a shared 2-core machine: a poll may be delayed by the
  // scheduler now and then, in either daemon: at most 25 % of the levels
  // later than two intervals (0.05 % on a quiet machine, 15 % at a load
  // average of 50 on 2 cores), 1 % missed.
  EXPECT_LE(late_stable * 4, stable_levels) << worst_stable;
  EXPECT_LE(missing_stable * 100, stable_levels);
  EXPECT_GT(idle_levels, 5 * kSwitching);
  EXPECT_LE(late_idle * 100, idle_levels) << worst_idle;

  // The adaptive daemon did ask exactly, and never had to fall back.
  auto value = [&](const std::string& family) {
    for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
      if (absl::StartsWith(line, family + " ")) {
        double v = -1;
        EXPECT_TRUE(absl::SimpleAtod(line.substr(family.size() + 1), &v));
        return v;
      }
    }
    return -1.0;
  };
  const double exact = value("tcpinfo_poll_exact_requests_total");
  const double dumps = value("tcpinfo_poll_full_dumps_total");
  std::cout << "adaptive: exact requests " << exact << ", full dumps " << dumps
            << ", fallbacks " << value("tcpinfo_poll_fallbacks_total") << "\n";
  EXPECT_GT(exact, 10000);
  EXPECT_GT(dumps, kFarmSeconds - 2);
  EXPECT_EQ(value("tcpinfo_poll_fallbacks_total"), 0);
}

}  // namespace
