#include "tests/testutil/postgres_server.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/free_port.h"

namespace testutil {

namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";
constexpr uid_t kNobody = 65534;

absl::Status WriteFile(const std::string& path, absl::string_view text,
                       std::ios::openmode mode = std::ios::trunc) {
  std::ofstream out(path, std::ios::out | mode);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(
    absl::string_view password, bool durable) {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tcpinfo-pg-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern));
  }
  server->dir_ = pattern;
  if (absl::Status s = server->StartReaper(); !s.ok()) return s;
  const std::string pwfile = server->dir_ + "/pwfile";
  if (absl::Status s = WriteFile(pwfile, absl::StrCat(password, "\n"));
      !s.ok()) {
    return s;
  }
  if (geteuid() == 0 && (chown(server->dir_.c_str(), kNobody, kNobody) != 0 ||
                         chown(pwfile.c_str(), kNobody, kNobody) != 0)) {
    return absl::InternalError(absl::StrCat("chown nobody ", server->dir_));
  }
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  server->port_ = *port;

  const std::string data = server->dir_ + "/data";
  if (absl::Status s = server->RunAsServerUser(
          {absl::StrCat(kBin, "initdb"), "-D", data, "-U", kUser,
           "--pwfile=" + pwfile, "--auth-local=trust",
           "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-locale",
           "--no-sync"});
      !s.ok()) {
    return s;
  }
  std::string conf =
      absl::StrCat("listen_addresses = '127.0.0.1'\nport = ", server->port_,
                   "\nunix_socket_directories = '", server->dir_,
                   "'\nmax_connections = 30\nshared_buffers = 64MB\n");
  if (!durable) absl::StrAppend(&conf, "fsync = off\n");
  if (absl::Status s =
          WriteFile(data + "/postgresql.conf", conf, std::ios::app);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = server->Restart(); !s.ok()) return s;
  return server;
}

PostgresServer::~PostgresServer() {
  if (dir_.empty()) return;
  reaper_.Finish(absl::Seconds(20));  // stops the server, removes dir_
  // In case the reaper could not.
  const std::string pidfile = dir_ + "/data/postmaster.pid";
  if (std::filesystem::exists(pidfile)) {
    PgCtl({"stop", "-m", "immediate", "-w", "-t", "10"}).IgnoreError();
    std::ifstream in(pidfile);
    std::string line;
    int pid = 0;
    if (std::getline(in, line) && absl::SimpleAtoi(line, &pid) && pid > 0) {
      kill(pid, SIGKILL);
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status PostgresServer::Stop() {
  return PgCtl({"stop", "-m", "fast", "-w", "-t", "30"});
}

absl::Status PostgresServer::Restart() {
  if (absl::Status s =
          PgCtl({"start", "-w", "-t", "30", "-l", dir_ + "/server.log"});
      !s.ok()) {
    return s;
  }
  return WaitUntilReady();
}

std::string PostgresServer::Uri(absl::string_view password) const {
  return absl::StrCat("postgres://", kUser, ":", password, "@127.0.0.1:", port_,
                      "/postgres");
}

absl::StatusOr<std::vector<std::vector<std::string>>> PostgresServer::Query(
    const std::string& sql) const {
  const std::string conninfo =
      absl::StrCat("host=", dir_, " port=", port_, " user=", kUser,
                   " dbname=postgres connect_timeout=5");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect: ", error));
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::vector<std::vector<std::string>> rows;
  absl::Status outcome;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    for (int r = 0; r < PQntuples(result); ++r) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int c = 0; c < PQnfields(result); ++c) {
        row.push_back(PQgetisnull(result, r, c) ? "<null>"
                                                : PQgetvalue(result, r, c));
      }
    }
  } else {
    outcome = absl::InternalError(
        absl::StrCat(sql, ": ", PQresultErrorMessage(result)));
  }
  PQclear(result);
  PQfinish(conn);
  if (!outcome.ok()) return outcome;
  return rows;
}

absl::Status PostgresServer::StartReaper() {
  const std::string as_user =
      geteuid() == 0 ? "/usr/bin/setpriv --reuid=65534 --regid=65534 "
                       "--clear-groups -- "
                     : "";
  return reaper_.Start(absl::StrCat(
      as_user, "/usr/bin/env -C ", dir_, " ", kBin, "pg_ctl -D ", dir_,
      "/data stop -m immediate -w -t 10; pid=$(head -n1 ", dir_,
      "/data/postmaster.pid) && kill -9 \"$pid\"; rm -rf ", dir_));
}

absl::Status PostgresServer::PgCtl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {absl::StrCat(kBin, "pg_ctl"), "-D",
                                   dir_ + "/data"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunAsServerUser(std::move(argv));
}

absl::Status PostgresServer::RunAsServerUser(
    std::vector<std::string> argv) const {
  // In the directory, which the server's user can read (the caller's
  // working directory may not be).
  std::vector<std::string> prefix = {"/usr/bin/env", "-C", dir_};
  if (geteuid() == 0) {
    prefix = {"/usr/bin/setpriv",
              "--reuid=65534",
              "--regid=65534",
              "--clear-groups",
              "--",
              "/usr/bin/env",
              "-C",
              dir_};
  }
  const std::string line = absl::StrJoin(argv, " ");
  argv.insert(argv.begin(), prefix.begin(), prefix.end());
  const std::string log = dir_ + "/commands.log";
  const int code = Run(argv, log);
  if (code != 0) {
    return absl::InternalError(absl::StrCat(line, ": exit ", code, " (see ",
                                            log, "): ", ReadText(log)));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::WaitUntilReady() const {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    const int code = Run({absl::StrCat(kBin, "pg_isready"), "-q", "-h",
                          "127.0.0.1", "-p", absl::StrCat(port_), "-t", "2"},
                         "/dev/null");
    if (code == 0) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("pg_isready: server on port ", port_, " not ready in 30 s"));
}

}  // namespace testutil
