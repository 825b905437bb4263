// The floor of a polling cycle: what the kernel and a bare libmnl loop cost
// to dump every TCP socket of this network namespace, with exactly the
// request tcp-info sends (AF_INET6 then AF_INET, inetdiag::MakeDumpRequest),
// doing nothing with the replies but walking them. Everything tcp-info does
// on top is measured against this.
//
//   BM_DumpFloor       bare libmnl: sendto, recvfrom (64 KiB), mnl_cb_run,
//                      cycles back to back (warm caches: a lower bound)
//   BM_DumpFloor/10    the same, scheduled as the daemon schedules its
//                      cycles at its default -interval: each starts 10 ms
//                      after the previous one started, or at once when that
//                      one took longer (the fair floor to compare it with:
//                      caches as cold, or as warm, as the daemon's)
//   BM_DumpFloor/100   the same at -interval 100ms
//   BM_DumpSocket      collector::DumpSocket with a handler that only counts
//
// Run it where the connections are, e.g.
//   connfarm run --name F --conns 10000 ... &
//   connfarm exec --name F -- build/bin/dump_bench
// Reported time is CPU (user + sys) per cycle; counters give the sockets per
// cycle and the CPU per socket.
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "benchmark/benchmark.h"
#include "collector/dump_socket.h"
#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"

namespace {

constexpr size_t kBufferBytes = collector::DumpSocket::kReceiveBufferBytes;

int CountMessage(const struct nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type == inetdiag::kSockDiagByFamily) {
    ++*static_cast<int64_t*>(data);
  }
  return MNL_CB_OK;
}

// One bare dump of `family`; the number of sockets, or -1 on error.
int64_t BareDump(struct mnl_socket* nl, char* buffer, uint8_t family,
                 uint32_t sequence) {
  const inetdiag::DumpRequest request =
      inetdiag::MakeDumpRequest(family, sequence);
  if (mnl_socket_sendto(nl, &request, sizeof(request)) < 0) return -1;
  const unsigned port_id = mnl_socket_get_portid(nl);
  int64_t sockets = 0;
  while (true) {
    const ssize_t n = mnl_socket_recvfrom(nl, buffer, kBufferBytes);
    if (n <= 0) return -1;
    const int r =
        mnl_cb_run(buffer, n, sequence, port_id, CountMessage, &sockets);
    if (r == MNL_CB_STOP) return sockets;
    if (r == MNL_CB_ERROR) return -1;
  }
}

void BM_DumpFloor(benchmark::State& state) {
  struct mnl_socket* nl = mnl_socket_open(NETLINK_SOCK_DIAG);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    state.SkipWithError("cannot open NETLINK_SOCK_DIAG");
    return;
  }
  int size = collector::DumpSocket::kKernelReceiveBufferBytes;
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  auto buffer = std::make_unique<uint64_t[]>(kBufferBytes / 8);
  char* data = reinterpret_cast<char*>(buffer.get());
  uint32_t sequence = 0;
  int64_t sockets = 0;
  const auto interval = std::chrono::milliseconds(state.range(0));
  auto next = std::chrono::steady_clock::now();
  for (auto _ : state) {
    // Sleeping costs no CPU, so it does not count in the process CPU time.
    std::this_thread::sleep_until(next);
    next = std::chrono::steady_clock::now() + interval;
    for (uint8_t family : {inetdiag::kAfInet6, inetdiag::kAfInet}) {
      const int64_t n = BareDump(nl, data, family, ++sequence);
      if (n < 0) {
        state.SkipWithError("dump failed");
        break;
      }
      sockets += n;
    }
  }
  mnl_socket_close(nl);
  const double cycles = static_cast<double>(state.iterations());
  state.counters["sockets"] = cycles > 0 ? sockets / cycles : 0;
  state.counters["cpu_per_socket"] = benchmark::Counter(
      static_cast<double>(sockets),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DumpFloor)->Arg(0)->MeasureProcessCPUTime();
BENCHMARK(BM_DumpFloor)->Arg(10)->Iterations(500)->MeasureProcessCPUTime();
BENCHMARK(BM_DumpFloor)->Arg(100)->Iterations(60)->MeasureProcessCPUTime();

void BM_DumpSocket(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<collector::DumpSocket>> socket =
      collector::DumpSocket::Open();
  if (!socket.ok()) {
    state.SkipWithError("cannot open NETLINK_SOCK_DIAG");
    return;
  }
  int64_t sockets = 0;
  for (auto _ : state) {
    for (uint8_t family : {inetdiag::kAfInet6, inetdiag::kAfInet}) {
      const collector::DumpResult r = (*socket)->Dump(
          family, [&](const collector::DumpMessage&) { ++sockets; });
      if (!r.complete) state.SkipWithError("incomplete dump");
    }
  }
  const double cycles = static_cast<double>(state.iterations());
  state.counters["sockets"] = cycles > 0 ? sockets / cycles : 0;
  state.counters["cpu_per_socket"] = benchmark::Counter(
      static_cast<double>(sockets),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DumpSocket)->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
