// DumpSocket: the collector's one long-lived NETLINK_SOCK_DIAG socket (via
// libmnl), reused for every dump, with a large kernel receive buffer and a
// userspace receive buffer of the same order (64 KiB: the kernel sizes each
// dump reply to the reader's buffer, and libmnl's 4-8 KiB default costs ~15 %
// more kernel time). Dump() sends inetdiag::MakeDumpRequestBytes() (one
// request per query: a -filter may need several, each with its states and
// bytecode) and walks the replies as they arrive, handing each inet_diag
// message, as a writable view into the receive buffer, to a callback.
//
// After a protocol violation, a truncated reply, ENOBUFS or a socket error
// the socket is closed and a fresh one opened for the next dump, so that no
// stale reply can be mistaken for a new one.
//
// Thread contract: not thread-safe; owned by the polling thread. fd() may be
// polled by that thread.
#ifndef TCPINFO_COLLECTOR_DUMP_SOCKET_H_
#define TCPINFO_COLLECTOR_DUMP_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "collector/netlink_dump.h"
#include "inetdiag/request.h"

struct mnl_socket;

namespace collector {

class DumpSocket : public DumpSource {
 public:
  static constexpr size_t kReceiveBufferBytes = 64 * 1024;
  static constexpr int kKernelReceiveBufferBytes = 1 << 20;

  // Opens and binds the socket, whose dumps ask for the sockets in `states`
  // with the attributes `extensions` (inetdiag::MakeDumpRequest; the
  // defaults are the collector's). Fails if NETLINK_SOCK_DIAG is
  // unavailable.
  static absl::StatusOr<std::unique_ptr<DumpSocket>> Open(
      uint32_t states = inetdiag::kDumpStates,
      uint8_t extensions = inetdiag::kDumpExtensions);
  // The same, sending one request per query in `queries` for each family
  // (its states, and its bytecode if any); with no query a dump returns
  // nothing, complete.
  static absl::StatusOr<std::unique_ptr<DumpSocket>> OpenWithQueries(
      const std::vector<inetdiag::DumpQuery>& queries,
      uint8_t extensions = inetdiag::kDumpExtensions);
  ~DumpSocket() override;
  DumpSocket(const DumpSocket&) = delete;
  DumpSocket& operator=(const DumpSocket&) = delete;

  // Dumps every TCP socket of `family` (inetdiag::kAfInet or kAfInet6),
  // calling `handler` for each one, in the kernel's order. The views handed
  // to `handler` are valid only during the call. Never fails: problems are
  // counted in the result, which is then not complete.
  DumpResult Dump(uint8_t family, DumpMessageHandler handler) override;

  // The socket's file descriptor, or -1 while it is being reopened.
  int fd() const;
  // SO_RCVBUF as the kernel reports it.
  int kernel_receive_buffer() const { return kernel_receive_buffer_; }

 private:
  DumpSocket() = default;
  absl::Status Reopen();
  void Close();

  struct mnl_socket* socket_ = nullptr;
  uint32_t port_id_ = 0;
  uint32_t sequence_ = 0;
  std::vector<std::vector<char>> requests_;  // patched per dump
  int kernel_receive_buffer_ = 0;
  std::unique_ptr<uint64_t[]> buffer_;  // 8-byte aligned
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_DUMP_SOCKET_H_
