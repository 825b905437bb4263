// End to end, as root: build/bin/tcp-info polls a connfarm client namespace
// holding a few hundred real connections with traffic and churn, plus a few
// connections this test makes itself and moves a known number of bytes over.
// Then every archive is decoded and checked against what happened.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "collector/dump_socket.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "tcp/tcp_info.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

using testutil::ArchiveFile;
using testutil::Decode;
using testutil::Info;
using testutil::InNamespace;
using testutil::ReadText;
using testutil::ReceiveAll;
using testutil::SendAll;
using testutil::SetTimeouts;

// One connection of the test's own: client in the client namespace, server
// end in the server namespace, and the bytes each way.
struct OwnConnection {
  int client = -1;
  int server = -1;
  uint64_t cookie = 0;
  size_t sent = 0;      // client -> server
  size_t received = 0;  // server -> client
};

// Checks one archive and returns the (bytes_sent, bytes_received) pairs its
// snapshots report.
std::set<std::pair<uint64_t, uint64_t>> CheckArchive(const ArchiveFile& f,
                                                     uint64_t cookie) {
  std::set<std::pair<uint64_t, uint64_t>> counters;
  const std::vector<parse::ArchivalRecord> records = Decode(f.path);
  EXPECT_GE(records.size(), 2u) << f.path;
  if (records.empty()) return counters;
  const parse::ArchivalRecord& first = records[0];
  EXPECT_TRUE(first.metadata.has_value()) << f.path;
  if (first.metadata.has_value()) {
    EXPECT_EQ(first.metadata->uuid, f.uuid);
    EXPECT_EQ(first.metadata->sequence, f.sequence);
  }
  EXPECT_TRUE(first.timestamp.IsGoZero());
  tcp::TcpInfo previous{};
  bool have_previous = false;
  parse::Timestamp previous_time = parse::Timestamp::GoZero();
  for (size_t i = 1; i < records.size(); ++i) {
    const parse::ArchivalRecord& r = records[i];
    EXPECT_FALSE(r.metadata.has_value()) << f.path << " line " << i + 1;
    EXPECT_FALSE(r.timestamp < previous_time) << f.path << " line " << i + 1;
    previous_time = r.timestamp;
    EXPECT_EQ(r.raw_idm.size(), sizeof(inetdiag::Msg)) << f.path;
    if (r.raw_idm.size() != sizeof(inetdiag::Msg)) continue;
    inetdiag::Msg idm;
    std::memcpy(&idm, r.raw_idm.data(), sizeof(idm));
    EXPECT_EQ(inetdiag::Cookie(idm.id), cookie) << f.path;
    tcp::TcpInfo info;
    if (!Info(r, &info)) continue;
    counters.insert({info.bytes_sent, info.bytes_received});
    if (have_previous) {
      EXPECT_GE(info.bytes_acked, previous.bytes_acked) << f.path << " " << i;
      EXPECT_GE(info.bytes_received, previous.bytes_received) << f.path;
      EXPECT_GE(info.bytes_sent, previous.bytes_sent) << f.path;
      EXPECT_GE(info.segs_out, previous.segs_out) << f.path;
      EXPECT_GE(info.segs_in, previous.segs_in) << f.path;
      EXPECT_GE(info.data_segs_out, previous.data_segs_out) << f.path;
    }
    previous = info;
    have_previous = true;
  }
  return counters;
}

TEST(CollectorIntegration, ArchivesEveryConnectionOfAFarmCompletelyAndExactly) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  const absl::Time test_start = absl::Now();
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/collector_it_", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir + "/out");
  const std::string prefix = absl::StrCat("itest", getpid());
  std::ofstream(dir + "/prefix") << prefix << "\n";

  testutil::Farm farm(dir, "ci");
  ASSERT_TRUE(farm.Up()) << ReadText(farm.log());
  ASSERT_TRUE(farm.Start({"--conns", "300", "--active", "30", "--churn", "10",
                          "--v6-fraction", "0.2", "--duration", "40"},
                         dir + "/ready"))
      << ReadText(farm.log());

  // The daemon, inside the client namespace. Metrics on loopback only: on
  // every address (the default :9990) they would fail to bind if a farm
  // client held local port 9990.
  const std::string daemon_log = dir + "/tcp-info.log";
  pid_t daemon = testutil::Spawn(
      {testutil::ConnfarmPath(), "exec", "--name", farm.name(), "--",
       testutil::BinaryPath("tcp-info"), "-output", dir + "/out",
       "-uuid-prefix-file", dir + "/prefix", "--interval=10ms", "-reps", "3000",
       "-prometheusx.listen-address=127.0.0.1:9990"},
      daemon_log);
  testutil::ProcessGuard daemon_guard{&daemon};

  // Our own connections: listeners in the server namespace, clients in the
  // client namespace, known bytes each way.
  constexpr uint16_t kPort = 18577;
  int listeners[2] = {-1, -1};
  InNamespace(farm.Namespace("srv"), [&] {
    for (int v6 = 0; v6 < 2; ++v6) {
      listeners[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      const int one = 1;
      setsockopt(listeners[v6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      sockaddr_storage a = testutil::Address(v6, kPort);
      ASSERT_EQ(bind(listeners[v6], reinterpret_cast<sockaddr*>(&a),
                     testutil::Length(v6)),
                0)
          << std::strerror(errno);
      ASSERT_EQ(listen(listeners[v6], 16), 0);
    }
  });
  std::vector<OwnConnection> own(4);
  InNamespace(farm.Namespace("cli"), [&] {
    for (size_t i = 0; i < own.size(); ++i) {
      const bool v6 = i % 2 == 1;
      own[i].client = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      SetTimeouts(own[i].client);
      sockaddr_storage a = testutil::Address(v6, kPort);
      ASSERT_EQ(connect(own[i].client, reinterpret_cast<sockaddr*>(&a),
                        testutil::Length(v6)),
                0)
          << std::strerror(errno);
      socklen_t len = sizeof(own[i].cookie);
      ASSERT_EQ(getsockopt(own[i].client, SOL_SOCKET, SO_COOKIE, &own[i].cookie,
                           &len),
                0);
    }
  });
  for (size_t i = 0; i < own.size(); ++i) {
    own[i].server = accept(listeners[i % 2], nullptr, nullptr);
    ASSERT_GE(own[i].server, 0);
    SetTimeouts(own[i].server);
    own[i].sent = 20000 + 1000 * i;
    own[i].received = 7000 + 100 * i;
    SendAll(own[i].client, own[i].sent);
    ReceiveAll(own[i].server, own[i].sent);
    SendAll(own[i].server, own[i].received);
    ReceiveAll(own[i].client, own[i].received);
  }

  // Meanwhile, note every established client connection that lives through
  // two samples: the daemon, polling every 10 ms, must archive each of them.
  std::unique_ptr<collector::DumpSocket> sampler;
  InNamespace(farm.Namespace("cli"), [&] {
    absl::StatusOr<std::unique_ptr<collector::DumpSocket>> s =
        collector::DumpSocket::Open();
    ASSERT_TRUE(s.ok()) << s.status();
    sampler = *std::move(s);
  });
  ASSERT_NE(sampler, nullptr);
  std::set<uint64_t> must_have, previous_sample;
  std::map<uint64_t, std::string> described;
  auto sample = [&] {
    std::set<uint64_t> now;
    for (uint8_t family : {inetdiag::kAfInet6, inetdiag::kAfInet}) {
      sampler->Dump(family, [&](const collector::DumpMessage& m) {
        inetdiag::Msg idm;
        std::memcpy(&idm, m.payload, sizeof(idm));
        if (idm.state == tcp::kEstablished) {
          now.insert(inetdiag::Cookie(idm.id));
          char a[64], b[64];
          inet_ntop(idm.family, idm.id.src, a, sizeof(a));
          inet_ntop(idm.family, idm.id.dst, b, sizeof(b));
          described[inetdiag::Cookie(idm.id)] =
              absl::StrCat(a, ":", ntohs(idm.id.sport_be), " -> ", b, ":",
                           ntohs(idm.id.dport_be));
        }
      });
    }
    for (uint64_t c : now) {
      if (previous_sample.count(c) != 0) must_have.insert(c);
    }
    previous_sample = now;
  };
  // connfarm exec becomes tcp-info (exec, same pid) once the namespace is
  // entered; sample only once it polls.
  ASSERT_TRUE(testutil::WaitForExe(daemon, "tcp-info", absl::Seconds(10)))
      << ReadText(daemon_log);
  ASSERT_TRUE(testutil::WaitUntilPolling(daemon, absl::Seconds(15)))
      << ReadText(daemon_log);
  for (int i = 0; i < 6; ++i) {
    sample();
    absl::SleepFor(absl::Milliseconds(250));
  }

  // Close one of our connections (reset: no TIME_WAIT) and, while the daemon
  // still runs, find its archive finished, with the exact byte counts.
  const OwnConnection& gone = own[0];
  linger reset{1, 0};
  setsockopt(gone.client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(gone.client);
  close(gone.server);
  bool found_closed = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!found_closed && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    std::map<uint64_t, std::vector<ArchiveFile>> files =
        testutil::ListArchives(dir + "/out", prefix);
    auto it = files.find(gone.cookie);
    if (it == files.end()) continue;
    const std::vector<parse::ArchivalRecord> records =
        Decode(it->second.at(0).path);
    tcp::TcpInfo last;
    if (records.size() >= 2 && Info(records.back(), &last) &&
        last.bytes_sent == gone.sent) {
      found_closed = true;
      EXPECT_EQ(last.bytes_received, gone.received);
    }
  }
  EXPECT_TRUE(found_closed) << "no finished archive for the closed connection";
  ASSERT_EQ(waitpid(daemon, nullptr, WNOHANG), 0)
      << "daemon exited early: " << ReadText(daemon_log);

  for (int i = 0; i < 4; ++i) {
    sample();
    absl::SleepFor(absl::Milliseconds(250));
  }

  // SIGTERM: the daemon ends its cycle, finishes every file, exits 0.
  ASSERT_EQ(kill(daemon, SIGTERM), 0);
  const int status = testutil::WaitFor(daemon, absl::Seconds(10));
  daemon = -1;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadText(daemon_log);
  EXPECT_NE(ReadText(daemon_log).find("summary connections="),
            std::string::npos)
      << ReadText(daemon_log);

  const std::map<uint64_t, std::vector<ArchiveFile>> files =
      testutil::ListArchives(dir + "/out", prefix);
  EXPECT_GE(files.size(), 300u + own.size());
  int64_t checked = 0;
  std::map<uint64_t, std::set<std::pair<uint64_t, uint64_t>>> counters;
  for (const auto& [cookie, list] : files) {
    int sequence_zero = 0;
    for (const ArchiveFile& f : list) {
      if (f.sequence == 0) ++sequence_zero;
      counters[cookie] = CheckArchive(f, cookie);
      ++checked;
    }
    EXPECT_EQ(sequence_zero, 1) << "cookie " << cookie;
  }
  EXPECT_GE(checked, 300);
  for (uint64_t c : must_have) {
    EXPECT_EQ(files.count(c), 1u)
        << "connection " << c << " (" << described[c] << ") not archived";
  }
  EXPECT_GE(must_have.size(), 250u);
  for (const OwnConnection& o : own) {
    EXPECT_EQ(counters[o.cookie].count({o.sent, o.received}), 1u)
        << "cookie " << o.cookie << ": no snapshot with bytes_sent=" << o.sent
        << " bytes_received=" << o.received;
  }

  for (size_t i = 1; i < own.size(); ++i) {
    close(own[i].client);
    close(own[i].server);
  }
  close(listeners[0]);
  close(listeners[1]);
  EXPECT_LT(absl::Now() - test_start, absl::Seconds(60));
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
