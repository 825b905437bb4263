// WalkDumpBuffer's view of a buffer (which message comes first, the buffer
// it lies in) and ForEachDiagPayload, the look-ahead pass the collector
// prefetches with: both must see the same messages in the same order.
#include "collector/netlink_dump.h"

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tests/collector_fakes.h"

namespace collector {
namespace {

using collector_test::Concatenate;
using collector_test::DumpBuffer;
using collector_test::NetlinkMessage;

std::string Diag(uint32_t cookie) {
  inetdiag::Msg m{};
  m.family = inetdiag::kAfInet;
  m.state = 1;
  m.id.cookie[0] = cookie;
  return collector_test::MakeMessage(m, 40, 0x5a);
}

TEST(WalkDumpBuffer, TellsTheFirstMessageOfEachBufferAndTheBuffer) {
  DumpBuffer b =
      Concatenate({NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(1)),
                   NetlinkMessage(NLMSG_NOOP, ""),
                   NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(2)),
                   NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(3))},
                  0, 0);
  char* bytes = b.data();
  std::vector<std::pair<uint64_t, bool>> seen;
  DumpResult r;
  EXPECT_EQ(WalkDumpBuffer(bytes, b.size, 0, 0, absl::Now(), &r,
                           [&](const DumpMessage& m) {
                             EXPECT_EQ(m.buffer, bytes);
                             EXPECT_EQ(m.buffer_size, b.size);
                             seen.emplace_back(inetdiag::CookieOfMsg(m.payload),
                                               m.first_in_buffer);
                           }),
            WalkStatus::kMore);
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, bool>>{
                      {1, true}, {2, false}, {3, false}}));
}

TEST(ForEachDiagPayload, VisitsWhatWalkDumpBufferHandsOnInOrder) {
  DumpBuffer b = Concatenate(
      {NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(7)),
       NetlinkMessage(inetdiag::kSockDiagByFamily, "short"),  // no cookie
       NetlinkMessage(NLMSG_NOOP, ""),
       NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(8)),
       NetlinkMessage(inetdiag::kSockDiagByFamily, Diag(9)),
       NetlinkMessage(NLMSG_DONE, std::string(4, '\0'))},
      0, 0);
  char* bytes = b.data();
  std::vector<std::pair<const char*, size_t>> walked, visited;
  DumpResult r;
  EXPECT_EQ(WalkDumpBuffer(bytes, b.size, 0, 0, absl::Now(), &r,
                           [&](const DumpMessage& m) {
                             walked.emplace_back(m.payload, m.size);
                           }),
            WalkStatus::kDone);
  ForEachDiagPayload(bytes, b.size, [&](const char* payload, size_t size) {
    visited.emplace_back(payload, size);
  });
  ASSERT_EQ(walked.size(), 4u);
  EXPECT_EQ(visited, walked);
  EXPECT_EQ(visited[1].second, 5u);
  EXPECT_EQ(inetdiag::CookieOfMsg(visited[3].first), 9u);

  // A header cut off at the end of the buffer ends the pass before it.
  std::vector<std::pair<const char*, size_t>> cut;
  const size_t first_two = NLMSG_SPACE(Diag(7).size()) + NLMSG_SPACE(5);
  ForEachDiagPayload(bytes, first_two + 8,
                     [&](const char* payload, size_t size) {
                       cut.emplace_back(payload, size);
                     });
  const std::vector<std::pair<const char*, size_t>> first_two_walked(
      walked.begin(), walked.begin() + 2);
  EXPECT_EQ(cut, first_two_walked);
  // A length beyond the buffer, likewise.
  nlmsghdr h;
  std::memcpy(&h, bytes, sizeof(h));
  h.nlmsg_len = 1u << 31;
  std::memcpy(bytes, &h, sizeof(h));
  int calls = 0;
  ForEachDiagPayload(bytes, b.size, [&](const char*, size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace collector
