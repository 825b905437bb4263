// Mirror of struct tcp_info from uapi/linux/tcp.h, as of Linux 6.18
// (280 bytes, with the AccECN counters). Older kernels send a shorter
// INET_DIAG_INFO attribute and newer ones a longer one; callers copy
// min(attribute length, sizeof(TcpInfo)) bytes into a zeroed TcpInfo and
// never read past either buffer.
//
// Plain data: no invariants, safe to copy between threads.
#ifndef TCPINFO_TCP_TCP_INFO_H_
#define TCPINFO_TCP_TCP_INFO_H_

#include <cstddef>
#include <cstdint>

namespace tcp {

// TCP states, as in include/net/tcp_states.h.
enum State : uint8_t {
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
  kNewSynRecv = 12,
  kBoundInactive = 13,
  kMaxStates = 14,
};

// Returns the kernel's upper-case name of `state` ("ESTABLISHED", ...), or
// "UNKNOWN" for values the kernel does not define.
const char* StateName(uint8_t state);

struct TcpInfo {
  uint8_t state;
  uint8_t ca_state;
  uint8_t retransmits;
  uint8_t probes;
  uint8_t backoff;
  uint8_t options;
  uint8_t wscale;       // snd_wscale in the low nibble, rcv_wscale in the high.
  uint8_t app_limited;  // bit 0: delivery_rate_app_limited; bits 1-2:
                        // fastopen_client_fail.

  uint32_t rto;
  uint32_t ato;
  uint32_t snd_mss;
  uint32_t rcv_mss;

  uint32_t unacked;
  uint32_t sacked;
  uint32_t lost;
  uint32_t retrans;
  uint32_t fackets;

  // Times, in milliseconds since the event.
  uint32_t last_data_sent;
  uint32_t last_ack_sent;
  uint32_t last_data_recv;
  uint32_t last_ack_recv;

  // Metrics.
  uint32_t pmtu;
  uint32_t rcv_ssthresh;
  uint32_t rtt;
  uint32_t rttvar;
  uint32_t snd_ssthresh;
  uint32_t snd_cwnd;
  uint32_t advmss;
  uint32_t reordering;

  uint32_t rcv_rtt;
  uint32_t rcv_space;

  uint32_t total_retrans;

  uint64_t pacing_rate;
  uint64_t max_pacing_rate;
  uint64_t bytes_acked;
  uint64_t bytes_received;
  uint32_t segs_out;
  uint32_t segs_in;

  uint32_t notsent_bytes;
  uint32_t min_rtt;
  uint32_t data_segs_in;
  uint32_t data_segs_out;

  uint64_t delivery_rate;

  uint64_t busy_time;
  uint64_t rwnd_limited;
  uint64_t sndbuf_limited;

  uint32_t delivered;
  uint32_t delivered_ce;

  uint64_t bytes_sent;
  uint64_t bytes_retrans;
  uint32_t dsack_dups;
  uint32_t reord_seen;

  uint32_t rcv_ooopack;

  uint32_t snd_wnd;
  uint32_t rcv_wnd;

  uint32_t rehash;

  uint16_t total_rto;
  uint16_t total_rto_recoveries;
  uint32_t total_rto_time;
  uint32_t received_ce;
  uint32_t delivered_e1_bytes;
  uint32_t delivered_e0_bytes;
  uint32_t delivered_ce_bytes;
  uint32_t received_e1_bytes;
  uint32_t received_e0_bytes;
  uint32_t received_ce_bytes;
  uint16_t accecn_fail_mode;
  uint16_t accecn_opt_seen;
};

static_assert(sizeof(TcpInfo) == 280, "struct tcp_info is 280 bytes in 6.18");
static_assert(offsetof(TcpInfo, rto) == 8);
static_assert(offsetof(TcpInfo, last_data_sent) == 44);
static_assert(offsetof(TcpInfo, pmtu) == 60);
static_assert(offsetof(TcpInfo, total_retrans) == 100);
static_assert(offsetof(TcpInfo, pacing_rate) == 104);
static_assert(offsetof(TcpInfo, segs_out) == 136);
static_assert(offsetof(TcpInfo, delivery_rate) == 160);
static_assert(offsetof(TcpInfo, busy_time) == 168);
static_assert(offsetof(TcpInfo, delivered) == 192);
static_assert(offsetof(TcpInfo, bytes_sent) == 200);
static_assert(offsetof(TcpInfo, dsack_dups) == 216);
static_assert(offsetof(TcpInfo, rcv_ooopack) == 224);
static_assert(offsetof(TcpInfo, snd_wnd) == 228);
static_assert(offsetof(TcpInfo, rcv_wnd) == 232);
static_assert(offsetof(TcpInfo, rehash) == 236);
static_assert(offsetof(TcpInfo, total_rto) == 240);
static_assert(offsetof(TcpInfo, total_rto_time) == 244);
static_assert(offsetof(TcpInfo, received_ce) == 248);
static_assert(offsetof(TcpInfo, accecn_fail_mode) == 276);

}  // namespace tcp

#endif  // TCPINFO_TCP_TCP_INFO_H_
