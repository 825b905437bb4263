#include "collector/dump_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inetdiag/request.h"

namespace collector {
namespace {

// A dump reply the kernel does not send within this time means a wedged
// socket: it is reset and the dump counted as failed.
constexpr int kReceiveTimeoutSeconds = 5;
// EINTR retries within one dump before giving up on it.
constexpr int kMaxSignalRetries = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<DumpSocket>> DumpSocket::Open(
    uint32_t states, uint8_t extensions) {
  return OpenWithQueries({inetdiag::DumpQuery{states, {}}}, extensions);
}

absl::StatusOr<std::unique_ptr<DumpSocket>> DumpSocket::OpenWithQueries(
    const std::vector<inetdiag::DumpQuery>& queries, uint8_t extensions) {
  std::unique_ptr<DumpSocket> s(new DumpSocket());
  for (const inetdiag::DumpQuery& q : queries) {
    s->requests_.push_back(inetdiag::MakeDumpRequestBytes(
        inetdiag::kAfInet, 0, q.states, extensions, q.bytecode));
  }
  s->buffer_ = std::make_unique<uint64_t[]>(kReceiveBufferBytes / 8);
  absl::Status status = s->Reopen();
  if (!status.ok()) return status;
  return s;
}

DumpSocket::~DumpSocket() { Close(); }

int DumpSocket::fd() const {
  return socket_ == nullptr ? -1 : mnl_socket_get_fd(socket_);
}

void DumpSocket::Close() {
  if (socket_ != nullptr) mnl_socket_close(socket_);
  socket_ = nullptr;
}

absl::Status DumpSocket::Reopen() {
  Close();
  struct mnl_socket* s = mnl_socket_open(NETLINK_SOCK_DIAG);
  if (s == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open a NETLINK_SOCK_DIAG socket: ", std::strerror(errno)));
  }
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int e = errno;
    mnl_socket_close(s);
    return absl::UnavailableError(absl::StrCat(
        "cannot bind the NETLINK_SOCK_DIAG socket: ", std::strerror(e)));
  }
  int size = kKernelReceiveBufferBytes;
  // Best effort: the default (net.core.rmem_default) is already well above
  // the 32 KiB a dump needs.
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  socklen_t len = sizeof(size);
  if (getsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &size, &len) ==
      0) {
    kernel_receive_buffer_ = size;
  }
  struct timeval timeout = {kReceiveTimeoutSeconds, 0};
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &timeout,
             sizeof(timeout));
  socket_ = s;
  port_id_ = mnl_socket_get_portid(s);
  return absl::OkStatus();
}

DumpResult DumpSocket::Dump(uint8_t family, DumpMessageHandler handler) {
  DumpResult result;
  result.family = family;
  // elapsed is measured on the monotonic clock: a step of the wall clock
  // neither shortens nor lengthens it. `received` is the wall clock.
  const auto start = std::chrono::steady_clock::now();
  auto since_start = [&] {
    return absl::FromChrono(std::chrono::steady_clock::now() - start);
  };
  auto fail = [&](DumpIssue issue, int error) {
    result.Count(issue);
    result.error = error;
    // Whatever is left of this dump must never reach the next one.
    Close();
  };
  if (socket_ == nullptr && !Reopen().ok()) {
    result.Count(DumpIssue::kSocketError);
    result.error = errno;
    result.elapsed = since_start();
    return result;
  }
  char* buffer = reinterpret_cast<char*>(buffer_.get());
  // One request per query (filter::Program), one after the other.
  bool done = true;
  for (std::vector<char>& request : requests_) {
    if (socket_ == nullptr) {
      done = false;
      break;
    }
    ++sequence_;
    if (sequence_ == 0) ++sequence_;  // 0 would disable the sequence check
    struct nlmsghdr* header =
        reinterpret_cast<struct nlmsghdr*>(request.data());
    header->nlmsg_seq = sequence_;
    request[NLMSG_HDRLEN + offsetof(inetdiag::ReqV2, family)] =
        static_cast<char>(family);
    if (mnl_socket_sendto(socket_, request.data(), request.size()) < 0) {
      fail(DumpIssue::kSocketError, errno);
      result.elapsed = since_start();
      return result;
    }
    done = false;
    int signals = 0;
    while (!done) {
      const ssize_t n =
          mnl_socket_recvfrom(socket_, buffer, kReceiveBufferBytes);
      if (n < 0) {
        const int e = errno;
        if (e == EINTR && ++signals <= kMaxSignalRetries) {
          result.Count(DumpIssue::kSignal);
          continue;
        }
        // mnl_socket_recvfrom reports MSG_TRUNC as ENOSPC.
        fail(e == ENOBUFS  ? DumpIssue::kNoBuffers
             : e == ENOSPC ? DumpIssue::kTruncated
                           : DumpIssue::kSocketError,
             e);
        break;
      }
      if (n == 0) {
        fail(DumpIssue::kSocketError, 0);
        break;
      }
      ++result.buffers;
      result.bytes += n;
      switch (WalkDumpBuffer(buffer, static_cast<size_t>(n), sequence_,
                             port_id_, absl::Now(), &result, handler)) {
        case WalkStatus::kMore:
          break;
        case WalkStatus::kDone:
          done = true;
          break;
        case WalkStatus::kAbort:  // the walk counted the cause
          Close();
          done = true;
          break;
      }
    }
  }
  result.elapsed = since_start();
  result.complete = done && socket_ != nullptr &&
                    result.count(DumpIssue::kInterrupted) == 0 &&
                    result.count(DumpIssue::kNetlinkError) == 0;
  return result;
}

}  // namespace collector
