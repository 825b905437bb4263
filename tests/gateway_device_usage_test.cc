// DeviceUsage: per-interval deltas per MAC from cumulative nftables counts.
#include <sys/socket.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "collector/ip_address.h"
#include "gateway/device_usage.h"
#include "gtest/gtest.h"

namespace gateway {
namespace {

const Mac kA = {2, 0x77, 0, 0, 0, 1};
const Mac kB = {2, 0x77, 0, 0, 0, 2};

NftCount Up(const Mac& mac, uint64_t packets, uint64_t bytes) {
  NftCount c;
  c.key = NftCount::kMacUp;
  std::copy(mac.begin(), mac.end(), c.bytes_of_key);
  c.packets = packets;
  c.bytes = bytes;
  return c;
}

NftCount Down4(const char* address, uint64_t packets, uint64_t bytes) {
  NftCount c;
  c.key = NftCount::kAddr4Down;
  const collector::IpAddress a = *collector::ParseIpAddress(address);
  std::copy(a.bytes.begin(), a.bytes.begin() + 4, c.bytes_of_key);
  c.packets = packets;
  c.bytes = bytes;
  return c;
}

const DeviceDelta* Find(const std::vector<DeviceDelta>& deltas,
                        const Mac& mac) {
  for (const DeviceDelta& d : deltas) {
    if (d.mac == mac) return &d;
  }
  return nullptr;
}

TEST(DeviceUsage, GivesEachDevicesTrafficSinceThePreviousRead) {
  DeviceUsage usage;
  auto lookup = [](const collector::IpAddress& a) -> std::optional<Mac> {
    if (collector::FormatIpAddress(a) == "10.77.1.11") return kA;
    return std::nullopt;
  };
  std::vector<DeviceDelta> first = usage.Account(
      {Up(kA, 3, 300), Down4("10.77.1.11", 5, 5000), Up(kB, 1, 60)}, lookup);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_NE(Find(first, kA), nullptr);
  EXPECT_EQ(Find(first, kA)->upload_bytes, 300u);
  EXPECT_EQ(Find(first, kA)->upload_packets, 3u);
  EXPECT_EQ(Find(first, kA)->download_bytes, 5000u);
  EXPECT_EQ(Find(first, kA)->download_packets, 5u);
  EXPECT_EQ(Find(first, kB)->upload_bytes, 60u);
  EXPECT_EQ(Find(first, kB)->download_bytes, 0u);

  // Only what grew; a device without new traffic is left out.
  std::vector<DeviceDelta> second = usage.Account(
      {Up(kA, 4, 400), Down4("10.77.1.11", 5, 5000), Up(kB, 1, 60)}, lookup);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].mac, kA);
  EXPECT_EQ(second[0].upload_bytes, 100u);
  EXPECT_EQ(second[0].download_bytes, 0u);
}

TEST(DeviceUsage, HoldsDownloadToAnUnknownAddressUntilItsMacIsKnown) {
  DeviceUsage usage;
  bool known = false;
  auto lookup = [&](const collector::IpAddress&) -> std::optional<Mac> {
    if (known) return kB;
    return std::nullopt;
  };
  EXPECT_TRUE(usage.Account({Down4("10.77.1.12", 2, 200)}, lookup).empty());
  known = true;
  std::vector<DeviceDelta> d =
      usage.Account({Down4("10.77.1.12", 3, 350)}, lookup);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].mac, kB);
  EXPECT_EQ(d[0].download_bytes, 350u);  // nothing lost
  EXPECT_EQ(d[0].download_packets, 3u);
}

TEST(DeviceUsage, ACounterThatWentBackCountsFromZero) {
  DeviceUsage usage;
  auto none = [](const collector::IpAddress&) -> std::optional<Mac> {
    return std::nullopt;
  };
  usage.Account({Up(kA, 10, 1000)}, none);
  std::vector<DeviceDelta> d = usage.Account({Up(kA, 2, 150)}, none);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].upload_bytes, 150u);
  EXPECT_EQ(d[0].upload_packets, 2u);
}

TEST(DeviceUsage, AnAddressThatMovedToAnotherMacCountsForTheNewOne) {
  DeviceUsage usage;
  Mac owner = kA;
  auto lookup = [&](const collector::IpAddress&) -> std::optional<Mac> {
    return owner;
  };
  usage.Account({Down4("10.77.1.20", 1, 100)}, lookup);
  owner = kB;
  std::vector<DeviceDelta> d =
      usage.Account({Down4("10.77.1.20", 2, 250)}, lookup);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].mac, kB);
  EXPECT_EQ(d[0].download_bytes, 150u);
}

TEST(FormatMac, LowerCaseHexWithColons) {
  EXPECT_EQ(FormatMac({0x02, 0xab, 0x00, 0x10, 0xff, 0x01}),
            "02:ab:00:10:ff:01");
}

}  // namespace
}  // namespace gateway
