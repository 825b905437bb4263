// The exact-request path of adaptive polling (collector/exact_socket.h):
// what one exact inet_diag request costs, per request, as the batch grows,
// split into user and kernel (system) time with getrusage.
//
// It opens kConnections loopback connections of its own (in the current
// namespace; no root needed), finds their inet_diag ids in a dump, and
// asks ExactSocket::Query about `batch` of them per iteration (the first
// `batch` connections, a hash lookup each in the kernel), handing each
// reply to a handler that only reads its cookie, as the collector's cheap
// path does before its cache lookup. Counters: user_us and sys_us per
// request, sends and receives (recvmmsg calls) per query.
//
//   build/bin/exact_bench
//   build/bin/exact_bench --benchmark_filter='ExactQuery/1000'
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "collector/dump_socket.h"
#include "collector/exact_socket.h"
#include "inetdiag/inet_diag.h"

namespace {

constexpr int kConnections = 1000;

double Seconds(const struct timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; }

// Loopback connections, held for the whole run, and their ids.
struct Connections {
  std::vector<int> fds;
  std::vector<collector::ExactTarget> targets;

  Connections() {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listener, kConnections);
    socklen_t len = sizeof(addr);
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    for (int i = 0; i < kConnections; ++i) {
      const int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        close(c);
        break;
      }
      fds.push_back(c);
      fds.push_back(accept(listener, nullptr, nullptr));
    }
    fds.push_back(listener);
    std::unique_ptr<collector::DumpSocket> dump =
        *collector::DumpSocket::Open();
    dump->Dump(inetdiag::kAfInet, [&](const collector::DumpMessage& m) {
      inetdiag::Msg msg;
      std::memcpy(&msg, m.payload, sizeof(msg));
      // The client ends: destination port the listener's.
      if (msg.id.dport_be == addr.sin_port) {
        targets.push_back({msg.family, msg.id});
      }
    });
  }
  ~Connections() {
    for (int fd : fds) close(fd);
  }
};

Connections& Held() {
  static Connections* c = new Connections();
  return *c;
}

void BM_ExactQuery(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  Connections& held = Held();
  if (held.targets.size() < batch) {
    state.SkipWithError("not enough connections");
    return;
  }
  std::unique_ptr<collector::ExactSocket> exact =
      *collector::ExactSocket::Open();
  const absl::Span<const collector::ExactTarget> targets(held.targets.data(),
                                                         batch);
  uint64_t sum = 0;
  int64_t requests = 0, sends = 0, receives = 0, incomplete = 0;
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  for (auto _ : state) {
    const collector::ExactResult r = exact->Query(
        targets,
        [&](const collector::DumpMessage& m) {
          sum += inetdiag::CookieOfMsg(m.payload);
        },
        [](size_t) {});
    requests += r.requests;
    sends += r.sends;
    receives += r.receives;
    incomplete += !r.complete;
  }
  getrusage(RUSAGE_SELF, &after);
  benchmark::DoNotOptimize(sum);
  const double n = static_cast<double>(std::max<int64_t>(1, requests));
  state.counters["user_us"] =
      (Seconds(after.ru_utime) - Seconds(before.ru_utime)) * 1e6 / n;
  state.counters["sys_us"] =
      (Seconds(after.ru_stime) - Seconds(before.ru_stime)) * 1e6 / n;
  const double queries = static_cast<double>(state.iterations());
  state.counters["sends"] = sends / queries;
  state.counters["receives"] = receives / queries;
  state.counters["incomplete"] = static_cast<double>(incomplete);
  state.counters["batch_size"] = static_cast<double>(exact->batch_size());
  state.SetItemsProcessed(requests);
}
BENCHMARK(BM_ExactQuery)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
