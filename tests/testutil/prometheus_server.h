// PrometheusServer: Debian's Prometheus server (/usr/bin/prometheus) for
// tests, on loopback, in a temporary directory of its own, scraping the
// targets it is given; stopped and removed however the test ends.
//
//   Start()   writes prometheus.yml (one job, `targets`, every
//             `scrape_interval`), starts the server (in network namespace
//             `netns` when given, through `ip netns exec`) on 127.0.0.1 at
//             a port free there, and returns once /-/ready answers (at most
//             30 s). The server dies with the test process (PDEATHSIG).
//   Query()   an instant query (/api/v1/query) at the server's now: the
//             result vector, each sample's labels and value.
//   LabelValues()  /api/v1/label/<name>/values for series of `match`, as
//             Grafana's label_values(match, name) asks.
//   ~         SIGTERM, SIGKILL after 10 s, then the directory goes.
//
// Threading: belongs to the test's thread; queries open their own
// connection (from a child process when in a namespace).
#ifndef TCPINFO_TESTS_TESTUTIL_PROMETHEUS_SERVER_H_
#define TCPINFO_TESTS_TESTUTIL_PROMETHEUS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace testutil {

struct PrometheusOptions {
  std::vector<std::string> targets;  // host:port, scraped at /metrics
  absl::Duration scrape_interval = absl::Seconds(1);
  std::string netns;  // name under /var/run/netns; "" for this namespace
};

struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class PrometheusServer {
 public:
  static absl::StatusOr<std::unique_ptr<PrometheusServer>> Start(
      PrometheusOptions options);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // InvalidArgument with Prometheus' error for a query it refuses.
  absl::StatusOr<std::vector<PromSample>> Query(absl::string_view promql) const;
  absl::StatusOr<std::vector<std::string>> LabelValues(
      absl::string_view name, absl::string_view match) const;

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string log() const { return dir_ + "/prometheus.log"; }

 private:
  PrometheusServer() = default;
  // GET `path` from the server; its body ("" on failure).
  std::string Get(const std::string& path) const;

  PrometheusOptions options_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// `text` percent-encoded for a URL query value.
std::string UrlEncode(absl::string_view text);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_PROMETHEUS_SERVER_H_
