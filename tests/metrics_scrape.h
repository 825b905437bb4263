// Test helpers for /metrics pages: a minimal HTTP/1.0 GET (optionally from
// inside a network namespace) and a parser of the Prometheus text format
// that keeps what the tests compare: per family its HELP, TYPE, label names
// and, for histograms, the bucket bounds as written and as doubles.
#ifndef TCPINFO_TESTS_METRICS_SCRAPE_H_
#define TCPINFO_TESTS_METRICS_SCRAPE_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace testutil {

// GET http://<ipv4>:<port><path>; the body, or "" on any failure. With a
// `netns` name, the request is made from a child process that joined
// /var/run/netns/<netns>.
inline std::string HttpGet(const std::string& ipv4, int port,
                           const std::string& path,
                           const std::string& netns = "") {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return "";
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    if (!netns.empty()) {
      const std::string ns_path = "/var/run/netns/" + netns;
      int ns = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      _exit(3);
    }
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + ipv4 +
                                "\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) < 0) _exit(4);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
      if (write(pipe_fds[1], buf, n) != n) _exit(5);
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string response;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) response.append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "";
  const size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") ||
      response.find(" 200 ") == std::string::npos ||
      body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

struct ScrapedFamily {
  std::string help;
  std::string type;
  std::set<std::string> label_names;  // without "le"
  // Bucket bounds of the first series, in order, as written and parsed.
  std::vector<std::string> le_text;
  std::vector<double> le;
  // Every sample: "name{labels}" -> value.
  std::map<std::string, double> samples;
};

// The family a sample name belongs to, given the known family names.
inline std::string FamilyOf(const std::map<std::string, ScrapedFamily>& f,
                            absl::string_view sample) {
  if (f.count(std::string(sample))) return std::string(sample);
  for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
    absl::string_view base = sample;
    if (absl::ConsumeSuffix(&base, suffix) && f.count(std::string(base))) {
      return std::string(base);
    }
  }
  return "";
}

inline std::map<std::string, ScrapedFamily> ParseExposition(
    absl::string_view text) {
  std::map<std::string, ScrapedFamily> families;
  std::map<std::string, std::string> first_series;  // family -> labels
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits(' ', 1));
      families[kv.first].help = kv.second;
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits(' ', 1));
      families[kv.first].type = kv.second;
      continue;
    }
    if (line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    const absl::string_view name =
        line.substr(0, std::min(brace, line.find(' ')));
    const std::string family = FamilyOf(families, name);
    if (family.empty()) continue;
    ScrapedFamily& f = families[family];
    double value = 0;
    absl::string_view value_text = line.substr(space + 1);
    if (value_text == "+Inf") {
      value = INFINITY;
    } else if (!absl::SimpleAtod(value_text, &value)) {
      continue;
    }
    f.samples[std::string(line.substr(0, space))] = value;
    if (brace == absl::string_view::npos) continue;
    const absl::string_view labels =
        line.substr(brace + 1, line.find('}') - brace - 1);
    std::string other_labels, le;
    for (absl::string_view kv : absl::StrSplit(labels, ',')) {
      std::pair<absl::string_view, absl::string_view> p =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      absl::string_view v = p.second;
      absl::ConsumePrefix(&v, "\"");
      absl::ConsumeSuffix(&v, "\"");
      if (p.first == "le") {
        le = std::string(v);
      } else {
        f.label_names.insert(std::string(p.first));
        other_labels += std::string(kv) + ",";
      }
    }
    if (le.empty() || !absl::EndsWith(name, "_bucket")) continue;
    auto [it, inserted] = first_series.emplace(family, other_labels);
    if (it->second != other_labels) continue;
    f.le_text.push_back(le);
    f.le.push_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr));
  }
  return families;
}

}  // namespace testutil

#endif  // TCPINFO_TESTS_METRICS_SCRAPE_H_
