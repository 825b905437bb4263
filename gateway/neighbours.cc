#include "gateway/neighbours.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gateway {

namespace {

constexpr int kEventBufferBytes = 4 * 1024 * 1024;

absl::Status Errno(const char* what) {
  return absl::UnavailableError(
      absl::StrCat("neighbour table ", what, ": ", std::strerror(errno)));
}

std::array<uint8_t, 17> Key(const collector::IpAddress& a) {
  std::array<uint8_t, 17> key{};
  key[0] = a.family;
  std::copy(a.bytes.begin(), a.bytes.end(), key.begin() + 1);
  return key;
}

bool IsLinkLocal6(const collector::IpAddress& a) {
  return a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

}  // namespace

std::string FormatMac(const Mac& m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
                         m[3], m[4], m[5]);
}

absl::StatusOr<std::unique_ptr<Neighbours>> Neighbours::Open(
    std::vector<int> lan_ifindexes) {
  std::unique_ptr<Neighbours> n(new Neighbours());
  n->lan_ifindexes_ = std::move(lan_ifindexes);
  n->events_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
                         NETLINK_ROUTE);
  if (n->events_fd_ < 0) return Errno("socket");
  setsockopt(n->events_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kEventBufferBytes,
             sizeof(kEventBufferBytes));
  sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_NEIGH;
  if (bind(n->events_fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) <
      0) {
    return Errno("bind");
  }
  n->dump_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (n->dump_fd_ < 0) return Errno("socket");
  if (absl::Status s = n->Dump(); !s.ok()) return s;
  return n;
}

Neighbours::~Neighbours() {
  if (events_fd_ >= 0) close(events_fd_);
  if (dump_fd_ >= 0) close(dump_fd_);
}

int Neighbours::fd() const { return events_fd_; }

void Neighbours::Apply(const void* message, size_t size) {
  const auto* h = static_cast<const nlmsghdr*>(message);
  if (size < sizeof(nlmsghdr) || h->nlmsg_len > size) return;
  if (h->nlmsg_type != RTM_NEWNEIGH && h->nlmsg_type != RTM_DELNEIGH) return;
  if (mnl_nlmsg_get_payload_len(h) < sizeof(ndmsg)) return;
  const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(h));
  if (std::find(lan_ifindexes_.begin(), lan_ifindexes_.end(),
                nd->ndm_ifindex) == lan_ifindexes_.end()) {
    return;
  }
  if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) return;
  collector::IpAddress address;
  bool have_address = false;
  std::optional<Mac> mac;
  const size_t offset = mnl_nlmsg_size(MNL_ALIGN(sizeof(ndmsg)));
  const char* end = reinterpret_cast<const char*>(h) + h->nlmsg_len;
  for (const nlattr* a = reinterpret_cast<const nlattr*>(
           reinterpret_cast<const char*>(h) + offset);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    const uint16_t type = mnl_attr_get_type(a);
    const uint16_t len = mnl_attr_get_payload_len(a);
    if (type == NDA_DST) {
      const size_t want = nd->ndm_family == AF_INET ? 4 : 16;
      if (len != want) return;
      address.family = nd->ndm_family;
      std::memcpy(address.bytes.data(), mnl_attr_get_payload(a), want);
      have_address = true;
    } else if (type == NDA_LLADDR && len == 6) {
      Mac m;
      std::memcpy(m.data(), mnl_attr_get_payload(a), 6);
      mac = m;
    }
  }
  // Deleted or unresolved entries keep what was known.
  if (!have_address || !mac.has_value() || h->nlmsg_type == RTM_DELNEIGH ||
      (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) != 0) {
    return;
  }
  mac_by_address_[Key(address)] = *mac;
  DeviceAddresses& d = addresses_by_mac_[*mac];
  if (address.family == AF_INET) {
    d.ipv4 = address;
  } else if (!IsLinkLocal6(address)) {
    d.ipv6 = address;
    d.ipv6_link_local = false;
  } else if (!d.ipv6.has_value() || d.ipv6_link_local) {
    d.ipv6 = address;
    d.ipv6_link_local = true;
  }
}

absl::Status Neighbours::Drain() {
  std::vector<char> buffer(64 * 1024);
  while (true) {
    const ssize_t n = recv(events_fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::OkStatus();
      if (errno == ENOBUFS) {
        ++overflows_;
        if (absl::Status s = Dump(); !s.ok()) return s;
        continue;
      }
      return Errno("recv");
    }
    int left = static_cast<int>(n);
    for (const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buffer.data());
         mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
      Apply(h, h->nlmsg_len);
    }
  }
}

absl::Status Neighbours::Dump() {
  std::vector<char> buffer(64 * 1024);
  nlmsghdr* h = mnl_nlmsg_put_header(buffer.data());
  h->nlmsg_type = RTM_GETNEIGH;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = ++seq_;
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ndmsg)));
  nd->ndm_family = AF_UNSPEC;
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  if (sendto(dump_fd_, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) < 0) {
    return Errno("dump");
  }
  while (true) {
    const ssize_t n = recv(dump_fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("dump");
    }
    int left = static_cast<int>(n);
    for (const nlmsghdr* m = reinterpret_cast<const nlmsghdr*>(buffer.data());
         mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
      if (m->nlmsg_seq != seq_) continue;
      if (m->nlmsg_type == NLMSG_DONE) return absl::OkStatus();
      if (m->nlmsg_type == NLMSG_ERROR) {
        const auto* err =
            static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (err->error == 0) return absl::OkStatus();
        errno = -err->error;
        return Errno("dump");
      }
      Apply(m, m->nlmsg_len);
    }
  }
}

std::optional<Mac> Neighbours::Lookup(
    const collector::IpAddress& address) const {
  auto it = mac_by_address_.find(Key(address));
  if (it == mac_by_address_.end()) return std::nullopt;
  return it->second;
}

DeviceAddresses Neighbours::AddressesOf(const Mac& mac) const {
  auto it = addresses_by_mac_.find(mac);
  if (it == addresses_by_mac_.end()) return {};
  return it->second;
}

}  // namespace gateway
