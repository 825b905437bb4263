// The owners layer's costs: a /proc/PID/fd scan (per descriptor of the
// host, and with 100,000 more held by a child), one OwnerTracker cycle at
// 10,000 connections (snapshots of every connection, owners resolved) and
// the tracker's heap per connection.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/memory.h"
#include "benchmark/benchmark.h"
#include "collector/observer.h"
#include "inetdiag/inet_diag.h"
#include "owners/owner_tracker.h"
#include "owners/socket_inodes.h"
#include "parse/record_view.h"
#include "tcp/tcp_info.h"

namespace {

void BM_ScanHost(benchmark::State& state) {
  owners::SocketInodes inodes;
  size_t fds = 0;
  for (auto _ : state) fds = inodes.Scan();
  state.counters["fds"] = static_cast<double>(fds);
  state.counters["ns_per_fd"] = benchmark::Counter(
      static_cast<double>(fds) * state.iterations(),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ScanHost)->Unit(benchmark::kMillisecond)->Iterations(5);

// Children holding 100,000 more descriptors (sockets; 17,000 each, within
// the usual 20,000 hard limit) while the scan runs.
void BM_ScanHostWith100kMoreFds(benchmark::State& state) {
  constexpr int kChildren = 6, kEach = 17000;
  int ready[2];
  if (pipe(ready) != 0) return;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t child = fork();
    if (child == 0) {
      rlimit r;
      getrlimit(RLIMIT_NOFILE, &r);
      r.rlim_cur = r.rlim_max;
      setrlimit(RLIMIT_NOFILE, &r);
      const int s = socket(AF_INET, SOCK_STREAM, 0);
      int held = 0;
      for (; held < kEach; ++held) {
        if (dup(s) < 0) break;
      }
      (void)!write(ready[1], &held, sizeof(held));
      pause();
      _exit(0);
    }
    children.push_back(child);
  }
  int held = 0;
  for (int c = 0; c < kChildren; ++c) {
    int n = 0;
    (void)!read(ready[0], &n, sizeof(n));
    held += n;
  }
  owners::SocketInodes inodes;
  size_t fds = 0;
  for (auto _ : state) fds = inodes.Scan();
  for (pid_t child : children) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  close(ready[0]);
  close(ready[1]);
  state.counters["fds"] = static_cast<double>(fds);
  state.counters["child_fds"] = held;
  state.counters["ns_per_fd"] = benchmark::Counter(
      static_cast<double>(fds) * state.iterations(),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ScanHostWith100kMoreFds)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

std::string Message(uint64_t cookie, uint64_t sent) {
  inetdiag::Msg msg{};
  msg.family = 2;
  msg.state = 1;
  msg.inode = 1;  // held by no process: resolves to no process, quickly
  msg.uid = 1000;
  std::memcpy(msg.id.cookie, &cookie, sizeof(cookie));
  tcp::TcpInfo info{};
  info.bytes_sent = sent;
  info.bytes_received = sent / 2;
  std::string out(reinterpret_cast<const char*>(&msg), sizeof(msg));
  const uint16_t len = 4 + sizeof(info), type = inetdiag::kInfo;
  out.append(reinterpret_cast<const char*>(&len), 2);
  out.append(reinterpret_cast<const char*>(&type), 2);
  out.append(reinterpret_cast<const char*>(&info), sizeof(info));
  return out;
}

// One cycle's observer work at 10,000 connections that all moved.
void BM_TrackerCycle10k(benchmark::State& state) {
  constexpr int kConns = 10000;
  owners::OwnerTrackerOptions o;
  o.resolver.max_scan_share = 0;
  o.resolver.min_rescan = std::chrono::milliseconds(0);
  std::vector<std::string> messages;
  for (int i = 0; i < kConns; ++i) messages.push_back(Message(i + 1, 1000));
  const size_t heap_before = bench::HeapBytes();
  owners::OwnerTracker tracker(o);
  const parse::Timestamp t = parse::Timestamp::FromUnixNanos(1);
  for (int i = 0; i < kConns; ++i) {
    absl::StatusOr<parse::RecordView> v = parse::SplitMessage(messages[i]);
    tracker.OnFlowOpen(i + 1, t, *v);
    tracker.OnSnapshot(i + 1, t, *v, parse::Change::kNew);
  }
  tracker.WaitResolved(absl::Seconds(60));
  collector::CycleStats stats;
  tracker.OnCycle(stats);
  const size_t heap_after = bench::HeapBytes();
  uint64_t sent = 1000;
  std::vector<parse::RecordView> views(kConns);
  for (auto _ : state) {
    state.PauseTiming();
    sent += 100;
    for (int i = 0; i < kConns; ++i) {
      messages[i] = Message(i + 1, sent);
      views[i] = *parse::SplitMessage(messages[i]);
    }
    state.ResumeTiming();
    for (int i = 0; i < kConns; ++i) {
      tracker.OnSnapshot(i + 1, t, views[i], parse::Change::kOther);
    }
    tracker.OnCycle(stats);
  }
  state.counters["heap_bytes_per_conn"] =
      static_cast<double>(heap_after - heap_before) / kConns;
}
BENCHMARK(BM_TrackerCycle10k)->Unit(benchmark::kMicrosecond)->Iterations(20);

}  // namespace

BENCHMARK_MAIN();
