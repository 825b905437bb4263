#include "tests/testutil/farm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tests/testutil/paths.h"

namespace testutil {

namespace fs = std::filesystem;

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

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

bool WaitForExe(pid_t pid, const std::string& name, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::error_code ec;
    const fs::path exe =
        fs::read_symlink(absl::StrCat("/proc/", pid, "/exe"), ec);
    if (!ec && exe.filename() == name) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

bool WaitUntilPolling(pid_t pid, absl::Duration timeout) {
  const std::string path = absl::StrCat("/proc/", pid, "/syscall");
  const std::string ppoll = absl::StrCat(SYS_ppoll, " ");
  const absl::Time deadline = absl::Now() + timeout;
  int seen = 0;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    if (!in) return false;  // gone
    std::string line;
    std::getline(in, line);
    seen = absl::StartsWith(line, ppoll) ? seen + 1 : 0;
    if (seen == 2) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ProcStatusField(pid_t pid, absl::string_view key) {
  const std::string status = ReadText(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, ":")) {
      return absl::StrJoin(
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
    }
  }
  return "";
}

int64_t ProcStatusKib(pid_t pid, absl::string_view key) {
  const std::vector<std::string> words =
      absl::StrSplit(ProcStatusField(pid, key), ' ');
  int64_t kib;
  if (words.size() != 2 || words[1] != "kB" ||
      !absl::SimpleAtoi(words[0], &kib)) {
    return -1;
  }
  return kib;
}

std::string AsanOptionsWith(absl::string_view extra) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  if (asan == nullptr || *asan == '\0') return std::string(extra);
  return absl::StrCat(asan, ":", extra);
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

ProcessGuard::~ProcessGuard() {
  if (*pid > 0 && waitpid(*pid, nullptr, WNOHANG) == 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
  }
}

Farm::Farm(const std::string& dir, const std::string& tag)
    : name_(absl::StrCat(tag, getpid() % 100000)), log_(dir + "/farm.log") {}

Farm::~Farm() {
  if (run_pid_ > 0) {
    kill(run_pid_, SIGTERM);
    if (WaitFor(run_pid_, absl::Seconds(10)) < 0) {
      kill(run_pid_, SIGKILL);
      waitpid(run_pid_, nullptr, 0);
    }
  }
  Run({ConnfarmPath(), "down", "--name", name_, "--force"}, log_);
}

std::string Farm::Namespace(const char* side) const {
  return absl::StrCat("/var/run/netns/", name_, "-", side);
}

bool Farm::Up() {
  return Run({ConnfarmPath(), "up", "--name", name_}, log_) == 0;
}

bool Farm::Start(const std::vector<std::string>& options,
                 const std::string& ready_file) {
  std::vector<std::string> argv = {ConnfarmPath(), "run",          "--name",
                                   name_,          "--ready-file", ready_file};
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
    const ssize_t w = send(fd, data.data() + done, n - done, MSG_NOSIGNAL);
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

void ListenOnServer(const Farm& farm, uint16_t port, int fds[2]) {
  InNamespace(farm.Namespace("srv"), [&] {
    for (int v6 = 0; v6 < 2; ++v6) {
      fds[v6] = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fds[v6], 0) << std::strerror(errno);
      const int one = 1;
      setsockopt(fds[v6], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      SetTimeouts(fds[v6]);
      const sockaddr_storage a = Address(v6, port);
      ASSERT_EQ(
          bind(fds[v6], reinterpret_cast<const sockaddr*>(&a), Length(v6)), 0)
          << std::strerror(errno);
      ASSERT_EQ(listen(fds[v6], 64), 0) << std::strerror(errno);
    }
  });
}

void RunExchanges(const Farm& farm, const int listeners[2], uint16_t port,
                  std::vector<Exchange>* exchanges) {
  std::thread server([&] {
    for (const Exchange& e : *exchanges) {
      if (::testing::Test::HasFatalFailure()) break;
      const int fd = accept(listeners[e.v6], nullptr, nullptr);
      ASSERT_GE(fd, 0) << "accept: " << std::strerror(errno);
      SetTimeouts(fd);
      ReceiveAll(fd, e.up);
      SendAll(fd, e.down);
      char c;
      EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "no EOF from the client";
      close(fd);
    }
  });
  InNamespace(farm.Namespace("cli"), [&] {
    for (Exchange& e : *exchanges) {
      if (::testing::Test::HasFatalFailure()) break;
      const int fd = socket(e.v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fd, 0) << std::strerror(errno);
      SetTimeouts(fd);
      const sockaddr_storage a = Address(e.v6, port);
      ASSERT_EQ(
          connect(fd, reinterpret_cast<const sockaddr*>(&a), Length(e.v6)), 0)
          << std::strerror(errno);
      socklen_t len = sizeof(e.cookie);
      ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &e.cookie, &len), 0);
      SendAll(fd, e.up);
      ReceiveAll(fd, e.down);
      absl::SleepFor(e.lifetime);
      close(fd);
    }
  });
  server.join();
}

std::map<uint64_t, std::vector<ArchiveFile>> ListArchives(
    const std::string& dir, const std::string& prefix) {
  std::map<uint64_t, std::vector<ArchiveFile>> out;
  if (!fs::exists(dir)) return out;
  constexpr absl::string_view kSuffix = ".jsonl.zst";
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    if (!absl::EndsWith(name, kSuffix)) continue;
    const std::vector<std::string> parts = absl::StrSplit(name, '.');
    if (parts.size() != 4) continue;
    ArchiveFile f{e.path().string(), parts[0], -1};
    if (!absl::SimpleAtoi(parts[1], &f.sequence)) continue;
    if (!absl::StartsWith(f.uuid, prefix + "_")) continue;
    uint64_t cookie = 0;
    if (!absl::SimpleHexAtoi(f.uuid.substr(prefix.size() + 1), &cookie)) {
      continue;
    }
    out[cookie].push_back(f);
  }
  return out;
}

std::vector<parse::ArchivalRecord> Decode(const std::string& path) {
  std::vector<parse::ArchivalRecord> out;
  const std::string text = ReadZstdFileOrDie(path);
  EXPECT_FALSE(text.empty()) << path;
  if (!text.empty()) {
    EXPECT_EQ(text.back(), '\n') << path;
  }
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

}  // namespace testutil
