// InfluxServer: a private InfluxDB 1.x (Debian's influxd) for tests, in a
// temporary directory of its own, removed however the test ends.
//
//   Start()    writes a config with everything on loopback: HTTP on a free
//              port, the RPC (backup) service on another; reporting, the
//              monitor's store, the admin, graphite, collectd, opentsdb and
//              UDP services and continuous queries off. Starts influxd and
//              returns once GET /ping answers 204.
//   Stop()     SIGTERM (SIGKILL after 10 s); Restart() starts it again on
//              the same ports with the same data.
//   ~          Stop(), then the directory goes. A reaper process started
//              first kills influxd (its pid file) and removes the directory
//              when the owner's process ends without that (a crash,
//              SIGKILL, a ctest timeout).
//
// Threading: Start/Stop/Restart belong to the owner's thread; Query() uses
// its own connection, so any thread may call it.
#ifndef TCPINFO_TESTS_TESTUTIL_INFLUX_SERVER_H_
#define TCPINFO_TESTS_TESTUTIL_INFLUX_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/reaper.h"

namespace testutil {

class InfluxServer {
 public:
  // Reserve(): the directory, config and ports, influxd not started yet
  // (Restart() starts it), for a test whose server is down at first.
  // Start(): Reserve() and Restart().
  static absl::StatusOr<std::unique_ptr<InfluxServer>> Reserve();
  static absl::StatusOr<std::unique_ptr<InfluxServer>> Start();
  ~InfluxServer();
  InfluxServer(const InfluxServer&) = delete;
  InfluxServer& operator=(const InfluxServer&) = delete;

  absl::Status Stop();
  // Starts (again, or the first time after Reserve()).
  absl::Status Restart();

  uint16_t port() const { return port_; }
  // "127.0.0.1:PORT".
  std::string HostPort() const;
  const std::string& dir() const { return dir_; }

  // GET /query?db=DB&q=Q&epoch=ns (times as integer nanoseconds): the
  // response's JSON. An error when the request fails, the status is not
  // 200, or the first result carries an "error".
  absl::StatusOr<nlohmann::json> Query(absl::string_view q,
                                       absl::string_view db = "") const;
  // The "values" rows of the first series of the first result of `q` (an
  // empty array when it has no series).
  absl::StatusOr<nlohmann::json> Rows(absl::string_view q,
                                      absl::string_view db) const;

 private:
  InfluxServer() = default;
  absl::Status Prepare();
  absl::Status StartReaper();
  absl::Status WaitUntilReady();

  std::string dir_;
  uint16_t port_ = 0;
  uint16_t rpc_port_ = 0;
  pid_t pid_ = -1;
  Reaper reaper_;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_INFLUX_SERVER_H_
