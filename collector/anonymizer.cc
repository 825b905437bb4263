#include "collector/anonymizer.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inetdiag/inet_diag.h"

namespace collector {

absl::StatusOr<AnonymizeMode> ParseAnonymizeMode(absl::string_view text) {
  if (text == "none") return AnonymizeMode::kNone;
  if (text == "netblock") return AnonymizeMode::kNetblock;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown anonymization method \"", text,
                   "\" (want \"none\" or \"netblock\")"));
}

IpAddress NetblockOf(const IpAddress& address) {
  IpAddress a = address;
  if (a.family == inetdiag::kAfInet) {
    a.bytes[3] = 0;
  } else if (a.IsV4Mapped()) {
    a.bytes[15] = 0;
  } else {
    std::memset(a.bytes.data() + 8, 0, 8);
  }
  return a;
}

Anonymizer::Anonymizer(AnonymizeMode mode,
                       std::vector<IpAddress> host_addresses)
    : mode_(mode), host_addresses_(std::move(host_addresses)) {
  for (IpAddress& h : host_addresses_) h = h.Unmapped();
}

std::vector<IpAddress> Anonymizer::HostAddresses() {
  std::vector<IpAddress> out;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      a.family = inetdiag::kAfInet;
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      std::memcpy(a.bytes.data(), &sin->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.family = inetdiag::kAfInet6;
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

void Anonymizer::AnonymizeAddress(uint8_t family, char* address) const {
  uint32_t words[4] = {0, 0, 0, 0};
  const size_t length = family == inetdiag::kAfInet ? 4 : 16;
  std::memcpy(words, address, length);
  const IpAddress a = IpAddress::FromSockId(family, words);
  const IpAddress unmapped = a.Unmapped();
  for (const IpAddress& h : host_addresses_) {
    if (h == unmapped) return;
  }
  const IpAddress n = NetblockOf(a);
  std::memcpy(address, n.bytes.data(), length);
}

void Anonymizer::Apply(char* raw_idm) const {
  if (mode_ == AnonymizeMode::kNone) return;
  const uint8_t family = static_cast<uint8_t>(raw_idm[0]);
  if (family != inetdiag::kAfInet && family != inetdiag::kAfInet6) return;
  for (size_t offset :
       {offsetof(inetdiag::Msg, id) + offsetof(inetdiag::SockId, src),
        offsetof(inetdiag::Msg, id) + offsetof(inetdiag::SockId, dst)}) {
    AnonymizeAddress(family, raw_idm + offset);
  }
}

void Anonymizer::ApplyToMessage(char* payload, size_t size) const {
  if (mode_ == AnonymizeMode::kNone || size < sizeof(inetdiag::Msg)) return;
  Apply(payload);
  // struct nlattr: u16 nla_len (header included), u16 nla_type; 4-aligned.
  constexpr size_t kHeader = 4;
  constexpr uint16_t kTypeMask = 0x3fff;  // without NLA_F_NESTED, _BYTEORDER
  auto align = [](size_t n) { return (n + 3) & ~size_t{3}; };
  for (size_t at = align(sizeof(inetdiag::Msg)); size - at >= kHeader;) {
    uint16_t length, type;
    std::memcpy(&length, payload + at, 2);
    std::memcpy(&type, payload + at + 2, 2);
    if (length < kHeader || length > size - at) return;
    if ((type & kTypeMask) == inetdiag::kMd5Sig) {
      for (size_t e = at + kHeader;
           at + length - e >= inetdiag::kMd5SigEntrySize;
           e += inetdiag::kMd5SigEntrySize) {
        const uint8_t family = static_cast<uint8_t>(payload[e]);
        if (family == inetdiag::kAfInet || family == inetdiag::kAfInet6) {
          AnonymizeAddress(family, payload + e + inetdiag::kMd5SigAddress);
        }
      }
    }
    if (align(length) >= size - at) return;
    at += align(length);
  }
}

}  // namespace collector
