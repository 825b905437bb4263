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

void Anonymizer::Apply(char* raw_idm) const {
  if (mode_ == AnonymizeMode::kNone) return;
  const uint8_t family = static_cast<uint8_t>(raw_idm[0]);
  if (family != inetdiag::kAfInet && family != inetdiag::kAfInet6) return;
  for (size_t offset :
       {offsetof(inetdiag::Msg, id) + offsetof(inetdiag::SockId, src),
        offsetof(inetdiag::Msg, id) + offsetof(inetdiag::SockId, dst)}) {
    uint32_t words[4];
    std::memcpy(words, raw_idm + offset, sizeof(words));
    const IpAddress a = IpAddress::FromSockId(family, words);
    const IpAddress unmapped = a.Unmapped();
    bool host = false;
    for (const IpAddress& h : host_addresses_) {
      if (h == unmapped) {
        host = true;
        break;
      }
    }
    if (host) continue;
    const IpAddress n = NetblockOf(a);
    std::memcpy(raw_idm + offset, n.bytes.data(),
                family == inetdiag::kAfInet ? 4 : 16);
  }
}

}  // namespace collector
