#include "tests/testutil/influx_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sinks/http_client.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/free_port.h"

namespace testutil {

namespace {

constexpr char kInfluxd[] = "/usr/bin/influxd";

sinks::HttpClient::Options QueryOptions() {
  sinks::HttpClient::Options o;
  o.connect_timeout = absl::Seconds(2);
  o.timeout = absl::Seconds(10);
  o.max_body = 64 << 20;
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<InfluxServer>> InfluxServer::Reserve() {
  std::unique_ptr<InfluxServer> server(new InfluxServer());
  if (absl::Status s = server->Prepare(); !s.ok()) return s;
  return server;
}

absl::StatusOr<std::unique_ptr<InfluxServer>> InfluxServer::Start() {
  absl::StatusOr<std::unique_ptr<InfluxServer>> server = Reserve();
  if (!server.ok()) return server.status();
  if (absl::Status s = (*server)->Restart(); !s.ok()) return s;
  return server;
}

absl::Status InfluxServer::Prepare() {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/tcpinfo-influx-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern));
  }
  dir_ = pattern;
  if (absl::Status s = StartReaper(); !s.ok()) return s;
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  port_ = *port;
  port = FreeLoopbackPort();
  if (!port.ok()) return port.status();
  rpc_port_ = *port;
  if (rpc_port_ == port_) return absl::InternalError("the same port twice");
  const std::string conf = absl::StrCat(
      "reporting-enabled = false\n"
      "bind-address = \"127.0.0.1:",
      rpc_port_,
      "\"\n"
      "[meta]\n  dir = \"",
      dir_,
      "/meta\"\n"
      "  logging-enabled = false\n"
      "[data]\n  dir = \"",
      dir_, "/data\"\n  wal-dir = \"", dir_,
      "/wal\"\n"
      "  query-log-enabled = false\n"
      "  wal-fsync-delay = \"0s\"\n"
      "[monitor]\n  store-enabled = false\n"
      "[admin]\n  enabled = false\n"
      "[http]\n  enabled = true\n  bind-address = \"127.0.0.1:",
      port_,
      "\"\n  log-enabled = false\n"
      "[[graphite]]\n  enabled = false\n"
      "[[collectd]]\n  enabled = false\n"
      "[[opentsdb]]\n  enabled = false\n"
      "[[udp]]\n  enabled = false\n"
      "[continuous_queries]\n  enabled = false\n");
  std::ofstream out(dir_ + "/influxdb.conf");
  out << conf;
  out.close();
  if (!out) return absl::InternalError("cannot write influxdb.conf");
  return absl::OkStatus();
}

InfluxServer::~InfluxServer() {
  if (dir_.empty()) return;
  Stop().IgnoreError();
  reaper_.Finish(absl::Seconds(10));  // finds no influxd, removes dir_
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status InfluxServer::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("influxd is running");
  pid_ = Spawn({kInfluxd, "run", "-config", dir_ + "/influxdb.conf", "-pidfile",
                dir_ + "/influxd.pid"},
               dir_ + "/influxd.log");
  if (pid_ < 0) return absl::InternalError("fork");
  return WaitUntilReady();
}

absl::Status InfluxServer::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  kill(pid_, SIGTERM);
  int status = WaitFor(pid_, absl::Seconds(10));
  if (status < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  // Not left for the reaper to kill a reused pid.
  std::error_code ignored;
  std::filesystem::remove(dir_ + "/influxd.pid", ignored);
  return absl::OkStatus();
}

std::string InfluxServer::HostPort() const {
  return absl::StrCat("127.0.0.1:", port_);
}

absl::Status InfluxServer::WaitUntilReady() {
  sinks::HttpClient client(QueryOptions());
  const std::string url = absl::StrCat("http://", HostPort(), "/ping");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    absl::StatusOr<sinks::HttpResponse> r = client.Request("GET", url, "");
    if (r.ok() && r->status == 204) return absl::OkStatus();
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("influxd exited: ", ReadText(dir_ + "/influxd.log")));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("influxd on port ", port_, ": no /ping in 30 s"));
}

absl::StatusOr<nlohmann::json> InfluxServer::Query(absl::string_view q,
                                                   absl::string_view db) const {
  sinks::HttpClient client(QueryOptions());
  std::string url = absl::StrCat("http://", HostPort(),
                                 "/query?epoch=ns&q=", client.Escape(q));
  if (!db.empty()) absl::StrAppend(&url, "&db=", client.Escape(db));
  // CREATE and DROP must be POSTed; SELECT and SHOW may be.
  absl::StatusOr<sinks::HttpResponse> r = client.Request("POST", url, "");
  if (!r.ok()) return r.status();
  nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || body.is_discarded()) {
    return absl::InternalError(
        absl::StrCat(q, ": HTTP ", r->status, ": ", r->body));
  }
  const nlohmann::json& results = body["results"];
  if (results.is_array() && !results.empty() && results[0].contains("error")) {
    return absl::InternalError(
        absl::StrCat(q, ": ", results[0]["error"].dump()));
  }
  return body;
}

absl::StatusOr<nlohmann::json> InfluxServer::Rows(absl::string_view q,
                                                  absl::string_view db) const {
  absl::StatusOr<nlohmann::json> body = Query(q, db);
  if (!body.ok()) return body.status();
  const nlohmann::json& result = (*body)["results"][0];
  if (!result.contains("series")) return nlohmann::json::array();
  return result["series"][0]["values"];
}

absl::Status InfluxServer::StartReaper() {
  return reaper_.Start(absl::StrCat("pid=$(cat ", dir_,
                                    "/influxd.pid 2>/dev/null) && kill -9 "
                                    "\"$pid\"; sleep 0.2; rm -rf ",
                                    dir_));
}

}  // namespace testutil
