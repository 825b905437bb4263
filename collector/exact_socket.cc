#include "collector/exact_socket.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "inetdiag/exact_request.h"

namespace collector {
namespace {

// EINTR retries within one batch before giving up on it.
constexpr int kMaxSignalRetries = 64;
constexpr size_t kMinBatch = 8;

}  // namespace

bool WalkExactBuffer(char* data, size_t size, uint32_t first_sequence,
                     size_t count, uint32_t port_id, absl::Time received,
                     ExactResult* result, int64_t* answered,
                     DumpMessageHandler on_reply, ExactGoneHandler on_gone) {
  size_t remaining = size;
  char* at = data;
  bool first = true;
  while (remaining >= sizeof(struct nlmsghdr)) {
    struct nlmsghdr h;
    std::memcpy(&h, at, sizeof(h));
    if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > remaining) {
      result->Count(DumpIssue::kTruncated);
      return false;
    }
    if (h.nlmsg_pid != 0 && h.nlmsg_pid != port_id) {
      result->Count(DumpIssue::kBadPortId);
      return false;
    }
    const uint32_t index = h.nlmsg_seq - first_sequence;
    if (index >= count) {
      result->Count(DumpIssue::kBadSequence);
      return false;
    }
    char* payload = at + NLMSG_HDRLEN;
    const size_t payload_size = h.nlmsg_len - NLMSG_HDRLEN;
    switch (h.nlmsg_type) {
      case inetdiag::kSockDiagByFamily:
        ++*answered;
        ++result->replies;
        on_reply(
            DumpMessage{payload, payload_size, received, data, size, first});
        first = false;
        break;
      case NLMSG_ERROR: {
        int32_t error = 0;
        if (payload_size >= sizeof(error)) {
          std::memcpy(&error, payload, sizeof(error));
        }
        ++*answered;
        if (error == -ENOENT || error == -ESTALE) {
          ++result->gone;
          on_gone(index);
          break;
        }
        result->Count(DumpIssue::kNetlinkError);
        result->error = error < 0 ? -error : error;
        return false;
      }
      case NLMSG_NOOP:
        break;
      default:
        result->Count(DumpIssue::kBadType);
        break;
    }
    const size_t step = NLMSG_ALIGN(h.nlmsg_len);
    if (step >= remaining) break;
    at += step;
    remaining -= step;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<ExactSocket>> ExactSocket::Open(
    uint8_t extensions) {
  std::unique_ptr<ExactSocket> s(new ExactSocket());
  s->extensions_ = extensions;
  s->requests_.resize(kMaxBatch);
  s->buffers_ = std::make_unique<uint64_t[]>(kMaxBatch * kReplyBytes / 8);
  s->iovecs_.resize(kMaxBatch);
  s->messages_.resize(kMaxBatch);
  absl::Status status = s->Reopen();
  if (!status.ok()) return status;
  return s;
}

ExactSocket::~ExactSocket() { Close(); }

void ExactSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status ExactSocket::Reopen() {
  Close();
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open a NETLINK_SOCK_DIAG socket: ", std::strerror(errno)));
  }
  struct sockaddr_nl local {};
  local.nl_family = AF_NETLINK;
  socklen_t len = sizeof(local);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&local), sizeof(local)) < 0 ||
      getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &len) < 0) {
    const int e = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat(
        "cannot bind the NETLINK_SOCK_DIAG socket: ", std::strerror(e)));
  }
  // A batch's replies are queued before send() returns: the receive buffer
  // bounds the batch. Past net.core.rmem_max only with CAP_NET_ADMIN.
  int size = kKernelReceiveBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  len = sizeof(size);
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0) {
    kernel_receive_buffer_ = size;
  }
  // A reply's buffer costs the receive buffer about twice kReplyBytes
  // (skb overhead included); half the buffer is kept spare.
  const size_t fit =
      static_cast<size_t>(kernel_receive_buffer_) / (4 * kReplyBytes);
  batch_ = std::clamp(std::min(batch_, fit), kMinBatch, kMaxBatch);
  fd_ = fd;
  port_id_ = local.nl_pid;
  return absl::OkStatus();
}

bool ExactSocket::QueryBatch(const ExactTarget* targets, size_t n,
                             DumpMessageHandler on_reply,
                             ExactGoneHandler on_gone, size_t index_base,
                             ExactResult* result) {
  const uint32_t first = sequence_ + 1;
  sequence_ += static_cast<uint32_t>(n);
  for (size_t i = 0; i < n; ++i) {
    requests_[i] = inetdiag::MakeExactRequest(targets[i].family, targets[i].id,
                                              first + static_cast<uint32_t>(i),
                                              extensions_);
  }
  struct sockaddr_nl kernel {};
  kernel.nl_family = AF_NETLINK;
  const size_t bytes = n * sizeof(inetdiag::DumpRequest);
  ++result->sends;
  if (sendto(fd_, requests_.data(), bytes, 0,
             reinterpret_cast<struct sockaddr*>(&kernel),
             sizeof(kernel)) != static_cast<ssize_t>(bytes)) {
    result->Count(DumpIssue::kSocketError);
    result->error = errno;
    return false;
  }
  result->requests += static_cast<int64_t>(n);
  char* base = reinterpret_cast<char*>(buffers_.get());
  int64_t answered = 0;
  int signals = 0;
  while (answered < static_cast<int64_t>(n)) {
    const size_t want = std::min(n - static_cast<size_t>(answered), batch_);
    for (size_t i = 0; i < want; ++i) {
      iovecs_[i] = {base + i * kReplyBytes, kReplyBytes};
      messages_[i] = {};
      messages_[i].msg_hdr.msg_iov = &iovecs_[i];
      messages_[i].msg_hdr.msg_iovlen = 1;
    }
    const int got = recvmmsg(fd_, messages_.data(), static_cast<unsigned>(want),
                             MSG_DONTWAIT, nullptr);
    ++result->receives;
    if (got < 0) {
      const int e = errno;
      if (e == EINTR && ++signals <= kMaxSignalRetries) {
        result->Count(DumpIssue::kSignal);
        continue;
      }
      // EAGAIN: replies the kernel could not queue are lost (an overrun).
      result->Count(e == ENOBUFS || e == EAGAIN ? DumpIssue::kNoBuffers
                                                : DumpIssue::kSocketError);
      result->error = e;
      return false;
    }
    const absl::Time received = absl::Now();
    for (int i = 0; i < got; ++i) {
      if ((messages_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        result->Count(DumpIssue::kTruncated);
        return false;
      }
      auto gone = [&](size_t index) { on_gone(index_base + index); };
      if (!WalkExactBuffer(base + i * kReplyBytes, messages_[i].msg_len, first,
                           n, port_id_, received, result, &answered, on_reply,
                           gone)) {
        return false;
      }
    }
  }
  return true;
}

ExactResult ExactSocket::Query(absl::Span<const ExactTarget> targets,
                               DumpMessageHandler on_reply,
                               ExactGoneHandler on_gone) {
  ExactResult result;
  const auto start = std::chrono::steady_clock::now();
  bool ok = fd_ >= 0 || Reopen().ok();
  if (!ok) {
    result.Count(DumpIssue::kSocketError);
    result.error = errno;
  }
  for (size_t at = 0; ok && at < targets.size(); at += batch_) {
    const size_t n = std::min(batch_, targets.size() - at);
    ok = QueryBatch(targets.data() + at, n, on_reply, on_gone, at, &result);
  }
  if (!ok) {
    // Whatever is left of this query must never reach the next one; a
    // smaller batch is less likely to overrun the receive buffer.
    if (result.count(DumpIssue::kNoBuffers) > 0) {
      batch_ = std::max(kMinBatch, batch_ / 2);
    }
    Close();
  }
  result.complete = ok;
  result.elapsed = absl::FromChrono(std::chrono::steady_clock::now() - start);
  return result;
}

}  // namespace collector
