// The owners layer: cgroup paths, the /proc socket scan with real processes
// (fork, exit, another user), the resolver and the tracker's per-owner sums.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "flows/measurement.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "owners/cgroup_path.h"
#include "owners/cgroup_paths.h"
#include "owners/owner_resolver.h"
#include "owners/owner_tracker.h"
#include "owners/socket_inodes.h"
#include "parse/record_view.h"
#include "prometheus/metric_family.h"
#include "tests/flow_fakes.h"

namespace owners {
namespace {

constexpr char kId[] =
    "3f4e1a0c9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

TEST(CgroupPath, DockerSystemdDriver) {
  const CgroupInfo info =
      ParseCgroupPath(absl::StrCat("/system.slice/docker-", kId, ".scope"));
  EXPECT_EQ(info.container, kId);
  EXPECT_EQ(info.pod, "");
  EXPECT_EQ(info.unit, absl::StrCat("docker-", kId, ".scope"));
}

TEST(CgroupPath, DockerCgroupfsDriver) {
  const CgroupInfo info = ParseCgroupPath(absl::StrCat("/docker/", kId));
  EXPECT_EQ(info.container, kId);
  EXPECT_EQ(info.unit, "");
}

TEST(CgroupPath, PodmanRootlessAndItsConmonIsNoContainer) {
  const std::string user =
      "/user.slice/user-1000.slice/user@1000.service/user.slice/";
  EXPECT_EQ(
      ParseCgroupPath(absl::StrCat(user, "libpod-", kId, ".scope")).container,
      kId);
  const CgroupInfo conmon =
      ParseCgroupPath(absl::StrCat(user, "libpod-conmon-", kId, ".scope"));
  EXPECT_EQ(conmon.container, "");
  EXPECT_EQ(conmon.unit, absl::StrCat("libpod-conmon-", kId, ".scope"));
  EXPECT_EQ(ParseCgroupPath(
                absl::StrCat("/machine.slice/libpod-", kId, ".scope/container"))
                .container,
            kId);
}

TEST(CgroupPath, KubernetesContainerdSystemdDriver) {
  const CgroupInfo info = ParseCgroupPath(absl::StrCat(
      "/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d.slice/"
      "cri-containerd-",
      kId, ".scope"));
  EXPECT_EQ(info.container, kId);
  EXPECT_EQ(info.pod, "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d");
}

TEST(CgroupPath, KubernetesCgroupfsDriver) {
  const CgroupInfo info = ParseCgroupPath(absl::StrCat(
      "/kubepods/besteffort/pod1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d/", kId));
  EXPECT_EQ(info.container, kId);
  EXPECT_EQ(info.pod, "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d");
  EXPECT_EQ(info.unit, "");
}

TEST(CgroupPath, CriO) {
  const CgroupInfo info = ParseCgroupPath(absl::StrCat(
      "/kubepods.slice/kubepods-pod1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d.slice/"
      "crio-",
      kId, ".scope"));
  EXPECT_EQ(info.container, kId);
  EXPECT_EQ(info.pod, "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d");
  EXPECT_EQ(
      ParseCgroupPath(absl::StrCat("/system.slice/crio-conmon-", kId, ".scope"))
          .container,
      "");
}

TEST(CgroupPath, SystemdUnits) {
  EXPECT_EQ(ParseCgroupPath("/system.slice/nginx.service"),
            (CgroupInfo{"", "", "nginx.service"}));
  EXPECT_EQ(ParseCgroupPath("/user.slice/user-1000.slice/user@1000.service/"
                            "app.slice/app-firefox.scope"),
            (CgroupInfo{"", "", "app-firefox.scope"}));
  EXPECT_EQ(ParseCgroupPath("/user.slice/user-1000.slice/session-3.scope"),
            (CgroupInfo{"", "", "session-3.scope"}));
  EXPECT_EQ(ParseCgroupPath("/"), CgroupInfo{});
  EXPECT_EQ(ParseCgroupPath(""), CgroupInfo{});
  // Not 64 hex digits: no container.
  EXPECT_EQ(ParseCgroupPath("/docker/abc123").container, "");
}

// A connected TCP pair on loopback; the fds are closed by the destructor.
struct TcpPair {
  TcpPair() {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(listener, 1), 0);
    EXPECT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), len), 0);
    server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
  }
  ~TcpPair() {
    close(client);
    close(server);
  }
  uint32_t ClientInode() const { return InodeOf(client); }
  static uint32_t InodeOf(int fd) {
    struct stat st;
    EXPECT_EQ(fstat(fd, &st), 0);
    return static_cast<uint32_t>(st.st_ino);
  }
  int client = -1, server = -1;
};

std::string OwnComm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// This process's cgroup v2 path ("0::/path" in /proc/self/cgroup).
std::string OwnCgroupPath() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "0::")) return std::string(rest);
  }
  return "";
}

uint64_t CgroupIdOf(const std::string& path) {
  absl::StatusOr<std::string> mount = FindCgroup2Mount();
  if (!mount.ok()) return 0;
  struct stat st;
  if (stat((*mount + (path == "/" ? "" : path)).c_str(), &st) != 0) return 0;
  return st.st_ino;
}

// Waits for `pid` to exit; true when it exited with 0.
bool Reap(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

TEST(SocketInodes, FindsThisProcessSocket) {
  TcpPair pair;
  SocketInodes inodes;
  EXPECT_GT(inodes.Scan(), 2u);
  const SocketHolders* h = inodes.Find(pair.ClientInode());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(h->count, 1u);
  EXPECT_EQ(inodes.Find(1), nullptr);
}

TEST(SocketInodes, SharedAfterForkNamesLowestPidAndCount) {
  TcpPair pair;
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // holds the inherited sockets until told
    char c;
    (void)!read(go[0], &c, 1);
    _exit(0);
  }
  SocketInodes inodes;
  inodes.Scan();
  const SocketHolders* h = inodes.Find(pair.ClientInode());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->pid, static_cast<uint32_t>(std::min(getpid(), child)));
  EXPECT_EQ(h->count, 2u);
  (void)!write(go[1], "x", 1);
  EXPECT_TRUE(Reap(child));
  inodes.Scan();
  h = inodes.Find(pair.ClientInode());
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->count, 1u);
  close(go[0]);
  close(go[1]);
}

TEST(OwnerResolver, NamesProcessUserAndCgroup) {
  TcpPair pair;
  OwnerResolver resolver({});
  SocketKey key;
  key.cookie = 1;
  key.inode = pair.ClientInode();
  key.uid = getuid();
  const std::string cgroup = OwnCgroupPath();
  key.cgroup_id = CgroupIdOf(cgroup);
  std::optional<Owner> owner =
      resolver.TryResolve(key, std::chrono::steady_clock::now());
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(owner->holders, 1u);
  EXPECT_EQ(owner->comm, OwnComm());
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe));
  ASSERT_GT(n, 0);
  EXPECT_EQ(owner->exe, std::string(exe, n));
  EXPECT_EQ(owner->uid, getuid());
  EXPECT_EQ(owner->user, getuid() == 0 ? "root" : owner->user);
  EXPECT_FALSE(owner->user.empty());
  ASSERT_NE(key.cgroup_id, 0u);
  EXPECT_EQ(owner->cgroup, cgroup);
  EXPECT_EQ(resolver.scans(), 1u);
  // Known now: no second scan.
  owner = resolver.TryResolve(key, std::chrono::steady_clock::now());
  EXPECT_EQ(resolver.scans(), 1u);
}

TEST(OwnerResolver, UnknownInodeRescansAtABoundedRateThenIsUnknown) {
  OwnerResolverOptions options;
  options.min_rescan = std::chrono::milliseconds(2000);
  options.max_scan_share = 0;  // min_rescan alone
  OwnerResolver resolver(options);
  SocketKey key;
  key.inode = 1;  // no socket has it
  key.uid = 4242;
  key.cgroup_id = CgroupIdOf("/");
  const auto asked = std::chrono::steady_clock::now();
  std::optional<Owner> owner = resolver.TryResolve(key, asked);
  ASSERT_TRUE(owner.has_value());  // the first scan came after it was asked
  EXPECT_EQ(owner->pid, 0u);
  EXPECT_EQ(owner->comm, "");
  // Gone from /proc, the socket keeps the kernel's uid and cgroup.
  EXPECT_EQ(owner->uid, 4242u);
  EXPECT_EQ(owner->user, "4242");
  EXPECT_EQ(owner->cgroup, "/");
  // Asked after that scan: within min_rescan, no scan, ask again later.
  const auto later = std::chrono::steady_clock::now();
  EXPECT_FALSE(resolver.TryResolve(key, later).has_value());
  EXPECT_EQ(resolver.scans(), 1u);
  std::this_thread::sleep_until(resolver.next_scan());
  EXPECT_TRUE(resolver.TryResolve(key, later).has_value());
  EXPECT_EQ(resolver.scans(), 2u);
}

TEST(OwnerResolver, ProcessGoneKeepsUidAndCgroup) {
  // A child makes a socket, says its inode, and exits: the socket (held by
  // no one now) resolves to no process but keeps the kernel's uid/cgroup.
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const uint32_t inode = TcpPair::InodeOf(fd);
    (void)!write(out[1], &inode, sizeof(inode));
    _exit(0);
  }
  uint32_t inode = 0;
  ASSERT_EQ(read(out[0], &inode, sizeof(inode)), 4);
  ASSERT_TRUE(Reap(child));
  close(out[0]);
  close(out[1]);
  OwnerResolver resolver({});
  SocketKey key{7, inode, 1000, CgroupIdOf(OwnCgroupPath())};
  std::optional<Owner> owner =
      resolver.TryResolve(key, std::chrono::steady_clock::now());
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, 0u);
  EXPECT_EQ(owner->holders, 0u);
  EXPECT_EQ(owner->uid, 1000u);
  EXPECT_EQ(owner->cgroup, OwnCgroupPath());
}

TEST(OwnerResolver, AnotherUsersProcessIsUnknownNeverGuessed) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  TcpPair pair;  // held by this (root) process
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const uint32_t root_inode = pair.ClientInode();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pair.client);  // only the parent (root) holds it now
    close(pair.server);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(1);
    prctl(PR_SET_DUMPABLE, 1);  // its own /proc/self/fd readable again
    const int own = socket(AF_INET, SOCK_STREAM, 0);
    OwnerResolver resolver({});
    const auto now = std::chrono::steady_clock::now();
    std::optional<Owner> theirs =
        resolver.TryResolve(SocketKey{1, root_inode, 0, 0}, now);
    std::optional<Owner> mine =
        resolver.TryResolve(SocketKey{2, TcpPair::InodeOf(own), 65534, 0}, now);
    uint32_t got[2] = {theirs ? theirs->pid : 99, mine ? mine->pid : 99};
    (void)!write(out[1], got, sizeof(got));
    _exit(0);
  }
  uint32_t got[2] = {};
  ASSERT_EQ(read(out[0], got, sizeof(got)), 8);
  EXPECT_TRUE(Reap(child));
  EXPECT_EQ(got[0], 0u);                            // root's: unknown
  EXPECT_EQ(got[1], static_cast<uint32_t>(child));  // its own: known
  close(out[0]);
  close(out[1]);
}

// Records every measurement.
class Measurements : public flows::MeasurementConsumer {
 public:
  void ConsumeMeasurement(flows::Measurement m) override {
    got.push_back(std::move(m));
  }
  std::vector<flows::Measurement> got;
};

// An inet_diag message for a socket with `inode`, `uid`, cgroup id and
// the counters.
std::string Message(uint64_t cookie, uint32_t inode, uint32_t uid,
                    uint64_t cgroup_id, uint64_t sent, uint64_t received) {
  inetdiag::Msg msg{};
  msg.family = AF_INET;
  msg.state = 1;
  msg.inode = inode;
  msg.uid = uid;
  std::memcpy(msg.id.cookie, &cookie, sizeof(cookie));
  tcp::TcpInfo info{};
  info.bytes_sent = sent;
  info.bytes_received = received;
  info.segs_out = static_cast<uint32_t>(sent / 1000);
  info.segs_in = static_cast<uint32_t>(received / 1000);
  std::string out = flows_test::MakeInfoMessage(msg, info);
  if (cgroup_id != 0) {
    collector_test::AppendAttribute(
        inetdiag::kCgroupId,
        std::string(reinterpret_cast<const char*>(&cgroup_id), 8), &out);
  }
  return out;
}

parse::RecordView View(const std::string& payload) {
  absl::StatusOr<parse::RecordView> v = parse::SplitMessage(payload);
  EXPECT_TRUE(v.ok());
  return *v;
}

collector::CycleStats Cycle(int64_t n, absl::Duration since_start) {
  collector::CycleStats s;
  s.cycle = n;
  s.start = absl::FromUnixSeconds(1700000000) + since_start;
  s.monotonic_start = std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(absl::ToInt64Nanoseconds(since_start) + 1));
  return s;
}

TEST(OwnerTracker, CreditsEveryByteToItsOwnerOnceResolved) {
  TcpPair pair;
  Measurements measurements;
  OwnerTrackerOptions options;
  options.interval = absl::Seconds(10);
  options.measurements = &measurements;
  OwnerTracker tracker(options);
  const std::string comm = OwnComm();
  const uint64_t cgroup_id = CgroupIdOf(OwnCgroupPath());
  const uint32_t uid = getuid();
  const parse::Timestamp t = parse::Timestamp::FromUnixNanos(1);
  // Bytes move before the owner is known: credited once it is.
  const std::string first =
      Message(11, pair.ClientInode(), uid, cgroup_id, 5000, 2000);
  tracker.OnFlowOpen(11, t, View(first));
  tracker.OnSnapshot(11, t, View(first), parse::Change::kNew);
  // A connection no poll saw (a destroy event: no inode, uid, cgroup).
  const std::string brief = Message(12, 0, 0, 0, 700, 300);
  tracker.OnFlowOpen(12, t, View(brief));
  tracker.OnSnapshot(12, t, View(brief), parse::Change::kNew);
  tracker.OnFlowClose(12, t, collector::CloseReason::kDestroyed);
  flows::FlowOwner partial;
  tracker.FillOwner(12, &partial);
  EXPECT_EQ(partial.pid, 0u);
  EXPECT_EQ(partial.uid, flows::FlowOwner::kUnknownUid);
  ASSERT_TRUE(tracker.WaitResolved(absl::Seconds(10)));
  tracker.OnCycle(Cycle(1, absl::Seconds(1)));

  const Owner* owner = tracker.Find(11);
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ(owner->pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(owner->comm, comm);
  flows::FlowOwner columns;
  tracker.FillOwner(11, &columns);
  EXPECT_EQ(columns.pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(columns.comm, comm);
  EXPECT_EQ(columns.uid, uid);
  EXPECT_EQ(columns.cgroup, OwnCgroupPath());

  // Later bytes, and the close's final delta.
  const std::string later =
      Message(11, pair.ClientInode(), uid, cgroup_id, 15000, 4000);
  tracker.OnSnapshot(11, t, View(later), parse::Change::kOther);
  tracker.OnFlowClose(11, t, collector::CloseReason::kDestroyed);
  tracker.OnCycle(Cycle(2, absl::Seconds(2)));
  // Closed connections are forgotten the cycle after.
  tracker.OnCycle(Cycle(3, absl::Seconds(3)));
  EXPECT_EQ(tracker.connections(), 0u);

  std::vector<prometheus::MetricFamily> families =
      tracker.collectable()->Collect();
  auto value = [&](const std::string& name, const std::string& label) {
    for (const auto& f : families) {
      if (f.name != name) continue;
      for (const auto& m : f.metric) {
        if (!m.label.empty() && m.label[0].value == label) {
          return m.counter.value;
        }
      }
    }
    return -1.0;
  };
  EXPECT_EQ(value("tcpinfo_owner_process_sent_bytes_total", comm), 15000);
  EXPECT_EQ(value("tcpinfo_owner_process_received_bytes_total", comm), 4000);
  EXPECT_EQ(value("tcpinfo_owner_process_sent_segments_total", comm), 15);
  EXPECT_EQ(value("tcpinfo_owner_process_sent_bytes_total", "unknown"), 700);
  EXPECT_EQ(value("tcpinfo_owner_user_received_bytes_total", "unknown"), 300);
  EXPECT_EQ(value("tcpinfo_owner_user_sent_bytes_total", owner->user), 15000);
  bool hook_gauge = false;
  for (const auto& f : families) {
    if (f.name == "tcpinfo_owners_hook") {
      ASSERT_EQ(f.metric.size(), 1u);
      EXPECT_EQ(f.metric[0].label[0].value, "proc_only");
      EXPECT_EQ(f.metric[0].gauge.value, 1);
      hook_gauge = true;
    }
  }
  EXPECT_TRUE(hook_gauge);

  // The interval's measurements: one per process name that moved bytes.
  EXPECT_TRUE(measurements.got.empty());
  tracker.OnCycle(Cycle(4, absl::Seconds(12)));
  ASSERT_EQ(measurements.got.size(), 2u);
  for (const flows::Measurement& m : measurements.got) {
    EXPECT_EQ(m.kind, flows::MeasurementKind::kProcessTraffic);
    ASSERT_EQ(m.tags.size(), 1u);
    EXPECT_EQ(m.tags[0].first, "name");
    ASSERT_EQ(m.fields.size(), 2u);
    EXPECT_EQ(m.fields[0].first, "sent_bytes_last");
    EXPECT_EQ(m.fields[1].first, "recv_bytes_last");
    const bool ours = m.tags[0].second == comm;
    EXPECT_TRUE(ours || m.tags[0].second == "unknown");
    EXPECT_EQ(std::get<int64_t>(m.fields[0].second), ours ? 15000 : 700);
    EXPECT_EQ(std::get<int64_t>(m.fields[1].second), ours ? 4000 : 300);
  }
  // Nothing moved in the next interval: no points.
  tracker.OnCycle(Cycle(5, absl::Seconds(23)));
  EXPECT_EQ(measurements.got.size(), 2u);
}

TEST(OwnerTracker, SeriesCapSumsTheRestUnderOther) {
  OwnerTrackerOptions options;
  options.max_series = 1;
  OwnerTracker tracker(options);
  const parse::Timestamp t = parse::Timestamp::FromUnixNanos(1);
  // Two users (sockets no process holds): the user series capped at one.
  for (uint32_t uid : {21, 22}) {
    const std::string m = Message(uid, 1, uid, 0, 100 * uid, 0);
    tracker.OnFlowOpen(uid, t, View(m));
    tracker.OnSnapshot(uid, t, View(m), parse::Change::kNew);
  }
  ASSERT_TRUE(tracker.WaitResolved(absl::Seconds(10)));
  tracker.OnCycle(Cycle(1, absl::Seconds(1)));
  std::map<std::string, double> users;
  double overflow = -1;
  for (const auto& f : tracker.collectable()->Collect()) {
    if (f.name == "tcpinfo_owner_user_sent_bytes_total") {
      for (const auto& m : f.metric) users[m.label[0].value] = m.counter.value;
    }
    if (f.name == "tcpinfo_owner_user_series_overflow_total") {
      overflow = f.metric[0].counter.value;
    }
  }
  ASSERT_EQ(users.size(), 2u);
  const bool first_is_21 = users.count("21") == 1;
  EXPECT_EQ(users[first_is_21 ? "21" : "22"], first_is_21 ? 2100 : 2200);
  EXPECT_EQ(users["other"], first_is_21 ? 2200 : 2100);
  EXPECT_EQ(overflow, 1);
}

}  // namespace
}  // namespace owners
