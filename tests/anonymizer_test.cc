// Anonymizer::ApplyToMessage: the inet_diag_msg and the peer addresses of
// INET_DIAG_MD5SIG, in place, within the message's bytes only. (Apply on
// the inet_diag_msg alone is tested in collector_test.cc.)
#include "collector/anonymizer.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "collector/ip_address.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tests/collector_fakes.h"

namespace collector {
namespace {

using collector_test::AppendAttribute;
using collector_test::Ip;

constexpr char kKey[] = "bgp-secret-key";

// One struct tcp_diag_md5sig: family, prefix length, key length, address,
// key (100 bytes).
std::string Md5SigEntry(const char* address) {
  const IpAddress a = Ip(address);
  std::string e(100, '\0');
  e[0] = static_cast<char>(a.family);
  e[1] = static_cast<char>(a.family == inetdiag::kAfInet ? 32 : 128);
  const uint16_t key_length = sizeof(kKey) - 1;
  std::memcpy(&e[2], &key_length, 2);
  std::memcpy(&e[4], a.bytes.data(), 16);
  std::memcpy(&e[20], kKey, key_length);
  return e;
}

// An AF_INET inet_diag_msg 10.77.0.2:1234 -> 10.77.0.1:179, then an
// INET_DIAG_INFO-like attribute holding the remote address bytes (which
// is not an address field and must stay), then INET_DIAG_MD5SIG with
// `entries`.
std::string Message(const std::vector<std::string>& entries) {
  inetdiag::Msg m{};
  m.family = inetdiag::kAfInet;
  m.id.sport_be = htons(1234);
  m.id.dport_be = htons(179);
  std::memcpy(m.id.src, Ip("10.77.0.2").bytes.data(), 4);
  std::memcpy(m.id.dst, Ip("10.77.0.1").bytes.data(), 4);
  std::string out(reinterpret_cast<const char*>(&m), sizeof(m));
  AppendAttribute(inetdiag::kInfo, std::string("\x0a\x4d\x00\x01", 4), &out);
  std::string md5;
  for (const std::string& e : entries) md5 += e;
  AppendAttribute(inetdiag::kMd5Sig, md5, &out);
  return out;
}

IpAddress EntryAddress(const std::string& message, size_t md5_at, int i) {
  const char* e = message.data() + md5_at + 100 * i;
  uint32_t words[4];
  std::memcpy(words, e + 4, 16);
  return IpAddress::FromSockId(static_cast<uint8_t>(e[0]), words);
}

TEST(AnonymizerApplyToMessage, AnonymizesTheMessageAndMd5SigPeers) {
  const Anonymizer a(AnonymizeMode::kNetblock,
                     {Ip("10.77.0.2"), Ip("fd77::2")});
  const std::string original =
      Message({Md5SigEntry("10.77.0.1"), Md5SigEntry("fd77::1:2:3:4"),
               Md5SigEntry("10.77.0.2")});
  std::string m = original;
  a.ApplyToMessage(m.data(), m.size());

  inetdiag::Msg idm;
  std::memcpy(&idm, m.data(), sizeof(idm));
  EXPECT_EQ(IpAddress::FromSockId(idm.family, idm.id.src), Ip("10.77.0.2"));
  EXPECT_EQ(IpAddress::FromSockId(idm.family, idm.id.dst), Ip("10.77.0.0"));
  // 72 message bytes, 8 of INET_DIAG_INFO, then the MD5SIG header.
  const size_t md5_at = sizeof(inetdiag::Msg) + 8 + 4;
  EXPECT_EQ(EntryAddress(m, md5_at, 0), Ip("10.77.0.0"));
  EXPECT_EQ(EntryAddress(m, md5_at, 1), Ip("fd77::"));
  EXPECT_EQ(EntryAddress(m, md5_at, 2), Ip("10.77.0.2"));  // this host's
  // Nothing else changed: ports, the other attribute, family, prefix and
  // key length and key of each entry.
  size_t changed = 0;
  for (size_t i = 0; i < m.size(); ++i) changed += m[i] != original[i];
  // dst's last byte, entry 0's, and the 4 nonzero bytes of entry 1's
  // interface id (:1:2:3:4).
  EXPECT_EQ(changed, 1u + 1u + 4u);
  EXPECT_EQ(m.substr(sizeof(inetdiag::Msg), 8),
            original.substr(sizeof(inetdiag::Msg), 8));
}

TEST(AnonymizerApplyToMessage, NoneChangesNothing) {
  const Anonymizer a(AnonymizeMode::kNone, {});
  const std::string original = Message({Md5SigEntry("10.77.0.1")});
  std::string m = original;
  a.ApplyToMessage(m.data(), m.size());
  EXPECT_EQ(m, original);
}

TEST(AnonymizerApplyToMessage, StaysInsideTruncatedAndMalformedMessages) {
  const Anonymizer a(AnonymizeMode::kNetblock, {});
  const std::string full =
      Message({Md5SigEntry("10.77.0.1"), Md5SigEntry("10.77.0.9")});
  const size_t md5_at = sizeof(inetdiag::Msg) + 8 + 4;
  // Every prefix, each copied to a buffer of exactly its size (ASan sees
  // any read or write past it): the attribute whose length runs past the
  // end is skipped whole; shorter than the message, nothing is touched.
  for (size_t n = 0; n <= full.size(); ++n) {
    std::vector<char> buffer(full.begin(), full.begin() + n);
    a.ApplyToMessage(buffer.data(), n);
    const std::string m(buffer.begin(), buffer.end());
    if (n < sizeof(inetdiag::Msg)) {
      EXPECT_EQ(m, full.substr(0, n));
      continue;
    }
    EXPECT_EQ(m[27], 0) << n;  // the inet_diag_msg's dst, last byte
    if (n == full.size()) {
      EXPECT_EQ(EntryAddress(m, md5_at, 0), Ip("10.77.0.0"));
      EXPECT_EQ(EntryAddress(m, md5_at, 1), Ip("10.77.0.0"));
    } else if (n >= md5_at) {
      EXPECT_EQ(m.substr(md5_at), full.substr(md5_at, n - md5_at)) << n;
    }
  }
  // An attribute length below its header ends the walk.
  std::string m = full;
  const uint16_t bad = 2;
  std::memcpy(&m[sizeof(inetdiag::Msg)], &bad, 2);
  a.ApplyToMessage(m.data(), m.size());
  EXPECT_EQ(m.substr(sizeof(inetdiag::Msg)), [&] {
    std::string want = full.substr(sizeof(inetdiag::Msg));
    std::memcpy(&want[0], &bad, 2);
    return want;
  }());
}

}  // namespace
}  // namespace collector
