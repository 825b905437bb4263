#include "tests/testutil/prometheus_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/metrics_scrape.h"
#include "tests/testutil/farm.h"

namespace testutil {

namespace {

// A port nobody listens on at 127.0.0.1 of the calling thread's namespace.
uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PrometheusServer>> PrometheusServer::Start(
    PrometheusOptions options) {
  std::unique_ptr<PrometheusServer> s(new PrometheusServer());
  s->options_ = std::move(options);
  std::string pattern = "/tmp/tcpinfo_prometheus_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  s->dir_ = pattern;
  if (s->options_.netns.empty()) {
    s->port_ = FreeLoopbackPort();
  } else {
    InNamespace("/var/run/netns/" + s->options_.netns,
                [&] { s->port_ = FreeLoopbackPort(); });
  }
  if (s->port_ == 0) return absl::InternalError("no free port");
  std::string targets;
  for (const std::string& t : s->options_.targets) {
    absl::StrAppend(&targets, targets.empty() ? "" : ", ", "'", t, "'");
  }
  const std::string interval = absl::StrCat(
      absl::ToInt64Milliseconds(s->options_.scrape_interval), "ms");
  {
    std::ofstream config(s->dir_ + "/prometheus.yml");
    config << "global:\n  scrape_interval: " << interval
           << "\n  evaluation_interval: " << interval
           << "\nscrape_configs:\n  - job_name: tcp-info\n"
           << "    static_configs:\n      - targets: [" << targets << "]\n";
    if (!config) return absl::InternalError("cannot write prometheus.yml");
  }
  std::vector<std::string> argv;
  if (!s->options_.netns.empty()) {
    argv = {"/usr/bin/ip", "netns", "exec", s->options_.netns};
  }
  for (const std::string& a :
       {std::string("/usr/bin/prometheus"),
        "--config.file=" + s->dir_ + "/prometheus.yml",
        "--storage.tsdb.path=" + s->dir_ + "/data",
        absl::StrCat("--web.listen-address=127.0.0.1:", s->port_),
        std::string("--log.level=warn")}) {
    argv.push_back(a);
  }
  const std::string log = s->log();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Dies with the test, however it ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  s->pid_ = pid;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (s->Get("/-/ready").empty()) {
    if (absl::Now() > deadline || WaitFor(pid, absl::ZeroDuration()) != -1) {
      return absl::UnavailableError(
          absl::StrCat("prometheus did not become ready: ", ReadText(log)));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return s;
}

PrometheusServer::~PrometheusServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (WaitFor(pid_, absl::Seconds(10)) == -1) {
      kill(pid_, SIGKILL);
      WaitFor(pid_, absl::Seconds(5));
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PrometheusServer::Get(const std::string& path) const {
  return HttpGet("127.0.0.1", port_, path, options_.netns);
}

absl::StatusOr<std::vector<PromSample>> PrometheusServer::Query(
    absl::string_view promql) const {
  const std::string body =
      Get(absl::StrCat("/api/v1/query?query=", UrlEncode(promql)));
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no answer to ", promql, ": ", body));
  }
  if (j.value("status", "") != "success") {
    return absl::InvalidArgumentError(
        absl::StrCat(promql, ": ", j.value("error", "")));
  }
  std::vector<PromSample> out;
  const nlohmann::json& data = j["data"];
  if (data.value("resultType", "") != "vector") {
    return absl::InvalidArgumentError(
        absl::StrCat(promql, ": not a vector: ", body));
  }
  for (const nlohmann::json& r : data["result"]) {
    PromSample s;
    for (const auto& [k, v] : r["metric"].items()) {
      s.labels[k] = v.get<std::string>();
    }
    s.value = std::strtod(r["value"][1].get<std::string>().c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> PrometheusServer::LabelValues(
    absl::string_view name, absl::string_view match) const {
  const std::string body = Get(absl::StrCat(
      "/api/v1/label/", name, "/values?match[]=", UrlEncode(match)));
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") {
    return absl::InvalidArgumentError(absl::StrCat("label values: ", body));
  }
  return j["data"].get<std::vector<std::string>>();
}

}  // namespace testutil
