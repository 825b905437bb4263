// Mirror of uapi/linux/inet_diag.h and the parts of uapi/linux/sock_diag.h
// that tcp-info uses: the request and reply structures of a NETLINK_SOCK_DIAG
// dump, the attribute types, and the attribute payload structures.
//
// All multi-byte fields are in host byte order except those marked
// big-endian (ports and addresses, as on the wire). Plain data.
#ifndef TCPINFO_INETDIAG_INET_DIAG_H_
#define TCPINFO_INETDIAG_INET_DIAG_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace inetdiag {

// Netlink message type of an inet_diag request and reply (SOCK_DIAG_BY_FAMILY).
inline constexpr uint16_t kSockDiagByFamily = 20;
// Multicast groups of NETLINK_SOCK_DIAG (enum sknetlink_groups).
inline constexpr unsigned kGroupInetTcpDestroy = 1;
inline constexpr unsigned kGroupInet6TcpDestroy = 3;

// Attribute types (enum { INET_DIAG_NONE, ... }).
enum Attribute : uint16_t {
  kNone = 0,
  kMemInfo = 1,
  kInfo = 2,
  kVegasInfo = 3,
  kCong = 4,
  kTos = 5,
  kTClass = 6,
  kSkMemInfo = 7,
  kShutdown = 8,
  kDctcpInfo = 9,
  kProtocol = 10,
  kSkV6Only = 11,
  kLocals = 12,
  kPeers = 13,
  kPad = 14,
  kMark = 15,
  kBbrInfo = 16,
  kClassId = 17,
  kMd5Sig = 18,
  kUlpInfo = 19,
  kSkBpfStorages = 20,
  kCgroupId = 21,
  kSockOpt = 22,
  kAttributeCount = 23,  // __INET_DIAG_MAX
};

// struct inet_diag_sockid.
struct SockId {
  uint16_t sport_be;  // big-endian
  uint16_t dport_be;  // big-endian
  uint32_t src[4];    // big-endian; IPv4 uses src[0] only
  uint32_t dst[4];    // big-endian; IPv4 uses dst[0] only
  uint32_t interface;
  uint32_t cookie[2];  // the kernel's socket cookie, cookie[0] low word
};
static_assert(sizeof(SockId) == 48);
static_assert(offsetof(SockId, src) == 4);
static_assert(offsetof(SockId, dst) == 20);
static_assert(offsetof(SockId, interface) == 36);
static_assert(offsetof(SockId, cookie) == 40);

// Returns the 64-bit socket cookie of `id`.
inline uint64_t Cookie(const SockId& id) {
  return static_cast<uint64_t>(id.cookie[1]) << 32 | id.cookie[0];
}

// struct inet_diag_req_v2: the dump request.
struct ReqV2 {
  uint8_t family;
  uint8_t protocol;
  uint8_t ext;  // bit (type - 1) requests attribute `type`, for type <= 8
  uint8_t pad;
  uint32_t states;  // bit s requests TCP state s
  SockId id;
};
static_assert(sizeof(ReqV2) == 56);
static_assert(offsetof(ReqV2, states) == 4);
static_assert(offsetof(ReqV2, id) == 8);

// struct inet_diag_msg: the fixed part of each reply.
struct Msg {
  uint8_t family;
  uint8_t state;
  uint8_t timer;
  uint8_t retrans;
  SockId id;
  uint32_t expires;
  uint32_t rqueue;
  uint32_t wqueue;
  uint32_t uid;
  uint32_t inode;
};
static_assert(sizeof(Msg) == 72);
static_assert(offsetof(Msg, id) == 4);
static_assert(offsetof(Msg, expires) == 52);
static_assert(offsetof(Msg, inode) == 68);

// struct tcp_diag_md5sig, one per TCP-MD5 key in an INET_DIAG_MD5SIG
// attribute: u8 tcpm_family, u8 tcpm_prefixlen, u16 tcpm_keylen,
// be32 tcpm_addr[4], u8 tcpm_key[80]. Offsets within one entry.
inline constexpr size_t kMd5SigEntrySize = 100;
inline constexpr size_t kMd5SigAddress = 4;
inline constexpr size_t kMd5SigKey = 20;
inline constexpr size_t kMd5SigKeySize = 80;

// The socket cookie of the inet_diag_msg at `msg` (any alignment), read
// without copying the rest. REQUIRES: `msg` holds sizeof(Msg) bytes.
inline uint64_t CookieOfMsg(const char* msg) {
  uint32_t words[2];
  std::memcpy(words, msg + offsetof(Msg, id) + offsetof(SockId, cookie), 8);
  return static_cast<uint64_t>(words[1]) << 32 | words[0];
}

// struct inet_diag_meminfo (INET_DIAG_MEMINFO).
struct MemInfo {
  uint32_t rmem;
  uint32_t wmem;
  uint32_t fmem;
  uint32_t tmem;
};
static_assert(sizeof(MemInfo) == 16);

// The u32 array of INET_DIAG_SKMEMINFO (SK_MEMINFO_VARS entries).
struct SkMemInfo {
  uint32_t rmem_alloc;
  uint32_t rcvbuf;
  uint32_t wmem_alloc;
  uint32_t sndbuf;
  uint32_t fwd_alloc;
  uint32_t wmem_queued;
  uint32_t optmem;
  uint32_t backlog;
  uint32_t drops;
};
static_assert(sizeof(SkMemInfo) == 36);
static_assert(offsetof(SkMemInfo, drops) == 32);

// struct tcpvegas_info (INET_DIAG_VEGASINFO).
struct VegasInfo {
  uint32_t enabled;
  uint32_t rttcnt;
  uint32_t rtt;
  uint32_t minrtt;
};
static_assert(sizeof(VegasInfo) == 16);

// struct tcp_dctcp_info (INET_DIAG_DCTCPINFO).
struct DctcpInfo {
  uint16_t enabled;
  uint16_t ce_state;
  uint32_t alpha;
  uint32_t ab_ecn;
  uint32_t ab_tot;
};
static_assert(sizeof(DctcpInfo) == 16);
static_assert(offsetof(DctcpInfo, alpha) == 4);

// struct tcp_bbr_info (INET_DIAG_BBRINFO).
struct BbrInfo {
  uint32_t bw_lo;        // lower 32 bits of the bandwidth estimate, bytes/s
  uint32_t bw_hi;        // upper 32 bits
  uint32_t min_rtt;      // microseconds
  uint32_t pacing_gain;  // fixed point, << 8
  uint32_t cwnd_gain;    // fixed point, << 8
};
static_assert(sizeof(BbrInfo) == 20);

// Request attribute carrying a filter program (INET_DIAG_REQ_BYTECODE).
inline constexpr uint16_t kReqBytecode = 1;

// Filter program operations (enum { INET_DIAG_BC_NOP, ... }).
enum BytecodeOp : uint8_t {
  kBcNop = 0,
  kBcJmp = 1,
  kBcSourceGe = 2,
  kBcSourceLe = 3,
  kBcDestGe = 4,
  kBcDestLe = 5,
  kBcAuto = 6,
  kBcSourceCond = 7,
  kBcDestCond = 8,
  kBcDevCond = 9,
  kBcMarkCond = 10,
  kBcSourceEq = 11,
  kBcDestEq = 12,
  kBcCgroupCond = 13,
};

// struct inet_diag_bc_op: one operation. After it ran, the program goes on
// `yes` bytes further if the operation held, else `no` bytes further; it
// accepts a socket by reaching exactly its end. A port comparison is
// followed by a second op whose `no` holds the port.
struct BcOp {
  uint8_t code;
  uint8_t yes;
  uint16_t no;
};
static_assert(sizeof(BcOp) == 4);

// struct inet_diag_hostcond, followed by 0 (AF_UNSPEC), 4 or 16 address
// bytes (big-endian). port -1 matches any port.
struct HostCond {
  uint8_t family;
  uint8_t prefix_len;
  int32_t port;
};
static_assert(sizeof(HostCond) == 8);
static_assert(offsetof(HostCond, port) == 4);

// Address families as in the kernel (AF_INET, AF_INET6).
inline constexpr uint8_t kAfUnspec = 0;
inline constexpr uint8_t kAfInet = 2;
inline constexpr uint8_t kAfInet6 = 10;

}  // namespace inetdiag

#endif  // TCPINFO_INETDIAG_INET_DIAG_H_
