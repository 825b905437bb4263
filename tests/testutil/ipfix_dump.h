// Helpers for tests of the IPFIX sink: a UDP socket that keeps every
// datagram it gets, and libfixbuf-tools' ipfixDump as the decoder of what
// arrived, its data records parsed into element name -> value text.
//
// Threading: a UdpSink belongs to one thread at a time; the functions are
// thread-safe.
#ifndef TCPINFO_TESTS_TESTUTIL_IPFIX_DUMP_H_
#define TCPINFO_TESTS_TESTUTIL_IPFIX_DUMP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "collector/ip_address.h"
#include "nlohmann/json.hpp"
#include "parse/timestamp.h"

namespace testutil {

// A UDP socket bound to `address` ("127.0.0.1", "::1", "10.77.0.1") on a
// port the kernel picks, in the network namespace of the thread that makes
// it. Fails the current test if it cannot bind.
class UdpSink {
 public:
  explicit UdpSink(const std::string& address);
  ~UdpSink();
  UdpSink(const UdpSink&) = delete;
  UdpSink& operator=(const UdpSink&) = delete;

  uint16_t port() const { return port_; }
  // Every datagram that arrives within `wait` of the previous one.
  std::vector<std::string> Drain(absl::Duration wait = absl::Milliseconds(300));

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// `messages` written one after the other to `path` (an IPFIX file, RFC
// 5655), decoded by `ipfixDump --rfc5610` (killed after 20 s): its output,
// warnings included.
std::string IpfixDump(const std::string& path,
                      const std::vector<std::string>& messages);

// One data record as ipfixDump prints it: element name -> value text.
using IpfixRecord = std::map<std::string, std::string>;

// The data records of templates 256 and 257 (the flow records) in
// ipfixDump's output, in order.
std::vector<IpfixRecord> ParseIpfixDump(const std::string& dump);

// A time and an IPv6 address as ipfixDump prints them:
// "2025-12-04 10:00:00.123" (UTC, milliseconds), "fd77::0002:0003".
std::string IpfixDumpTime(parse::Timestamp t);
std::string IpfixDumpIpv6(const collector::IpAddress& a);

// The elements of the ipfix sink's data record for a record in its JSON
// form (flows::AppendRecordJson), as ipfixDump prints them: every element
// the README's IPFIX table maps a column to, but tcpinfoTcpState (a number
// there, a name in JSON). Fails the test if a column it needs is missing.
IpfixRecord IpfixElementsOf(const nlohmann::json& j);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_IPFIX_DUMP_H_
