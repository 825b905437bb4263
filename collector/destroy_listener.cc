#include "collector/destroy_listener.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inetdiag/inet_diag.h"

namespace collector {
namespace {

// Large enough for any datagram the kernel sends on this socket.
constexpr size_t kBufferBytes = 64 << 10;

}  // namespace

absl::StatusOr<std::unique_ptr<DestroyListener>> DestroyListener::Open(
    int receive_buffer_bytes) {
  mnl_socket* nl =
      mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (nl == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("netlink sock_diag socket: ", std::strerror(errno)));
  }
  const int fd = mnl_socket_get_fd(nl);
  // SO_RCVBUFFORCE passes net.core.rmem_max with CAP_NET_ADMIN; fall back to
  // SO_RCVBUF (capped by rmem_max) without it.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes,
                 sizeof(receive_buffer_bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes,
               sizeof(receive_buffer_bytes));
  }
  const unsigned groups = 1u << (inetdiag::kGroupInetTcpDestroy - 1) |
                          1u << (inetdiag::kGroupInet6TcpDestroy - 1);
  if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) != 0) {
    const int err = errno;
    mnl_socket_close(nl);
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(
          "subscribing to SKNLGRP_INET_TCP_DESTROY was refused");
    }
    return absl::UnavailableError(absl::StrCat(
        "binding to the TCP destroy groups: ", std::strerror(err)));
  }
  int granted = 0;
  socklen_t len = sizeof(granted);
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
  return std::unique_ptr<DestroyListener>(new DestroyListener(nl, granted));
}

DestroyListener::DestroyListener(mnl_socket* socket, int receive_buffer_bytes)
    : socket_(socket),
      receive_buffer_bytes_(receive_buffer_bytes),
      buffer_(new char[kBufferBytes]) {}

DestroyListener::~DestroyListener() { mnl_socket_close(socket_); }

int DestroyListener::fd() const { return mnl_socket_get_fd(socket_); }

size_t DestroyListener::Drain(
    absl::FunctionRef<void(char* payload, size_t size)> on_destroy,
    bool* overflowed) {
  size_t delivered = 0;
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buffer_.get(), kBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        // The socket stays usable; what was dropped is gone.
        ++stats_.overflows;
        if (overflowed != nullptr) *overflowed = true;
        continue;
      }
      break;  // EAGAIN: nothing more pending (or an error we cannot fix).
    }
    int left = static_cast<int>(n);
    for (nlmsghdr* nlh = reinterpret_cast<nlmsghdr*>(buffer_.get());
         // libmnl compares the length as an int: lengths of 2^31 and more
         // would pass, so bound it by what is left ourselves.
         mnl_nlmsg_ok(nlh, left) &&
         nlh->nlmsg_len <= static_cast<uint32_t>(left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type != inetdiag::kSockDiagByFamily) continue;
      char* payload = static_cast<char*>(mnl_nlmsg_get_payload(nlh));
      const size_t size = mnl_nlmsg_get_payload_len(nlh);
      if (!parse::SplitMessage(absl::string_view(payload, size)).ok()) {
        ++stats_.malformed;
        continue;
      }
      ++stats_.messages;
      ++delivered;
      on_destroy(payload, size);
    }
  }
  return delivered;
}

}  // namespace collector
