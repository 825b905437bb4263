// PostgresServer: a private PostgreSQL 15 server (Debian's binaries in
// /usr/lib/postgresql/15/bin) for tests and benchmarks, in a temporary
// directory of its own, removed however the owner ends.
//
//   Start()    initdb (superuser kUser with `password`, scram-sha-256 over
//              TCP, trust on the unix socket), then listens on 127.0.0.1 at
//              a free port and on a unix socket in the directory; returns
//              once pg_isready says it accepts connections. Run as `nobody`
//              when the caller is root (PostgreSQL refuses root), else as
//              the caller.
//   Stop()     pg_ctl stop -m fast; Restart() starts it again, same port.
//   ~          pg_ctl stop -m immediate, SIGKILL of the postmaster (its pid
//              from postmaster.pid) if still there, then the directory goes.
//              A reaper process started first does the same when the
//              owner's process ends without it (a crash, SIGKILL).
//
// Threading: the methods belong to the owner's thread; Query() opens its
// own connection, so other threads may use the server meanwhile.
#ifndef TCPINFO_TESTS_TESTUTIL_POSTGRES_SERVER_H_
#define TCPINFO_TESTS_TESTUTIL_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tests/testutil/reaper.h"

namespace testutil {

class PostgresServer {
 public:
  static constexpr char kUser[] = "tcpinfo";

  // `password`: kUser's. `durable`: fsync as in production (off saves
  // time in tests that do not measure).
  static absl::StatusOr<std::unique_ptr<PostgresServer>> Start(
      absl::string_view password, bool durable = false);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  absl::Status Stop();
  absl::Status Restart();

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // postgres://kUser:PASSWORD@127.0.0.1:PORT/postgres over TCP.
  std::string Uri(absl::string_view password) const;

  // Runs `sql` over the unix socket (trust); the rows of its last result,
  // each value as text ("<null>" for NULL).
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      const std::string& sql) const;

 private:
  PostgresServer() = default;
  absl::Status PgCtl(const std::vector<std::string>& args) const;
  // argv run as the server's user, output appended to dir_/commands.log.
  absl::Status RunAsServerUser(std::vector<std::string> argv) const;
  absl::Status WaitUntilReady() const;
  // Forks the reaper: a shell in its own session that waits for EOF on a
  // pipe only this process holds, then stops the server and removes dir_.
  absl::Status StartReaper();

  std::string dir_;
  uint16_t port_ = 0;
  Reaper reaper_;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_POSTGRES_SERVER_H_
