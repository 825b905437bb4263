#include "traffic/address_prefix.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "inetdiag/inet_diag.h"

namespace traffic {

absl::StatusOr<AddressPrefix> AddressPrefix::Parse(absl::string_view text) {
  AddressPrefix p;
  if (text.empty()) return p;
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  const auto bad = [] {
    return absl::InvalidArgumentError(
        "want an IPv4 prefix length 0-32, optionally then ,IPv6 length "
        "0-128 (24 or 24,64)");
  };
  if (parts.size() > 2) return bad();
  if (!absl::SimpleAtoi(parts[0], &p.v4) || p.v4 < 0 || p.v4 > 32) {
    return bad();
  }
  if (parts.size() == 2 &&
      (!absl::SimpleAtoi(parts[1], &p.v6) || p.v6 < 0 || p.v6 > 128)) {
    return bad();
  }
  return p;
}

collector::IpAddress AddressPrefix::Apply(
    const collector::IpAddress& address) const {
  collector::IpAddress a = address.Unmapped();
  const int bits = a.family == inetdiag::kAfInet ? v4 : v6;
  const int total = a.family == inetdiag::kAfInet ? 32 : 128;
  for (int i = bits; i < total; ++i) {
    a.bytes[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
  }
  return a;
}

bool AddressPrefix::KeepsWhole(const collector::IpAddress& address) const {
  return address.Unmapped().family == inetdiag::kAfInet ? v4 == 32 : v6 == 128;
}

std::string AddressPrefix::Label(const collector::IpAddress& address) const {
  const collector::IpAddress a = Apply(address);
  std::string text = collector::FormatIpAddress(a);
  if (!KeepsWhole(address)) {
    absl::StrAppend(&text, "/", a.family == inetdiag::kAfInet ? v4 : v6);
  }
  return text;
}

}  // namespace traffic
