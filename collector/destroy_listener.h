// DestroyListener: the kernel's broadcast of every TCP socket it destroys.
//
// When a TCP socket is freed, the kernel sends one inet_diag message, with
// INET_DIAG_INFO (the socket's final tcp_info) and INET_DIAG_PROTOCOL, to the
// NETLINK_SOCK_DIAG multicast groups SKNLGRP_INET_TCP_DESTROY and
// SKNLGRP_INET6_TCP_DESTROY (what `ss -E` listens to). The message reports
// the socket in state CLOSE. Subscribing needs no capability (the kernel's
// sock_diag groups accept any reader); CAP_NET_ADMIN lets the buffer pass
// net.core.rmem_max.
//
// Thread contract: owned by one thread (the collector's polling thread);
// fd() may be handed to poll(2) by that thread. Drain() never blocks.
#ifndef TCPINFO_COLLECTOR_DESTROY_LISTENER_H_
#define TCPINFO_COLLECTOR_DESTROY_LISTENER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "parse/record_view.h"

struct mnl_socket;

namespace collector {

class DestroyListener {
 public:
  struct Stats {
    uint64_t messages = 0;   // destroy messages delivered to the callback
    uint64_t overflows = 0;  // ENOBUFS: the kernel dropped messages for us
    uint64_t malformed = 0;  // messages that could not be parsed, skipped
  };

  // Opens a non-blocking NETLINK_SOCK_DIAG socket subscribed to both TCP
  // destroy groups, with a kernel receive buffer of `receive_buffer_bytes`
  // (forced past rmem_max with CAP_NET_ADMIN). Returns PermissionDenied if
  // the kernel refuses the subscription (e.g. a security module), another
  // error if netlink is unavailable.
  static absl::StatusOr<std::unique_ptr<DestroyListener>> Open(
      int receive_buffer_bytes = 8 << 20);
  ~DestroyListener();
  DestroyListener(const DestroyListener&) = delete;
  DestroyListener& operator=(const DestroyListener&) = delete;

  // The socket, readable when messages are pending.
  int fd() const;

  // Reads every message pending now, calling `on_destroy` with the payload
  // (inet_diag_msg and attributes, at least sizeof(inetdiag::Msg) bytes,
  // attribute list well formed; writable, valid only during the call) of
  // each TCP destroy message. Returns how many were delivered. If the kernel
  // reported an overflow since the last call,
  // `*overflowed` is set (messages were lost; the caller should rely on
  // dump absence for what it missed) and stats().overflows counts it.
  size_t Drain(absl::FunctionRef<void(char* payload, size_t size)> on_destroy,
               bool* overflowed = nullptr);

  const Stats& stats() const { return stats_; }

  // The kernel receive buffer actually granted, in bytes.
  int receive_buffer_bytes() const { return receive_buffer_bytes_; }

 private:
  DestroyListener(mnl_socket* socket, int receive_buffer_bytes);

  mnl_socket* socket_;
  int receive_buffer_bytes_;
  Stats stats_;
  std::unique_ptr<char[]> buffer_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_DESTROY_LISTENER_H_
