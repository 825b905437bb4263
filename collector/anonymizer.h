// Anonymizer: -anonymize.ip=netblock, as M-Lab's github.com/m-lab/go/
// anonymize does it: an IPv4 address keeps its /24 (last byte zeroed, also
// in v4-mapped IPv6 form), an IPv6 address its /64. Addresses of this host
// (the reference's IgnoredIPs: every interface address when tcp-info
// starts) are left alone, so in practice the remote end of each connection
// is anonymized and the local one kept. The change is made in place, in
// the raw message bytes, before change detection and writing, so records,
// file contents and anything derived from them only ever see the
// anonymized address.
//
// Besides the inet_diag_msg, one attribute carries addresses:
// INET_DIAG_MD5SIG (struct tcp_diag_md5sig, one per TCP-MD5 key: the key's
// peer address and the key itself), which the kernel adds for a reader with
// CAP_NET_ADMIN. The reference anonymizes only the inet_diag_msg and so
// archives the peer's full address there; ApplyToMessage anonymizes it too.
//
// Immutable after construction; Apply() is thread-safe on distinct buffers
// and allocates nothing.
#ifndef TCPINFO_COLLECTOR_ANONYMIZER_H_
#define TCPINFO_COLLECTOR_ANONYMIZER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/ip_address.h"

namespace collector {

enum class AnonymizeMode { kNone, kNetblock };

// Parses the -anonymize.ip value: "none" or "netblock".
absl::StatusOr<AnonymizeMode> ParseAnonymizeMode(absl::string_view text);

// Zeroes the host part of `address`: /24 for IPv4 (and v4-mapped), /64 for
// IPv6.
IpAddress NetblockOf(const IpAddress& address);

class Anonymizer {
 public:
  // `host_addresses` are never anonymized.
  Anonymizer(AnonymizeMode mode, std::vector<IpAddress> host_addresses);

  // The addresses of this host's interfaces in the current network
  // namespace (getifaddrs), empty if they cannot be read.
  static std::vector<IpAddress> HostAddresses();

  bool enabled() const { return mode_ != AnonymizeMode::kNone; }

  // Anonymizes the source and destination addresses of the inet_diag_msg at
  // `raw_idm` (sizeof(inetdiag::Msg) bytes, any alignment).
  void Apply(char* raw_idm) const;

  // Anonymizes a whole inet_diag message at `payload` (`size` bytes: the
  // inet_diag_msg, then its attributes): Apply(), then the peer address of
  // every entry of an INET_DIAG_MD5SIG attribute. Attributes are walked
  // within `size` only; a malformed list ends the walk. Allocates nothing.
  void ApplyToMessage(char* payload, size_t size) const;

 private:
  // Anonymizes the address of `family` (4 or 16 bytes) at `address` unless
  // it is one of this host's.
  void AnonymizeAddress(uint8_t family, char* address) const;

  AnonymizeMode mode_;
  std::vector<IpAddress> host_addresses_;  // unmapped
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_ANONYMIZER_H_
