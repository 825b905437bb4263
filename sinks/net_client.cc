#include "sinks/net_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sinks {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// Connects the non-blocking `fd` within `timeout`; errno-style result.
int ConnectWithin(int fd, const sockaddr* addr, socklen_t len,
                  absl::Duration timeout) {
  if (connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (n == 0) return ETIMEDOUT;
  if (n < 0) return errno;
  int error = 0;
  socklen_t error_len = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0) {
    return errno;
  }
  return error;
}

}  // namespace

absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(
    absl::string_view host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_port, "\": no :PORT"));
  }
  absl::string_view host = host_port.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(host_port.substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_port, "\": bad port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", host_port, "\": no host"));
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

NetClient::NetClient(NetClient&& other) noexcept { *this = std::move(other); }

NetClient& NetClient::operator=(NetClient&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    transport_ = other.transport_;
    peer_ = other.peer_;
    peer_len_ = other.peer_len_;
    peer_text_ = std::move(other.peer_text_);
    timeout_ = other.timeout_;
  }
  return *this;
}

void NetClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

absl::Status NetClient::Open(Transport transport, absl::string_view host_port,
                             absl::Duration timeout) {
  Close();
  absl::StatusOr<std::pair<std::string, uint16_t>> split =
      SplitHostPort(host_port);
  if (!split.ok()) return split.status();
  transport_ = transport;
  timeout_ = timeout;
  peer_text_ = std::string(host_port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = transport == Transport::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = absl::StrCat(split->second);
  int rc = getaddrinfo(split->first.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat(peer_text_, ": ", gai_strerror(rc)));
  }
  int last_error = EADDRNOTAVAIL;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    if (transport == Transport::kTcp) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      last_error = ConnectWithin(fd, ai->ai_addr, ai->ai_addrlen, timeout);
      if (last_error != 0) {
        close(fd);
        continue;
      }
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    timeval tv = absl::ToTimeval(timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::memcpy(&peer_, ai->ai_addr, ai->ai_addrlen);
    peer_len_ = ai->ai_addrlen;
    fd_ = fd;
    break;
  }
  freeaddrinfo(found);
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat(peer_text_, ": ", ErrnoText(last_error)));
  }
  return absl::OkStatus();
}

absl::Status NetClient::Send(const uint8_t* data, size_t size) {
  if (transport_ == Transport::kUdp) {
    ssize_t n = sendto(fd_, data, size, 0,
                       reinterpret_cast<const sockaddr*>(&peer_), peer_len_);
    if (n == static_cast<ssize_t>(size)) return absl::OkStatus();
    int error = n < 0 ? errno : EMSGSIZE;
    return absl::UnavailableError(
        absl::StrCat(peer_text_, ": send: ", ErrnoText(error)));
  }
  absl::Time deadline = absl::Now() + timeout_;
  while (size > 0) {
    ssize_t n = send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    int error = n < 0 ? errno : EPIPE;
    if (error == EINTR && absl::Now() < deadline) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) error = ETIMEDOUT;
    Close();  // the stream is cut mid-message: only a new one can go on
    return absl::UnavailableError(
        absl::StrCat(peer_text_, ": send: ", ErrnoText(error)));
  }
  return absl::OkStatus();
}

}  // namespace sinks
