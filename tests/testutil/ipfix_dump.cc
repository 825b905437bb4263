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
#include "absl/strings/str_format.h"
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

namespace {

std::string DumpAddress(const std::string& text, bool as_ipv6) {
  if (!as_ipv6) return text;
  absl::StatusOr<collector::IpAddress> a = collector::ParseIpAddress(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? IpfixDumpIpv6(*a) : text;
}

std::string DumpTime(const std::string& rfc3339) {
  absl::StatusOr<parse::Timestamp> t = parse::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? IpfixDumpTime(*t) : rfc3339;
}

}  // namespace

IpfixRecord IpfixElementsOf(const nlohmann::json& j) {
  auto num = [&](const char* column) {
    return std::to_string(j.at(column).get<uint64_t>());
  };
  auto text = [&](const char* column) {
    const std::string s = j.at(column).get<std::string>();
    return absl::StrCat("(len: ", s.size(), ") ", s);
  };
  const bool v6 = j.at("family") == "ipv6";
  IpfixRecord e;
  e["tcpinfoUuid"] = text("uuid");
  e["tcpinfoRecordSeq"] = num("seq");
  e["flowId"] = num("cookie");
  e[v6 ? "sourceIPv6Address" : "sourceIPv4Address"] =
      DumpAddress(j.at("local_addr"), v6);
  e[v6 ? "destinationIPv6Address" : "destinationIPv4Address"] =
      DumpAddress(j.at("remote_addr"), v6);
  e["sourceTransportPort"] = num("local_port");
  e["destinationTransportPort"] = num("remote_port");
  e["protocolIdentifier"] = "6";
  e["biflowDirection"] = j.at("direction") == "out" ? "1" : "2";
  e["tcpinfoCongestionAlgorithm"] = text("cc");
  e["flowStartMilliseconds"] = DumpTime(j.at("start_time"));
  e["flowEndMilliseconds"] = DumpTime(j.at("end_time"));
  const std::map<std::string, std::pair<const char*, const char*>> reasons = {
      {"interim", {"2", "0"}},
      {"destroyed", {"3", "1"}},
      {"absent", {"3", "2"}},
      {"daemon_stop", {"4", "3"}}};
  const auto& reason = reasons.at(j.at("end_reason"));
  e["flowEndReason"] = reason.first;
  e["tcpinfoEndReason"] = reason.second;
  const std::map<std::string, const char*> limits = {
      {"none", "0"}, {"sender", "1"}, {"receiver", "2"}, {"network", "3"}};
  e["tcpinfoLimitedBy"] = limits.at(j.at("limited_by"));
  e["octetDeltaCount"] = num("delta_bytes_sent");
  e["packetDeltaCount"] = num("delta_segs_out");
  e["reverseOctetDeltaCount"] = num("delta_bytes_received");
  e["reversePacketDeltaCount"] = num("delta_segs_in");
  e["tcpinfoOctetTotalCount"] = num("bytes_sent");
  e["reverseTcpinfoOctetTotalCount"] = num("bytes_received");
  e["tcpinfoPacketTotalCount"] = num("segs_out");
  e["reverseTcpinfoPacketTotalCount"] = num("segs_in");
  e["tcpinfoAckedOctetDeltaCount"] = num("delta_bytes_acked");
  e["tcpinfoAckedOctetTotalCount"] = num("bytes_acked");
  e["tcpinfoRetransOctetDeltaCount"] = num("delta_bytes_retrans");
  e["tcpinfoRetransOctetTotalCount"] = num("bytes_retrans");
  e["tcpinfoRetransPacketDeltaCount"] = num("delta_retrans_segs");
  e["tcpinfoRetransPacketTotalCount"] = num("retrans_segs");
  e["tcpinfoDataPacketDeltaCount"] = num("delta_data_segs_out");
  e["reverseTcpinfoDataPacketDeltaCount"] = num("delta_data_segs_in");
  e["tcpinfoDataPacketTotalCount"] = num("data_segs_out");
  e["reverseTcpinfoDataPacketTotalCount"] = num("data_segs_in");
  e["tcpinfoBusyMicrosecondsDelta"] = num("delta_busy_us");
  e["tcpinfoBusyMicrosecondsTotal"] = num("busy_us");
  e["tcpinfoRwndLimitedMicrosecondsDelta"] = num("delta_rwnd_limited_us");
  e["tcpinfoRwndLimitedMicrosecondsTotal"] = num("rwnd_limited_us");
  e["tcpinfoSndbufLimitedMicrosecondsDelta"] = num("delta_sndbuf_limited_us");
  e["tcpinfoSndbufLimitedMicrosecondsTotal"] = num("sndbuf_limited_us");
  e["tcpinfoMinRttMicroseconds"] = num("min_rtt_us");
  e["tcpinfoRttMicroseconds"] = num("rtt_us");
  e["tcpinfoMaxDeliveryRate"] = num("max_delivery_rate");
  e["tcpinfoProcessId"] = num("pid");
  e["tcpinfoProcessName"] = text("comm");
  e["tcpinfoUserId"] = num("uid");
  e["tcpinfoUserName"] = text("user_name");
  e["tcpinfoCgroupPath"] = text("cgroup");
  e["tcpinfoContainerId"] = text("container");
  e["tcpinfoSystemdUnit"] = text("unit");
  return e;
}

}  // namespace testutil
