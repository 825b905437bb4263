// MetricsServer: serves the families of a set of collectables at /metrics,
// in the Prometheus text format as Go writes it (text_format.h), over
// HTTP/1.1 with keep-alive, on an address given as Go's
// -prometheusx.listen-address takes it (listen_address.h).
//
// One thread, one epoll set, non-blocking sockets: no client can hold
// anything another client needs. Every connection is bounded in time and
// memory (MetricsServerOptions): the request head must arrive whole within
// header_timeout and fit in max_request_head_bytes (else 431 and close);
// a connection with no request in progress is closed after idle_timeout;
// a response not taken by the client within write_timeout is dropped with
// its connection. Each connection holds at most one request head and one
// response. Beyond max_connections, accepting a new connection closes the
// one that has waited longest since it last made progress.
//
// GET and HEAD of /metrics (any query) answer 200 with Content-Length;
// paths under a route's prefix are the route's handler's (http_handler.h);
// other paths 404, other methods 405. Each scrape calls Collect() on the
// collectables from the server thread (requests handled in the same
// wake-up share one scrape); the polling thread never waits on it.
//
// Threading: Start and the destructor from one thread; the server's own
// thread does the rest.
#ifndef TCPINFO_METRICS_HTTP_SERVER_H_
#define TCPINFO_METRICS_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "metrics/http_handler.h"
#include "prometheus/collectable.h"

namespace metrics {

struct MetricsServerOptions {
  size_t max_connections = 512;
  size_t max_request_head_bytes = 8192;
  // For a whole request head: from accept, or from the first byte of the
  // next request on a kept-alive connection.
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};   // between requests
  std::chrono::milliseconds write_timeout{10000};  // for one response
  // SO_SNDBUF of each connection, so that what the kernel holds for a
  // client that does not read stays bounded too; 0 leaves the kernel's
  // autotuning (up to tcp_wmem's maximum, 4 MiB by default).
  size_t send_buffer_bytes = 256 * 1024;
};

class MetricsServer {
 public:
  // Listens on `address` and serves the families of every collectable at
  // /metrics. Keeps the collectables alive. Fails with one line if the
  // address is malformed or cannot be bound. `routes` (first match wins)
  // serve other paths; none may take /metrics.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      absl::string_view address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
      const MetricsServerOptions& options = {},
      std::vector<HttpRoute> routes = {});
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound (the chosen one when asked for port 0).
  int port() const;

  // Stops serving and closes every connection; returns within
  // milliseconds.
  ~MetricsServer();

 private:
  class Loop;
  explicit MetricsServer(std::unique_ptr<Loop> loop);
  std::unique_ptr<Loop> loop_;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_HTTP_SERVER_H_
