// Exact inet_diag requests: asking the kernel about known sockets one by
// one (inetdiag::MakeExactRequest: a hash lookup each) instead of walking
// its whole socket table, for the adaptive poller (collector.h).
//
//   ExactTarget      a socket to ask about: its family and inet_diag_sockid
//                    as a dump reported it (before anonymization), cookie
//                    included
//   ExactResult      what one Query() did
//   ExactSource      the interface (ExactSocket for the kernel, a scripted
//                    source in tests)
//   WalkExactBuffer  walks one received reply datagram (pure)
//   ExactSocket      the kernel implementation
//
// ExactSocket::Query() packs up to batch_size() requests back to back into
// one datagram (one send per batch), and receives the replies with
// recvmmsg(), batch_size() datagrams per call at most. The kernel answers
// every request of a datagram before send() returns, each with its own
// reply: so the replies are read without blocking (MSG_DONTWAIT), and a
// missing one means the kernel dropped it (the receive buffer overran).
// A batch is sized to the socket's kernel receive buffer (SO_RCVBUFFORCE
// when allowed) so that its replies fit; after an overrun, a truncated
// reply or any other irregularity the query stops, reports itself
// incomplete (the collector then falls back to a full dump), the socket is
// reopened so that no stale reply reaches the next query, and the batch
// size is halved.
//
// Thread contract: not thread-safe; owned by the polling thread.
#ifndef TCPINFO_COLLECTOR_EXACT_SOCKET_H_
#define TCPINFO_COLLECTOR_EXACT_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collector/netlink_dump.h"
#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"

namespace collector {

struct ExactTarget {
  uint8_t family = 0;
  inetdiag::SockId id{};
};

struct ExactResult {
  int64_t requests = 0;  // requests sent
  int64_t replies = 0;   // SOCK_DIAG_BY_FAMILY replies handed on
  int64_t gone = 0;      // answered ENOENT or ESTALE: no such socket now
  int64_t sends = 0;     // send calls (one per batch)
  int64_t receives = 0;  // recvmmsg calls
  // Every request was sent and answered, without irregularity.
  bool complete = false;
  int error = 0;  // errno of the last failure, or 0
  DumpIssueCounts issues{};
  absl::Duration elapsed;

  void Count(DumpIssue issue) { ++issues[static_cast<int>(issue)]; }
  int64_t count(DumpIssue issue) const {
    return issues[static_cast<int>(issue)];
  }
};

// Called with the index (into the targets) of a socket the kernel no
// longer has.
using ExactGoneHandler = absl::FunctionRef<void(size_t index)>;

class ExactSource {
 public:
  virtual ~ExactSource() = default;
  // Asks about every target, in order: each reply goes to `on_reply` (a
  // writable view valid during the call), each ENOENT/ESTALE answer to
  // `on_gone`. Never fails: problems are counted, and the result is then
  // not complete (some targets may have been answered, some not).
  virtual ExactResult Query(absl::Span<const ExactTarget> targets,
                            DumpMessageHandler on_reply,
                            ExactGoneHandler on_gone) = 0;
};

// Walks one reply datagram data[0, size) to the requests with sequence
// numbers first_sequence .. first_sequence + count - 1 (modulo 2^32) sent
// from `port_id`: hands each SOCK_DIAG_BY_FAMILY reply to `on_reply`, each
// ENOENT/ESTALE answer to `on_gone` (with the request's index), counts
// every answer in *answered, and anything else (another error, a reply to
// another request or socket, a malformed header) in `result`. Returns
// false after an irregularity that makes the query incomplete.
// REQUIRES: data is 4-byte aligned.
bool WalkExactBuffer(char* data, size_t size, uint32_t first_sequence,
                     size_t count, uint32_t port_id, absl::Time received,
                     ExactResult* result, int64_t* answered,
                     DumpMessageHandler on_reply, ExactGoneHandler on_gone);

class ExactSocket : public ExactSource {
 public:
  static constexpr size_t kMaxBatch = 256;
  // Room for one reply: an inet_diag_msg with every requested attribute is
  // about 600 bytes on 6.x kernels; a larger one is truncated (MSG_TRUNC)
  // and counted.
  static constexpr size_t kReplyBytes = 2048;
  static constexpr int kKernelReceiveBufferBytes = 8 << 20;

  // Opens the socket (asking for `extensions`, as the dumps). Fails if
  // NETLINK_SOCK_DIAG is unavailable.
  static absl::StatusOr<std::unique_ptr<ExactSocket>> Open(
      uint8_t extensions = inetdiag::kDumpExtensions);
  ~ExactSocket() override;
  ExactSocket(const ExactSocket&) = delete;
  ExactSocket& operator=(const ExactSocket&) = delete;

  ExactResult Query(absl::Span<const ExactTarget> targets,
                    DumpMessageHandler on_reply,
                    ExactGoneHandler on_gone) override;

  // Requests per send (and datagrams per recvmmsg) now.
  size_t batch_size() const { return batch_; }
  // SO_RCVBUF as the kernel reports it.
  int kernel_receive_buffer() const { return kernel_receive_buffer_; }

 private:
  ExactSocket() = default;
  absl::Status Reopen();
  void Close();
  // Sends and answers targets[0, n), n <= batch_; false on an irregularity.
  bool QueryBatch(const ExactTarget* targets, size_t n,
                  DumpMessageHandler on_reply, ExactGoneHandler on_gone,
                  size_t index_base, ExactResult* result);

  int fd_ = -1;
  uint32_t port_id_ = 0;
  uint32_t sequence_ = 0;
  uint8_t extensions_ = inetdiag::kDumpExtensions;
  int kernel_receive_buffer_ = 0;
  size_t batch_ = kMaxBatch;
  std::vector<inetdiag::DumpRequest> requests_;
  std::unique_ptr<uint64_t[]> buffers_;  // kMaxBatch * kReplyBytes, aligned
  std::vector<struct iovec> iovecs_;
  std::vector<struct mmsghdr> messages_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_EXACT_SOCKET_H_
