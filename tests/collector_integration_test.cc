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
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

// Starts `argv` with stdout and stderr appended to `log`; returns its pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits up to `timeout` for `pid` to exit; its wait status, or -1.
int WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (absl::Now() < deadline) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return -1;
}

// Runs `argv` to completion (at most 60 s); its exit code, or -1.
int Run(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = Spawn(argv, log);
  const int status = WaitFor(pid, absl::Seconds(60));
  if (status < 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A connfarm farm with a unique name, torn down (with everything running in
// it) however the test ends.
class Farm {
 public:
  explicit Farm(const std::string& dir)
      : name_(absl::StrCat("ci", getpid() % 100000)), log_(dir + "/farm.log") {}
  ~Farm() {
    if (run_pid_ > 0) {
      kill(run_pid_, SIGTERM);
      if (WaitFor(run_pid_, absl::Seconds(10)) < 0) {
        kill(run_pid_, SIGKILL);
        waitpid(run_pid_, nullptr, 0);
      }
    }
    Run({testutil::ConnfarmPath(), "down", "--name", name_, "--force"}, log_);
  }
  const std::string& name() const { return name_; }
  const std::string& log() const { return log_; }
  std::string Namespace(const char* side) const {
    return absl::StrCat("/var/run/netns/", name_, "-", side);
  }

  bool Up() {
    return Run({testutil::ConnfarmPath(), "up", "--name", name_}, log_) == 0;
  }
  // Starts `connfarm run` and waits until its connections are established.
  bool Start(const std::vector<std::string>& options,
             const std::string& ready_file) {
    std::vector<std::string> argv = {
        testutil::ConnfarmPath(), "run",     "--name", name_,
        "--ready-file",           ready_file};
    argv.insert(argv.end(), options.begin(), options.end());
    run_pid_ = Spawn(argv, log_);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (fs::exists(ready_file)) return true;
      if (waitpid(run_pid_, nullptr, WNOHANG) == run_pid_) {
        run_pid_ = -1;
        return false;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

 private:
  std::string name_;
  std::string log_;
  pid_t run_pid_ = -1;
};

// Runs `fn` on a thread that has entered the network namespace at `ns`:
// sockets it creates belong to that namespace.
void InNamespace(const std::string& ns, const std::function<void()>& fn) {
  std::thread t([&] {
    const int fd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << ns << ": " << std::strerror(errno);
    ASSERT_EQ(setns(fd, CLONE_NEWNET), 0) << std::strerror(errno);
    close(fd);
    fn();
  });
  t.join();
}

void SetTimeouts(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void SendAll(int fd, size_t n) {
  const std::string data(n, 'd');
  size_t done = 0;
  while (done < n) {
    const ssize_t w = send(fd, data.data() + done, n - done, 0);
    ASSERT_GT(w, 0) << std::strerror(errno);
    done += w;
  }
}

void ReceiveAll(int fd, size_t n) {
  std::string buf(n, '\0');
  size_t done = 0;
  while (done < n) {
    const ssize_t r = recv(fd, buf.data() + done, n - done, 0);
    ASSERT_GT(r, 0) << std::strerror(errno);
    done += r;
  }
}

// One connection of the test's own: client in the client namespace, server
// end in the server namespace, and the bytes each way.
struct OwnConnection {
  int client = -1;
  int server = -1;
  uint64_t cookie = 0;
  size_t sent = 0;      // client -> server
  size_t received = 0;  // server -> client
};

sockaddr_storage Address(bool v6, uint16_t port) {
  sockaddr_storage s{};
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&s);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, "fd77::1", &a->sin6_addr);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&s);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, "10.77.0.1", &a->sin_addr);
  }
  return s;
}

socklen_t Length(bool v6) {
  return v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// The archive files under `dir`, by cookie (from the file name), each with
// its sequence number.
struct ArchiveFile {
  std::string path;
  std::string uuid;
  int64_t sequence;
};
std::map<uint64_t, std::vector<ArchiveFile>> ListArchives(
    const std::string& dir, const std::string& prefix) {
  std::map<uint64_t, std::vector<ArchiveFile>> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (name.size() < 11 || name.substr(name.size() - 10) != ".jsonl.zst") {
      continue;
    }
    const std::vector<std::string> parts = absl::StrSplit(name, '.');
    if (parts.size() != 4) continue;
    ArchiveFile f{e.path().string(), parts[0], -1};
    if (!absl::SimpleAtoi(parts[1], &f.sequence)) continue;
    if (f.uuid.rfind(prefix + "_", 0) != 0) continue;
    uint64_t cookie = 0;
    if (!absl::SimpleHexAtoi(f.uuid.substr(prefix.size() + 1), &cookie))
      continue;
    out[cookie].push_back(f);
  }
  return out;
}

// The decoded records of one archive file.
std::vector<parse::ArchivalRecord> Decode(const std::string& path) {
  std::vector<parse::ArchivalRecord> out;
  const std::string text = testutil::ReadZstdFileOrDie(path);
  EXPECT_FALSE(text.empty()) << path;
  EXPECT_EQ(text.back(), '\n') << path;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StatusOr<parse::ArchivalRecord> r = parse::DecodeRecordJson(line);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status();
    if (r.ok()) out.push_back(*std::move(r));
  }
  return out;
}

bool Info(const parse::ArchivalRecord& r, tcp::TcpInfo* info) {
  if (r.attributes.size() <= inetdiag::kInfo ||
      !r.attributes[inetdiag::kInfo].has_value()) {
    return false;
  }
  const std::string& raw = *r.attributes[inetdiag::kInfo];
  *info = tcp::TcpInfo{};
  std::memcpy(info, raw.data(), std::min(raw.size(), sizeof(*info)));
  return true;
}

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

  Farm farm(dir);
  ASSERT_TRUE(farm.Up()) << ReadText(farm.log());
  ASSERT_TRUE(farm.Start({"--conns", "300", "--active", "30", "--churn", "10",
                          "--v6-fraction", "0.2", "--duration", "40"},
                         dir + "/ready"))
      << ReadText(farm.log());

  // The daemon, inside the client namespace.
  const std::string daemon_log = dir + "/tcp-info.log";
  pid_t daemon = Spawn({testutil::ConnfarmPath(), "exec", "--name", farm.name(),
                        "--", testutil::BinaryPath("tcp-info"), "-output",
                        dir + "/out", "-uuid-prefix-file", dir + "/prefix",
                        "--interval=10ms", "-reps", "3000"},
                       daemon_log);
  struct DaemonGuard {
    pid_t* pid;
    ~DaemonGuard() {
      if (*pid > 0 && waitpid(*pid, nullptr, WNOHANG) == 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, nullptr, 0);
      }
    }
  } daemon_guard{&daemon};

  // Our own connections: listeners in the server namespace, clients in the
  // client namespace, known bytes each way.
  constexpr uint16_t kPort = 18577;
  int listeners[2] = {-1, -1};
  InNamespace(farm.Namespace("srv"), [&] {
    for (int v6 = 0; v6 < 2; ++v6) {
      listeners[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      const int one = 1;
      setsockopt(listeners[v6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      sockaddr_storage a = Address(v6, kPort);
      ASSERT_EQ(
          bind(listeners[v6], reinterpret_cast<sockaddr*>(&a), Length(v6)), 0)
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
      sockaddr_storage a = Address(v6, kPort);
      ASSERT_EQ(
          connect(own[i].client, reinterpret_cast<sockaddr*>(&a), Length(v6)),
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
  // entered; sample only from then on, plus a few of its cycles.
  const absl::Time exec_deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < exec_deadline) {
    std::error_code ec;
    const fs::path exe =
        fs::read_symlink(absl::StrCat("/proc/", daemon, "/exe"), ec);
    if (!ec && exe.filename() == "tcp-info") break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Milliseconds(200));
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
        ListArchives(dir + "/out", prefix);
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
  const int status = WaitFor(daemon, absl::Seconds(10));
  daemon = -1;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadText(daemon_log);
  EXPECT_NE(ReadText(daemon_log).find("summary connections="),
            std::string::npos)
      << ReadText(daemon_log);

  const std::map<uint64_t, std::vector<ArchiveFile>> files =
      ListArchives(dir + "/out", prefix);
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
