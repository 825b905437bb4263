// The hot path allocates nothing per unchanged socket: with the real cache
// and the real saver, a polling cycle over connections that did not change
// makes no heap allocation at all, whether the messages come from a script
// or from the kernel; nor does the flow tracker per changed snapshot or per
// cycle with no flow due. Counted by replacing the global operator new.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/collector.h"
#include "collector/ip_address.h"
#include "flows/flow_tracker.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/record_view.h"
#include "saver/saver.h"
#include "tests/collector_fakes.h"

namespace {

std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};

void* Allocate(size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* AllocateAligned(size_t size, std::align_val_t align) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  const size_t a = static_cast<size_t>(align);
  void* p = std::aligned_alloc(a, (size + a - 1) / a * a);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t size) { return Allocate(size); }
void* operator new[](size_t size) { return Allocate(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new(size_t size, std::align_val_t a) {
  return AllocateAligned(size, a);
}
void* operator new[](size_t size, std::align_val_t a) {
  return AllocateAligned(size, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace collector {
namespace {

// Heap allocations made while `fn` runs.
template <typename Fn>
int64_t AllocationsDuring(Fn fn) {
  allocations = 0;
  counting = true;
  fn();
  counting = false;
  return allocations.load();
}

std::unique_ptr<saver::Saver> RealSaver(const std::string& dir) {
  std::filesystem::create_directories(dir);
  saver::Options o;
  o.output_dir = dir;
  o.uuid_prefix = "alloc";
  absl::StatusOr<std::unique_ptr<saver::Saver>> s = saver::Saver::Create(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(CollectorAllocations, NonePerUnchangedSocketInAScriptedCycle) {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/alloc_scripted_", getpid());
  std::unique_ptr<saver::Saver> saver = RealSaver(dir);
  ASSERT_NE(saver, nullptr);
  collector_test::ScriptedSource::Script script;
  for (uint32_t i = 0; i < 2000; ++i) {
    inetdiag::Msg m{};
    m.family = inetdiag::kAfInet;
    m.state = 1;
    m.id.sport_be = htons(static_cast<uint16_t>(20000 + i));
    m.id.dport_be = htons(443);
    m.id.src[0] = htonl(0x0a4d0002);               // 10.77.0.2
    m.id.dst[0] = htonl(0xc6336400 | (i & 0xff));  // 198.51.100.x
    m.id.cookie[0] = 1000 + i;
    script.inet.push_back(collector_test::MakeMessage(m, 280, 7));
  }
  CollectorOptions o;
  o.anonymize = AnonymizeMode::kNetblock;
  o.host_addresses = {*ParseIpAddress("10.77.0.2")};
  auto c = Collector::CreateWithSource(
      o, std::make_unique<collector_test::ScriptedSource>(&script), saver.get(),
      nullptr);
  // The counter works: new connections are copied, and that allocates.
  EXPECT_GT(AllocationsDuring([&] { EXPECT_EQ(c->RunCycle().changes, 2000); }),
            0);
  c->RunCycle();  // warm-up: any lazily grown buffer grows here
  for (int i = 0; i < 5; ++i) {
    int64_t changes = -1;
    EXPECT_EQ(AllocationsDuring([&] { changes = c->RunCycle().changes; }), 0)
        << "cycle " << i;
    EXPECT_EQ(changes, 0);
  }
  saver->CloseAll();
  std::filesystem::remove_all(dir);
}

TEST(CollectorAllocations, NoneForIdleKernelSockets) {
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/alloc_kernel_", getpid());
  std::unique_ptr<saver::Saver> saver = RealSaver(dir);
  ASSERT_NE(saver, nullptr);
  // 100 idle loopback connections (kept with -include-local).
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(listener, 128), 0);
  socklen_t len = sizeof(a);
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fds;
  for (int i = 0; i < 100; ++i) {
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    fds.push_back(c);
    fds.push_back(accept(listener, nullptr, nullptr));
  }
  CollectorOptions o;
  o.filter.include_local = true;
  absl::StatusOr<std::unique_ptr<Collector>> c =
      Collector::Create(o, saver.get(), nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GE((*c)->RunCycle().changes, 201);
  // Sockets elsewhere on the machine may change; ours do not. Count cycles
  // in which nothing changed at all, and demand they allocate nothing.
  int quiet = 0;
  for (int i = 0; i < 50 && quiet < 5; ++i) {
    int64_t changes = 0;
    const int64_t n =
        AllocationsDuring([&] { changes = (*c)->RunCycle().changes; });
    if (changes != 0) continue;
    EXPECT_EQ(n, 0) << "cycle " << i;
    ++quiet;
  }
  EXPECT_GE(quiet, 5);
  for (int fd : fds) close(fd);
  close(listener);
  saver->CloseAll();
  std::filesystem::remove_all(dir);
}

class DroppingConsumer : public flows::RecordConsumer {
 public:
  void Consume(flows::FlowRecord) override { ++records; }
  int records = 0;
};

TEST(CollectorAllocations, FlowTrackerNonePerChangedSnapshotOrIdleCycle) {
  // 2000 flows, each with two snapshots whose counters differ.
  std::vector<std::string> a, b;
  for (uint32_t i = 0; i < 2000; ++i) {
    const inetdiag::Msg m =
        collector_test::MakeMsg("10.77.0.2", static_cast<uint16_t>(20000 + i),
                                "10.77.0.1", 443, 1000 + i);
    a.push_back(collector_test::MakeMessage(m, 280, 7));
    b.push_back(collector_test::MakeMessage(m, 280, 8));
  }
  std::vector<parse::RecordView> va, vb;
  for (size_t i = 0; i < a.size(); ++i) {
    va.push_back(*parse::SplitMessage(a[i]));
    vb.push_back(*parse::SplitMessage(b[i]));
  }
  flows::FlowTrackerOptions o;
  o.uuid_prefix = "alloc";
  o.watch_listeners = false;
  DroppingConsumer consumer;
  flows::FlowTracker tracker(o, &consumer);
  CycleStats cycle;
  // Opening a flow allocates (its block): the counter works.
  EXPECT_GT(AllocationsDuring([&] {
              for (size_t i = 0; i < va.size(); ++i) {
                tracker.OnFlowOpen(1000 + i, {}, va[i]);
                tracker.OnSnapshot(1000 + i, {}, va[i], parse::Change::kNew);
              }
              tracker.OnCycle(cycle);
            }),
            0);
  for (int round = 0; round < 4; ++round) {
    const std::vector<parse::RecordView>& views = round % 2 ? va : vb;
    cycle.monotonic_start += std::chrono::milliseconds(10);
    EXPECT_EQ(AllocationsDuring([&] {
                for (size_t i = 0; i < views.size(); ++i) {
                  tracker.OnSnapshot(1000 + i, {}, views[i],
                                     parse::Change::kCounterChange);
                }
                tracker.OnCycle(cycle);
              }),
              0)
        << "round " << round;
  }
  EXPECT_EQ(consumer.records, 0);  // none was due
  EXPECT_EQ(tracker.FinishAll(), 2000u);
}

}  // namespace
}  // namespace collector
