#include "parse/snapshot_json.h"

#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "parse/field_format.h"

namespace parse {
namespace {

// How a tcp_info field is printed.
enum class Kind { kUnsigned, kSigned };

struct TcpField {
  const char* name;
  size_t offset;
  size_t size;
  Kind kind;
};

#define TCP_FIELD(name, member, kind)                                   \
  TcpField {                                                            \
    name, offsetof(tcp::TcpInfo, member), sizeof(tcp::TcpInfo::member), \
        Kind::kind                                                      \
  }

// Names as the reference's LinuxTCPInfo has them (LastAckRecv spelled
// right), then the fields of newer kernels.
constexpr TcpField kTcpFields[] = {
    TCP_FIELD("State", state, kUnsigned),
    TCP_FIELD("CAState", ca_state, kUnsigned),
    TCP_FIELD("Retransmits", retransmits, kUnsigned),
    TCP_FIELD("Probes", probes, kUnsigned),
    TCP_FIELD("Backoff", backoff, kUnsigned),
    TCP_FIELD("Options", options, kUnsigned),
    TCP_FIELD("WScale", wscale, kUnsigned),
    TCP_FIELD("AppLimited", app_limited, kUnsigned),
    TCP_FIELD("RTO", rto, kUnsigned),
    TCP_FIELD("ATO", ato, kUnsigned),
    TCP_FIELD("SndMSS", snd_mss, kUnsigned),
    TCP_FIELD("RcvMSS", rcv_mss, kUnsigned),
    TCP_FIELD("Unacked", unacked, kUnsigned),
    TCP_FIELD("Sacked", sacked, kUnsigned),
    TCP_FIELD("Lost", lost, kUnsigned),
    TCP_FIELD("Retrans", retrans, kUnsigned),
    TCP_FIELD("Fackets", fackets, kUnsigned),
    TCP_FIELD("LastDataSent", last_data_sent, kUnsigned),
    TCP_FIELD("LastAckSent", last_ack_sent, kUnsigned),
    TCP_FIELD("LastDataRecv", last_data_recv, kUnsigned),
    TCP_FIELD("LastAckRecv", last_ack_recv, kUnsigned),
    TCP_FIELD("PMTU", pmtu, kUnsigned),
    TCP_FIELD("RcvSsThresh", rcv_ssthresh, kUnsigned),
    TCP_FIELD("RTT", rtt, kUnsigned),
    TCP_FIELD("RTTVar", rttvar, kUnsigned),
    TCP_FIELD("SndSsThresh", snd_ssthresh, kUnsigned),
    TCP_FIELD("SndCwnd", snd_cwnd, kUnsigned),
    TCP_FIELD("AdvMSS", advmss, kUnsigned),
    TCP_FIELD("Reordering", reordering, kUnsigned),
    TCP_FIELD("RcvRTT", rcv_rtt, kUnsigned),
    TCP_FIELD("RcvSpace", rcv_space, kUnsigned),
    TCP_FIELD("TotalRetrans", total_retrans, kUnsigned),
    TCP_FIELD("PacingRate", pacing_rate, kSigned),
    TCP_FIELD("MaxPacingRate", max_pacing_rate, kSigned),
    TCP_FIELD("BytesAcked", bytes_acked, kSigned),
    TCP_FIELD("BytesReceived", bytes_received, kSigned),
    TCP_FIELD("SegsOut", segs_out, kSigned),
    TCP_FIELD("SegsIn", segs_in, kSigned),
    TCP_FIELD("NotsentBytes", notsent_bytes, kUnsigned),
    TCP_FIELD("MinRTT", min_rtt, kUnsigned),
    TCP_FIELD("DataSegsIn", data_segs_in, kUnsigned),
    TCP_FIELD("DataSegsOut", data_segs_out, kUnsigned),
    TCP_FIELD("DeliveryRate", delivery_rate, kSigned),
    TCP_FIELD("BusyTime", busy_time, kSigned),
    TCP_FIELD("RWndLimited", rwnd_limited, kSigned),
    TCP_FIELD("SndBufLimited", sndbuf_limited, kSigned),
    TCP_FIELD("Delivered", delivered, kUnsigned),
    TCP_FIELD("DeliveredCE", delivered_ce, kUnsigned),
    TCP_FIELD("BytesSent", bytes_sent, kSigned),
    TCP_FIELD("BytesRetrans", bytes_retrans, kSigned),
    TCP_FIELD("DSackDups", dsack_dups, kUnsigned),
    TCP_FIELD("ReordSeen", reord_seen, kUnsigned),
    TCP_FIELD("RcvOooPack", rcv_ooopack, kUnsigned),
    TCP_FIELD("SndWnd", snd_wnd, kUnsigned),
    TCP_FIELD("RcvWnd", rcv_wnd, kUnsigned),
    TCP_FIELD("Rehash", rehash, kUnsigned),
    TCP_FIELD("TotalRTO", total_rto, kUnsigned),
    TCP_FIELD("TotalRTORecoveries", total_rto_recoveries, kUnsigned),
    TCP_FIELD("TotalRTOTime", total_rto_time, kUnsigned),
    TCP_FIELD("ReceivedCE", received_ce, kUnsigned),
    TCP_FIELD("DeliveredE1Bytes", delivered_e1_bytes, kUnsigned),
    TCP_FIELD("DeliveredE0Bytes", delivered_e0_bytes, kUnsigned),
    TCP_FIELD("DeliveredCEBytes", delivered_ce_bytes, kUnsigned),
    TCP_FIELD("ReceivedE1Bytes", received_e1_bytes, kUnsigned),
    TCP_FIELD("ReceivedE0Bytes", received_e0_bytes, kUnsigned),
    TCP_FIELD("ReceivedCEBytes", received_ce_bytes, kUnsigned),
    TCP_FIELD("AccECNFailMode", accecn_fail_mode, kUnsigned),
    TCP_FIELD("AccECNOptSeen", accecn_opt_seen, kUnsigned),
};
#undef TCP_FIELD

// Reads an unsigned little-endian field of 1, 2, 4 or 8 bytes.
uint64_t ReadField(const void* base, size_t offset, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, static_cast<const char*>(base) + offset, size);
  return v;
}

int64_t SignExtend(uint64_t v, size_t size) {
  if (size == 8) return static_cast<int64_t>(v);
  const int shift = 64 - 8 * static_cast<int>(size);
  return static_cast<int64_t>(v << shift) >> shift;
}

// Appends a JSON string; invalid UTF-8 bytes become U+FFFD.
void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      } else {
        out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // Length and minimum value of a well-formed sequence starting with c.
    size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (c > 0xF4) n = 0;
    bool valid = n > 0 && i + n <= s.size();
    uint32_t r = valid ? c & (0x7F >> n) : 0;
    for (size_t k = 1; valid && k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      valid = (d & 0xC0) == 0x80;
      r = r << 6 | (d & 0x3F);
    }
    if (valid) {
      valid = !(n == 3 && (r < 0x800 || (r >= 0xD800 && r < 0xE000))) &&
              !(n == 4 && (r < 0x10000 || r > 0x10FFFF));
    }
    if (valid) {
      out->append(s.data() + i, n);
      i += n;
    } else {
      out->append("\\ufffd");
      ++i;
    }
  }
  out->push_back('"');
}

// Writes `"name":value` members, the first without a leading comma.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  void Key(const char* name) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
  }
  void Uint(const char* name, uint64_t v) {
    Key(name);
    char buf[kMaxFieldChars];
    out_->append(buf, FormatUint(v, buf));
  }
  void Int(const char* name, int64_t v) {
    Key(name);
    char buf[kMaxFieldChars];
    out_->append(buf, FormatInt(v, buf));
  }
  void Text(const char* name, absl::string_view v) {
    Key(name);
    AppendJsonString(v, out_);
  }
  std::string* out() { return out_; }
  void Close() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

std::string AddressText(const uint32_t words[4]) {
  uint8_t bytes[16];
  std::memcpy(bytes, words, sizeof(bytes));
  char buf[kMaxFieldChars];
  return std::string(buf, FormatSockAddress(bytes, buf));
}

void WriteIdm(const inetdiag::Msg& m, ObjectWriter* o) {
  o->Key("IDM");
  ObjectWriter w(o->out());
  w.Uint("Family", m.family);
  w.Uint("State", m.state);
  w.Uint("Timer", m.timer);
  w.Uint("Retrans", m.retrans);
  w.Uint("SPort", __builtin_bswap16(m.id.sport_be));
  w.Uint("DPort", __builtin_bswap16(m.id.dport_be));
  w.Text("Src", AddressText(m.id.src));
  w.Text("Dst", AddressText(m.id.dst));
  w.Uint("Interface", m.id.interface);
  char buf[kMaxFieldChars];
  w.Text("Cookie",
         absl::string_view(buf, FormatHex(inetdiag::Cookie(m.id), buf) - buf));
  w.Uint("Expires", m.expires);
  w.Uint("Rqueue", m.rqueue);
  w.Uint("Wqueue", m.wqueue);
  w.Uint("UID", m.uid);
  w.Uint("Inode", m.inode);
  w.Close();
}

void WriteTcpInfo(const Snapshot& s, ObjectWriter* o) {
  o->Key("TCP");
  ObjectWriter w(o->out());
  for (const TcpField& f : kTcpFields) {
    if (f.offset + f.size > s.tcp_info_length) break;
    const uint64_t v = ReadField(&s.tcp_info, f.offset, f.size);
    if (f.kind == Kind::kSigned) {
      w.Int(f.name, SignExtend(v, f.size));
    } else {
      w.Uint(f.name, v);
    }
  }
  w.Close();
}

}  // namespace

void AppendSnapshotJsonLine(const Snapshot& s, const Metadata* metadata,
                            std::string* out) {
  ObjectWriter o(out);
  o.Key("Timestamp");
  out->push_back('"');
  AppendRfc3339(s.timestamp, out);
  out->push_back('"');
  o.Uint("Observed", s.observed);
  o.Uint("NotFullyParsed", s.not_fully_parsed);
  if (s.has_idm) WriteIdm(s.idm, &o);
  if (s.has_congestion_algorithm) {
    o.Text("CongestionAlgorithm", s.congestion_algorithm);
  }
  if (s.has_tos) o.Uint("TOS", s.tos);
  if (s.has_tclass) o.Uint("TClass", s.tclass);
  if (s.has_class_id) o.Uint("ClassID", s.class_id);
  if (s.has_shutdown) o.Uint("Shutdown", s.shutdown);
  if (s.has_protocol) o.Uint("Protocol", s.protocol);
  if (s.has_mark) o.Uint("Mark", s.mark);
  if (s.has_tcp_info) WriteTcpInfo(s, &o);
  if (s.has_mem_info) {
    o.Key("MemInfo");
    ObjectWriter w(out);
    w.Uint("Rmem", s.mem_info.rmem);
    w.Uint("Wmem", s.mem_info.wmem);
    w.Uint("Fmem", s.mem_info.fmem);
    w.Uint("Tmem", s.mem_info.tmem);
    w.Close();
  }
  if (s.has_sk_mem_info) {
    const inetdiag::SkMemInfo& m = s.sk_mem_info;
    o.Key("SKMemInfo");
    ObjectWriter w(out);
    w.Uint("RmemAlloc", m.rmem_alloc);
    w.Uint("Rcvbuf", m.rcvbuf);
    w.Uint("WmemAlloc", m.wmem_alloc);
    w.Uint("Sndbuf", m.sndbuf);
    w.Uint("FwdAlloc", m.fwd_alloc);
    w.Uint("WmemQueued", m.wmem_queued);
    w.Uint("Optmem", m.optmem);
    w.Uint("Backlog", m.backlog);
    w.Uint("Drops", m.drops);
    w.Close();
  }
  if (s.has_vegas) {
    o.Key("Vegas");
    ObjectWriter w(out);
    w.Uint("Enabled", s.vegas.enabled);
    w.Uint("RTTCount", s.vegas.rttcnt);
    w.Uint("RTT", s.vegas.rtt);
    w.Uint("MinRTT", s.vegas.minrtt);
    w.Close();
  }
  if (s.has_dctcp) {
    o.Key("DCTCP");
    ObjectWriter w(out);
    w.Uint("Enabled", s.dctcp.enabled);
    w.Uint("CEState", s.dctcp.ce_state);
    w.Uint("Alpha", s.dctcp.alpha);
    w.Uint("ABEcn", s.dctcp.ab_ecn);
    w.Uint("ABTot", s.dctcp.ab_tot);
    w.Close();
  }
  if (s.has_bbr) {
    o.Key("BBR");
    ObjectWriter w(out);
    w.Int("BW",
          static_cast<int64_t>(uint64_t{s.bbr.bw_hi} << 32 | s.bbr.bw_lo));
    w.Uint("MinRTT", s.bbr.min_rtt);
    w.Uint("PacingGain", s.bbr.pacing_gain);
    w.Uint("CwndGain", s.bbr.cwnd_gain);
    w.Close();
  }
  if (s.has_metadata && metadata != nullptr) {
    o.Key("Metadata");
    ObjectWriter w(out);
    w.Text("UUID", metadata->uuid);
    w.Int("Sequence", metadata->sequence);
    w.Key("StartTime");
    out->push_back('"');
    AppendRfc3339(metadata->start_time, out);
    out->push_back('"');
    w.Close();
  }
  o.Close();
  out->push_back('\n');
}

}  // namespace parse
