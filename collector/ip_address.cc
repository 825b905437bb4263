#include "collector/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inetdiag/inet_diag.h"

namespace collector {

IpAddress IpAddress::FromSockId(uint8_t family, const uint32_t words[4]) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), words, family == inetdiag::kAfInet ? 4 : 16);
  return a;
}

bool IpAddress::IsV4Mapped() const {
  if (family != inetdiag::kAfInet6) return false;
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0,    0,
                                          0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kPrefix, sizeof(kPrefix)) == 0;
}

IpAddress IpAddress::Unmapped() const {
  if (!IsV4Mapped()) return *this;
  IpAddress v4;
  v4.family = inetdiag::kAfInet;
  std::memcpy(v4.bytes.data(), bytes.data() + 12, 4);
  return v4;
}

namespace {

// Loopback, link-local, multicast or unspecified IPv4 address `b[0..3]`.
bool IsLocalV4(const uint8_t* b) {
  return b[0] == 127 ||                     // loopback
         (b[0] == 169 && b[1] == 254) ||    // link-local
         (b[0] & 0xf0) == 224 ||            // multicast
         (b[0] | b[1] | b[2] | b[3]) == 0;  // unspecified
}

}  // namespace

bool IsLocalAddress(uint8_t family, const uint32_t words[4]) {
  const auto* b = reinterpret_cast<const uint8_t*>(words);
  if (family == inetdiag::kAfInet) return IsLocalV4(b);
  if (words[0] == 0 && words[1] == 0) {
    if (words[2] == htonl(0xffff)) return IsLocalV4(b + 12);  // v4-mapped
    if (words[2] == 0 && (words[3] == 0 || words[3] == htonl(1))) {
      return true;  // unspecified or loopback
    }
  }
  return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||  // link-local
         b[0] == 0xff;                               // multicast
}

bool IpAddress::IsLocal() const {
  uint32_t words[4];
  std::memcpy(words, bytes.data(), sizeof(words));
  return IsLocalAddress(family, words);
}

absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = inetdiag::kAfInet;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = inetdiag::kAfInet6;
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is not an IPv4 or IPv6 address"));
}

std::string FormatIpAddress(const IpAddress& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.family == inetdiag::kAfInet ? AF_INET : AF_INET6,
            address.bytes.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace collector
