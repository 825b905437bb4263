// IpfixWriter: flow records as IPFIX (RFC 7011) to a collector, over UDP
// (ipfix://HOST:PORT) or TCP (ipfix+tcp://HOST:PORT), encoded by libfixbuf.
//
// Each record is one biflow (RFC 5103): source = the local end, destination
// = the remote end, octet/packet counts forward (local -> remote) and
// reverse. IANA information elements wherever one exists, the other TCP
// measurements as enterprise-specific elements under kTcpInfoEnterprise;
// the README's IPFIX section lists every element. IPv4 and IPv6 records
// use separate templates (256 and 257); RFC 5610 type records (options
// template 258) name and type the enterprise elements for the collector.
//
//   Connect()  opens the socket (TCP: connects, bounded by io_timeout; a
//              refused or unreachable collector is an error the runner
//              retries) and sends the templates.
//   Write()    packs the records into IPFIX messages of at most
//              udp_message_bytes / tcp_message_bytes and sends each. UDP is
//              fire and forget: a datagram handed to the kernel is written.
//              TCP: a record is written once its message was fully handed
//              to the kernel; on any failure the connection is dropped
//              and the next Connect() starts a new one with new templates
//              (a message cut short is discarded by the collector, so no
//              record arrives twice; what the kernel had buffered for a
//              dead connection is lost, as IPFIX over TCP has no acks).
//   Templates  (with the type records) over UDP are resent before the
//              first message after each template_interval (RFC 7011
//              section 8.4), and with every Connect(); over TCP once per
//              connection.
//
// Thread contract: as SinkWriter (one thread at a time). Every send and
// connect is bounded by io_timeout.
#ifndef TCPINFO_SINKS_IPFIX_WRITER_H_
#define TCPINFO_SINKS_IPFIX_WRITER_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"

namespace sinks {

// Private enterprise number of the tcp-info elements. tcp-info has no
// registered PEN yet: 32473 is the number IANA reserves for documentation
// and examples (RFC 5612), so it never collides with a real vendor's.
inline constexpr uint32_t kTcpInfoEnterprise = 32473;

// Template ids of the exported (external) templates.
inline constexpr uint16_t kIpfixTemplateIpv4 = 256;
inline constexpr uint16_t kIpfixTemplateIpv6 = 257;

struct IpfixOptions {
  absl::Duration template_interval = absl::Seconds(60);  // UDP resend
  uint32_t observation_domain = 0;
  absl::Duration io_timeout = absl::Seconds(5);  // connect, each send
  uint16_t udp_message_bytes = 1420;             // one datagram, no fragments
  uint16_t tcp_message_bytes = 8192;
};

// url.scheme is "ipfix" (UDP) or "ipfix+tcp"; url.hosts is "HOST:PORT"
// ("[v6]:PORT" for an IPv6 address). Contacts nothing until Connect().
std::unique_ptr<SinkWriter> NewIpfixWriter(const SinkUrl& url,
                                           const IpfixOptions& options);

}  // namespace sinks

#endif  // TCPINFO_SINKS_IPFIX_WRITER_H_
