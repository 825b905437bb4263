// The traffic layer's parts: header sizes, /etc/services names, address
// prefixes and the reverse-DNS cache (with a resolver that hangs).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/collector_fakes.h"
#include "traffic/address_prefix.h"
#include "traffic/header_size.h"
#include "traffic/peer_names.h"
#include "traffic/service_names.h"

namespace traffic {
namespace {

using collector_test::Ip;

TEST(HeaderBytes, IsIpPlusTcpPlusTimestamps) {
  EXPECT_EQ(HeaderBytes(true, 0), 40u);
  EXPECT_EQ(HeaderBytes(true, kTcpiOptTimestamps), 52u);
  EXPECT_EQ(HeaderBytes(false, 0), 60u);
  // SACK, window scaling and ECN (bits 2, 4, 8) add nothing per segment.
  EXPECT_EQ(HeaderBytes(false, kTcpiOptTimestamps | 2 | 4 | 8), 72u);
}

TEST(ServiceNames, TakesTheFirstTcpNameOfEachPort) {
  const ServiceNames s = ServiceNames::Parse(
      "# comment\n"
      "tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
      "domain\t\t53/udp\n"
      "domain\t\t53/tcp\n"
      "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
      "alias\t\t80/tcp\n"
      "bad\t\t70000/tcp\n"
      "garbage\n"
      "http-alt\t8080/tcp\twebcache\n");
  EXPECT_EQ(s.Name(1), "tcpmux");
  EXPECT_EQ(s.Name(53), "domain");
  EXPECT_EQ(s.Name(80), "http");
  EXPECT_EQ(s.Name(8080), "http-alt");
  EXPECT_EQ(s.Name(81), "");
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(ServiceNames().Name(80), "");
}

TEST(ServiceNames, ReadsTheSystemsFile) {
  absl::StatusOr<ServiceNames> s = ServiceNames::Load("/etc/services");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Name(22), "ssh");
  EXPECT_EQ(s->Name(443), "https");
  EXPECT_FALSE(ServiceNames::Load("/nonexistent/services").ok());
}

TEST(AddressPrefix, ParsesV4AndOptionalV6Lengths) {
  EXPECT_EQ(AddressPrefix::Parse("")->v4, 32);
  EXPECT_EQ(AddressPrefix::Parse("")->v6, 128);
  EXPECT_EQ(AddressPrefix::Parse("24")->v4, 24);
  EXPECT_EQ(AddressPrefix::Parse("24")->v6, 128);
  EXPECT_EQ(AddressPrefix::Parse("24,64")->v6, 64);
  EXPECT_EQ(AddressPrefix::Parse("0,0")->v4, 0);
  for (const char* bad : {"33", "24,129", "-1", "a", "24,", "1,2,3", "24/64"}) {
    EXPECT_FALSE(AddressPrefix::Parse(bad).ok()) << bad;
  }
}

TEST(AddressPrefix, LabelsHostsWholeAndNetworksWithTheirLength) {
  const AddressPrefix whole;
  const AddressPrefix nets{.v4 = 20, .v6 = 56};
  EXPECT_EQ(whole.Label(Ip("10.77.1.2")), "10.77.1.2");
  EXPECT_EQ(whole.Label(Ip("fd77::1")), "fd77::1");
  EXPECT_EQ(whole.Label(Ip("::ffff:10.77.1.2")), "10.77.1.2");
  EXPECT_EQ(nets.Label(Ip("10.77.31.2")), "10.77.16.0/20");
  EXPECT_EQ(nets.Label(Ip("fd77:1:2:3fff::1")), "fd77:1:2:3f00::/56");
  EXPECT_EQ(nets.Label(Ip("::ffff:10.77.31.2")), "10.77.16.0/20");
  EXPECT_EQ(AddressPrefix{.v4 = 0}.Label(Ip("10.1.2.3")), "0.0.0.0/0");
  EXPECT_TRUE(whole.KeepsWhole(Ip("10.1.2.3")));
  EXPECT_FALSE(nets.KeepsWhole(Ip("fd77::1")));
}

// A resolver that blocks until released.
struct BlockingResolver {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> calls{0};
  std::string Resolve(const collector::IpAddress&) {
    ++calls;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return released; });
    return "late.example";
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      released = true;
    }
    cv.notify_all();
  }
};

TEST(PeerNames, AHangingResolverNeverDelaysALookup) {
  auto resolver = std::make_shared<BlockingResolver>();
  {
    auto owned = std::make_unique<PeerNames>(
        PeerNamesOptions{.resolve =
                             [resolver](const collector::IpAddress& a) {
                               return resolver->Resolve(a);
                             },
                         .max_queue = 4});
    PeerNames& names = *owned;
    const auto start = std::chrono::steady_clock::now();
    // 1000 distinct addresses: one is being resolved (hangs), four queue,
    // the rest are dropped; every lookup returns at once with no name.
    for (int i = 0; i < 1000; ++i) {
      collector::IpAddress a = Ip("10.77.0.0");
      a.bytes[2] = static_cast<uint8_t>(i >> 8);
      a.bytes[3] = static_cast<uint8_t>(i);
      EXPECT_EQ(names.Lookup(a), "");
    }
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(200));
    for (int i = 0; i < 200 && resolver->calls == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(resolver->calls, 1);
    EXPECT_GE(names.dropped(), 1000 - 1 - 4 - 1);
    // Destroyed while its thread hangs: returns at once.
    const auto destroy = std::chrono::steady_clock::now();
    owned.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - destroy,
              std::chrono::milliseconds(50));
  }
  // The detached thread ends once its resolve returns.
  resolver->Release();
}

TEST(PeerNames, CachesNamesForTheTtlAndBoundsTheRate) {
  std::atomic<int> calls{0};
  PeerNames names({.resolve =
                       [&calls](const collector::IpAddress&) {
                         ++calls;
                         return std::string("host.example");
                       },
                   .ttl = absl::Milliseconds(300),
                   .max_per_second = 10});
  const collector::IpAddress a = Ip("10.77.0.1"), b = Ip("fd77::1");
  EXPECT_EQ(names.Lookup(a), "");
  EXPECT_EQ(names.Lookup(b), "");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 300 && names.resolved() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(names.resolved(), 2);
  // Ten a second: the second waited about 100 ms after the first.
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(80));
  EXPECT_EQ(names.Lookup(a), "host.example");
  EXPECT_EQ(names.Lookup(a), "host.example");
  EXPECT_EQ(calls, 2);
  // Expired: still the name, and asked again.
  absl::SleepFor(absl::Milliseconds(350));
  EXPECT_EQ(names.Lookup(a), "host.example");
  for (int i = 0; i < 300 && names.resolved() < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace traffic
