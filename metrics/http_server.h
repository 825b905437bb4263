// MetricsServer: serves /metrics over HTTP with prometheus::Exposer, on an
// address given as Go's -prometheusx.listen-address takes it.
//
// Addresses ("host:port", port 0 for any free port):
//   ":9990"            every interface (IPv6 too if civetweb was built with
//                      it; the Debian build is IPv4-only)
//   "localhost:9990"   the name resolved, an IPv4 address preferred as Go's
//                      net.Listen does: here 127.0.0.1
//   "127.0.0.1:9990"   that address
//   "[::1]:9990"       that IPv6 address (needs civetweb with IPv6; fails
//                      with a clear message otherwise)
//
// Threading: the Exposer's threads answer scrapes; Start and the destructor
// from one thread.
#ifndef TCPINFO_METRICS_HTTP_SERVER_H_
#define TCPINFO_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"

namespace prometheus {
class Exposer;
}

namespace metrics {

// The civetweb "listening_ports" values to try, in order, for a Go listen
// address. Fails with InvalidArgument on a malformed address or a name
// that does not resolve.
absl::StatusOr<std::vector<std::string>> CivetwebListeningPorts(
    absl::string_view address);

class MetricsServer {
 public:
  // Listens on `address` and serves the families of every collectable at
  // /metrics (in order). Keeps the collectables alive. Fails with one line
  // if the address is malformed or cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound (the chosen one when asked for port 0).
  int port() const { return port_; }

  // Stops serving; takes milliseconds (see the .cc).
  ~MetricsServer();

 private:
  MetricsServer() = default;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  std::string wake_host_;  // an address of ours that reaches the listener
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_HTTP_SERVER_H_
