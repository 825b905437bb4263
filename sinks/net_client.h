// NetClient: one client socket to "HOST:PORT" ("[v6]:PORT" for an IPv6
// address), UDP or TCP, whose connect and sends are bounded by a timeout,
// for writers that speak a protocol over a plain socket (ipfix_writer.cc).
//
//   UDP  an unconnected socket; Send() is one sendto() per message, so an
//        ICMP "port unreachable" from an absent collector never comes back
//        as an error (fire and forget).
//   TCP  Open() connects within the timeout; Send() writes the whole
//        message within the timeout (MSG_NOSIGNAL: a reset is an error, not
//        a SIGPIPE), else fails and the caller reopens.
//
// Thread contract: one thread at a time. Movable, not copyable.
#ifndef TCPINFO_SINKS_NET_CLIENT_H_
#define TCPINFO_SINKS_NET_CLIENT_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sinks {

// Splits "HOST:PORT" / "[v6]:PORT" into host (brackets removed) and port.
// InvalidArgument when there is no port or it is not 1-65535.
absl::StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(
    absl::string_view host_port);

class NetClient {
 public:
  enum class Transport { kUdp, kTcp };

  NetClient() = default;
  ~NetClient() { Close(); }
  NetClient(NetClient&& other) noexcept;
  NetClient& operator=(NetClient&& other) noexcept;
  NetClient(const NetClient&) = delete;
  NetClient& operator=(const NetClient&) = delete;

  // Resolves `host_port` and opens the socket (TCP: connects), closing any
  // socket open before. Unavailable when the host does not resolve or no
  // address accepts within `timeout`.
  absl::Status Open(Transport transport, absl::string_view host_port,
                    absl::Duration timeout);

  // Sends one message whole, within the timeout given to Open().
  // REQUIRES: is_open().
  absl::Status Send(const uint8_t* data, size_t size);

  bool is_open() const { return fd_ >= 0; }
  void Close();

 private:
  int fd_ = -1;
  Transport transport_ = Transport::kUdp;
  sockaddr_storage peer_{};
  socklen_t peer_len_ = 0;
  std::string peer_text_;  // for errors
  absl::Duration timeout_;
};

}  // namespace sinks

#endif  // TCPINFO_SINKS_NET_CLIENT_H_
