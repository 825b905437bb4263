// What tcp-info adds to each polling cycle in user space, per socket, on
// real M-Lab snapshots (the long NDT connection, tcp_info grown to this
// kernel's 280 bytes, one cookie per socket), with the real cache and saver:
//
//   BM_WalkDumpBuffer      netlink message walk of a real dump (420 replies)
//   BM_CycleUnchanged/N    a whole cycle over N sockets, none changed
//   BM_CycleChanged/N      the same with 10 % of them changed every cycle
//                          (their snapshots written: JSON, zstd, files)
//
// Times are process CPU (all threads, user + sys) per cycle; "per_socket"
// divides by the sockets in the cycle. Compare with dump_bench's floor.
#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/mlab_records.h"
#include "benchmark/benchmark.h"
#include "collector/collector.h"
#include "collector/netlink_dump.h"
#include "inetdiag/inet_diag.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"

namespace {

// The netlink payload of `r`: inet_diag_msg then its attributes.
std::string Payload(const parse::ArchivalRecord& r) {
  std::string out = r.raw_idm;
  for (size_t type = 0; type < r.attributes.size(); ++type) {
    if (!r.attributes[type].has_value()) continue;
    const std::string& a = *r.attributes[type];
    const uint16_t len = static_cast<uint16_t>(4 + a.size());
    const uint16_t t = static_cast<uint16_t>(type);
    out.append(reinterpret_cast<const char*>(&len), 2);
    out.append(reinterpret_cast<const char*>(&t), 2);
    out += a;
    out.append((4 - out.size() % 4) % 4, '\0');
  }
  return out;
}

// Replays N payloads the way the kernel delivers them: copied, about 32 KiB
// at a time, into one small receive buffer that is reused (so that, as in
// the daemon, the messages are hot in cache and only the cache's own state
// is not). The copy stands for the kernel's copy_to_user.
class ReplaySource : public collector::DumpSource {
 public:
  static constexpr size_t kChunk = 32 * 1024;

  explicit ReplaySource(size_t n) {
    const std::vector<parse::ArchivalRecord>& records = bench::LongConnection();
    for (size_t i = 0; i < n; ++i) {
      const std::string p =
          Payload(bench::AsConnection(records[i % records.size()], 1000 + i));
      offsets_.push_back(bytes_.size());
      sizes_.push_back(p.size());
      bytes_ += p;
    }
    buffer_.resize(kChunk + 4096);
  }

  collector::DumpResult Dump(uint8_t family,
                             collector::DumpMessageHandler handler) override {
    collector::DumpResult r;
    r.family = family;
    r.complete = true;
    if (family != inetdiag::kAfInet) return r;
    size_t i = 0;
    while (i < offsets_.size()) {
      const absl::Time now = absl::Now();
      const size_t first = i, base = offsets_[first];
      while (i < offsets_.size() && offsets_[i] + sizes_[i] - base <= kChunk) {
        ++i;
      }
      const size_t end = offsets_[i - 1] + sizes_[i - 1];
      std::memcpy(buffer_.data(), bytes_.data() + base, end - base);
      for (size_t k = first; k < i; ++k) {
        handler({buffer_.data() + (offsets_[k] - base), sizes_[k], now});
        ++r.messages;
      }
    }
    return r;
  }

  // Moves the byte counters of every `stride`-th socket.
  void Change(size_t stride, uint64_t bump) {
    for (size_t i = 0; i < offsets_.size(); i += stride) {
      char* p = bytes_.data() + offsets_[i] + sizeof(inetdiag::Msg);
      // INFO is the second attribute of these records (after MEMINFO).
      uint16_t len;
      std::memcpy(&len, p, 2);
      char* info = p + ((len + 3) & ~3) + 4;
      uint64_t acked;
      std::memcpy(&acked, info + offsetof(tcp::TcpInfo, bytes_acked), 8);
      acked += bump;
      std::memcpy(info + offsetof(tcp::TcpInfo, bytes_acked), &acked, 8);
    }
  }

 private:
  std::string bytes_;
  std::vector<size_t> offsets_, sizes_;
  std::vector<char> buffer_;
};

std::unique_ptr<saver::Saver> TempSaver(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  saver::Options o;
  o.output_dir = dir;
  o.uuid_prefix = "bench";
  return *saver::Saver::Create(o);
}

void RunCycles(benchmark::State& state, size_t stride) {
  const size_t n = static_cast<size_t>(state.range(0));
  const std::string dir = absl::StrCat("/tmp/collector_bench_", getpid());
  std::unique_ptr<saver::Saver> saver = TempSaver(dir);
  auto source = std::make_unique<ReplaySource>(n);
  ReplaySource* replay = source.get();
  auto collector = collector::Collector::CreateWithSource(
      collector::CollectorOptions{}, std::move(source), saver.get(), nullptr);
  collector->RunCycle();  // every socket is new: not what is measured
  saver->Flush();         // nor is creating their files
  uint64_t bump = 0;
  for (auto _ : state) {
    if (stride > 0) replay->Change(stride, ++bump);
    collector->RunCycle();
  }
  saver->CloseAll();
  state.counters["per_socket"] = benchmark::Counter(
      static_cast<double>(n) * state.iterations(),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["written"] =
      static_cast<double>(saver->stats().records_written);
  saver.reset();
  std::filesystem::remove_all(dir);
}

void BM_CycleUnchanged(benchmark::State& state) { RunCycles(state, 0); }
BENCHMARK(BM_CycleUnchanged)->Arg(1000)->Arg(10000)->MeasureProcessCPUTime();

void BM_CycleChanged(benchmark::State& state) { RunCycles(state, 10); }
BENCHMARK(BM_CycleChanged)->Arg(1000)->Arg(10000)->MeasureProcessCPUTime();

void BM_WalkDumpBuffer(benchmark::State& state) {
  // The real dump, re-addressed to one request.
  std::string all;
  {
    const std::vector<parse::ArchivalRecord>& records = bench::LongConnection();
    for (size_t i = 0; i < 420; ++i) {
      const std::string p = Payload(records[i % records.size()]);
      nlmsghdr h{};
      h.nlmsg_len = NLMSG_HDRLEN + p.size();
      h.nlmsg_type = inetdiag::kSockDiagByFamily;
      h.nlmsg_flags = NLM_F_MULTI;
      h.nlmsg_seq = 1;
      h.nlmsg_pid = 2;
      all.append(reinterpret_cast<const char*>(&h), sizeof(h));
      all += p;
    }
  }
  std::vector<uint64_t> aligned(all.size() / 8 + 1);
  char* data = reinterpret_cast<char*>(aligned.data());
  std::copy(all.begin(), all.end(), data);
  int64_t messages = 0;
  for (auto _ : state) {
    collector::DumpResult r;
    collector::WalkDumpBuffer(data, all.size(), 1, 2, absl::Now(), &r,
                              [&](const collector::DumpMessage& m) {
                                benchmark::DoNotOptimize(m.payload);
                                ++messages;
                              });
  }
  state.counters["per_message"] = benchmark::Counter(
      static_cast<double>(messages),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WalkDumpBuffer);

}  // namespace

BENCHMARK_MAIN();
