#include "tests/testutil/ipfix_dump.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace testutil {

UdpSink::UdpSink(const std::string& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    len = sizeof(*a4);
  } else if (inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    len = sizeof(*a6);
  } else {
    ADD_FAILURE() << "not an address: " << address;
    return;
  }
  fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int big = 8 << 20;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    ADD_FAILURE() << "bind " << address << ": " << strerror(errno);
    return;
  }
  port_ = ntohs(ss.ss_family == AF_INET6 ? a6->sin6_port : a4->sin_port);
}

UdpSink::~UdpSink() {
  if (fd_ >= 0) close(fd_);
}

std::vector<std::string> UdpSink::Drain(absl::Duration wait) {
  std::vector<std::string> out;
  pollfd p{fd_, POLLIN, 0};
  while (fd_ >= 0 &&
         poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) == 1) {
    std::string buf(65536, '\0');
    ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    buf.resize(static_cast<size_t>(n));
    out.push_back(std::move(buf));
  }
  return out;
}

std::string IpfixDump(const std::string& path,
                      const std::vector<std::string>& messages) {
  {
    std::ofstream f(path, std::ios::binary);
    for (const std::string& m : messages) f << m;
  }
  std::string out;
  std::string command =
      absl::StrCat("timeout 20 ipfixDump --rfc5610 --in '", path, "' 2>&1");
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::vector<IpfixRecord> ParseIpfixDump(const std::string& dump) {
  std::vector<IpfixRecord> records;
  bool in_flow = false;
  for (absl::string_view line : absl::StrSplit(dump, '\n')) {
    if (absl::StartsWith(line, "--- ")) {
      in_flow = false;
      continue;
    }
    if (absl::StartsWith(line, "\tcount:")) {  // a data record's header
      in_flow = absl::StrContains(line, "tid:   256") ||
                absl::StrContains(line, "tid:   257");
      if (in_flow) records.emplace_back();
      continue;
    }
    if (!in_flow || !absl::StartsWith(line, "\t(")) continue;
    size_t close = line.find(')');
    size_t colon = line.find(" : ");
    if (close == absl::string_view::npos || colon == absl::string_view::npos) {
      continue;
    }
    std::string name(
        absl::StripAsciiWhitespace(line.substr(close + 1, colon - close - 1)));
    records.back()[name] = std::string(line.substr(colon + 3));
  }
  return records;
}

std::string IpfixDumpTime(parse::Timestamp t) {
  return absl::FormatTime(
      "%Y-%m-%d %H:%M:%E3S",
      absl::FromUnixNanos(t.seconds * 1000000000LL + t.nanos),
      absl::UTCTimeZone());
}

std::string IpfixDumpIpv6(const collector::IpAddress& a) {
  std::vector<std::string> groups =
      absl::StrSplit(collector::FormatIpAddress(a), ':');
  for (std::string& g : groups) {
    if (!g.empty()) g.insert(0, 4 - g.size(), '0');
  }
  return absl::StrJoin(groups, ":");
}

}  // namespace testutil
