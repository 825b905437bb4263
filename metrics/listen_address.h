// ListenAddress: a Go listen address ("host:port", as
// -prometheusx.listen-address takes it) resolved to the socket address to
// bind, and the listening socket made from it.
//
//   ":9990"            every interface, IPv6 and IPv4 (one dual-stack
//                      socket on [::]; 0.0.0.0 when the kernel has no IPv6)
//   "localhost:9990"   the name resolved, an IPv4 address preferred as Go's
//                      net.Listen does: here 127.0.0.1
//   "127.0.0.1:9990"   that address
//   "[::1]:9990"       that IPv6 address (IPv6 only)
//
// Port 0 picks a free port. Stateless functions, callable from any thread.
#ifndef TCPINFO_METRICS_LISTEN_ADDRESS_H_
#define TCPINFO_METRICS_LISTEN_ADDRESS_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace metrics {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t length = 0;
  bool any = false;  // ":port": dual-stack [::], falling back to 0.0.0.0

  // "127.0.0.1:9990", "[::1]:9990", "[::]:9990".
  std::string ToString() const;
};

// Parses and resolves `address`. InvalidArgument on a malformed address, a
// bad port or a name that does not resolve.
absl::StatusOr<ListenAddress> ResolveListenAddress(absl::string_view address);

// A non-blocking, close-on-exec socket bound to `address` and listening.
// The error (one line, naming `address` as given by the user in `text`)
// says why binding failed: port in use, address not local, ...
absl::StatusOr<int> OpenListener(const ListenAddress& address,
                                 absl::string_view text);

// The port `fd` is bound to.
int BoundPort(int fd);

}  // namespace metrics

#endif  // TCPINFO_METRICS_LISTEN_ADDRESS_H_
