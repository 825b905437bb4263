#include "parse/csv_writer.h"

#include <cstring>

#include "parse/field_format.h"

namespace parse {
namespace {

constexpr char kHeader[] =
    "Timestamp,Observed,NotFullyParsed,IDM.Family,IDM.State,IDM.Timer,"
    "IDM.Retrans,IDM.SockID.SPort,IDM.SockID.DPort,IDM.SockID.Src,"
    "IDM.SockID.Dst,IDM.SockID.Interface,IDM.SockID.Cookie,IDM.Expires,"
    "IDM.Rqueue,IDM.Wqueue,IDM.UID,IDM.Inode,CongestionAlgorithm,TOS,TClass,"
    "ClassID,Shutdown,Protocol,Mark,TCP.State,TCP.CAState,TCP.Retransmits,"
    "TCP.Probes,TCP.Backoff,TCP.Options,TCP.WScale,TCP.AppLimited,TCP.RTO,"
    "TCP.ATO,TCP.SndMSS,TCP.RcvMSS,TCP.Unacked,TCP.Sacked,TCP.Lost,"
    "TCP.Retrans,TCP.Fackets,TCP.LastDataSent,TCP.LastAckSent,"
    "TCP.LastDataRecv,TCP.LastDataRecv,TCP.PMTU,TCP.RcvSsThresh,TCP.RTT,"
    "TCP.RTTVar,TCP.SndSsThresh,TCP.SndCwnd,TCP.AdvMSS,TCP.Reordering,"
    "TCP.RcvRTT,TCP.RcvSpace,TCP.TotalRetrans,TCP.PacingRate,"
    "TCP.MaxPacingRate,TCP.BytesAcked,TCP.BytesReceived,TCP.SegsOut,"
    "TCP.SegsIn,TCP.NotsentBytes,TCP.MinRTT,TCP.DataSegsIn,TCP.DataSegsOut,"
    "TCP.DeliveryRate,TCP.BusyTime,TCP.RWndLimited,TCP.SndBufLimited,"
    "TCP.Delivered,TCP.DeliveredCE,TCP.BytesSent,TCP.BytesRetrans,"
    "TCP.DSackDups,TCP.ReordSeen,TCP.RcvOooPack,TCP.SndWnd,MemInfo.Rmem,"
    "MemInfo.Wmem,MemInfo.Fmem,MemInfo.Tmem,SKMemInfo.RmemAlloc,"
    "SKMemInfo.Rcvbuf,SKMemInfo.WmemAlloc,SKMemInfo.Sndbug,SKMemInfo.FwdAlloc,"
    "SKMemInfo.WmemQueued,SKMemInfo.Optmem,SKMemInfo.Backlog,SKMemInfo.Drops,"
    "Vegas.Enabled,Vegas.RTTCount,Vegas.RTT,Vegas.MinRTT,DCTCP.Enabled,"
    "DCTCP.CEState,DCTCP.Alpha,DCTCP.ABEcn,DCTCP.ABTot,BBR.BW,BBR.MinRTT,"
    "BBR.PacingGain,BBR.CwndGain\n";

// Column counts of the sections printed empty when absent.
constexpr int kIdmColumns = 15;
constexpr int kTcpColumns = 54;
constexpr int kMemInfoColumns = 4;
constexpr int kSkMemInfoColumns = 9;
constexpr int kVegasColumns = 4;
constexpr int kDctcpColumns = 5;
constexpr int kBbrColumns = 4;

// Builds a row in a stack buffer, each cell followed by ','; Finish() turns
// the last ',' into '\n'. Strings of any length go straight to `out`.
class RowWriter {
 public:
  explicit RowWriter(std::string* out) : out_(out), p_(buf_) {}
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  void Uint(uint64_t v) {
    Room();
    p_ = FormatUint(v, p_);
    *p_++ = ',';
  }
  void Int(int64_t v) {
    Room();
    p_ = FormatInt(v, p_);
    *p_++ = ',';
  }
  void Hex(uint64_t v) {
    Room();
    p_ = FormatHex(v, p_);
    *p_++ = ',';
  }
  void Address(const uint32_t words[4]) {
    uint8_t bytes[16];
    std::memcpy(bytes, words, sizeof(bytes));
    Room();
    p_ = FormatSockAddress(bytes, p_);
    *p_++ = ',';
  }
  void Empty(int n) {
    for (int i = 0; i < n; ++i) {
      Room();
      *p_++ = ',';
    }
  }
  void Timestamp(parse::Timestamp t) {
    Flush();
    AppendRfc3339(t, out_);
    out_->push_back(',');
  }
  void String(absl::string_view s) {
    Flush();
    AppendCsvField(s, out_);
    out_->push_back(',');
  }
  void Finish() {
    Flush();
    out_->back() = '\n';
  }

 private:
  void Room() {
    if (static_cast<size_t>(buf_ + sizeof(buf_) - p_) < kMaxFieldChars + 1) {
      Flush();
    }
  }
  void Flush() {
    out_->append(buf_, p_);
    p_ = buf_;
  }

  std::string* out_;
  char buf_[2048];
  char* p_;
};

void WriteIdm(const inetdiag::Msg& m, RowWriter* w) {
  w->Uint(m.family);
  w->Uint(m.state);
  w->Uint(m.timer);
  w->Uint(m.retrans);
  w->Uint(__builtin_bswap16(m.id.sport_be));
  w->Uint(__builtin_bswap16(m.id.dport_be));
  w->Address(m.id.src);
  w->Address(m.id.dst);
  // The reference reads the (host order) interface index big-endian.
  w->Uint(__builtin_bswap32(m.id.interface));
  w->Hex(inetdiag::Cookie(m.id));
  w->Uint(m.expires);
  w->Uint(m.rqueue);
  w->Uint(m.wqueue);
  w->Uint(m.uid);
  w->Uint(m.inode);
}

// tcp_info through tcpi_snd_wnd, with the reference's Go types: the u64
// counters are int64, segs_out/segs_in int32.
void WriteTcpInfo(const tcp::TcpInfo& t, RowWriter* w) {
  w->Uint(t.state);
  w->Uint(t.ca_state);
  w->Uint(t.retransmits);
  w->Uint(t.probes);
  w->Uint(t.backoff);
  w->Uint(t.options);
  w->Uint(t.wscale);
  w->Uint(t.app_limited);
  for (uint32_t v : {t.rto,           t.ato,
                     t.snd_mss,       t.rcv_mss,
                     t.unacked,       t.sacked,
                     t.lost,          t.retrans,
                     t.fackets,       t.last_data_sent,
                     t.last_ack_sent, t.last_data_recv,
                     t.last_ack_recv, t.pmtu,
                     t.rcv_ssthresh,  t.rtt,
                     t.rttvar,        t.snd_ssthresh,
                     t.snd_cwnd,      t.advmss,
                     t.reordering,    t.rcv_rtt,
                     t.rcv_space,     t.total_retrans}) {
    w->Uint(v);
  }
  for (uint64_t v :
       {t.pacing_rate, t.max_pacing_rate, t.bytes_acked, t.bytes_received}) {
    w->Int(static_cast<int64_t>(v));
  }
  w->Int(static_cast<int32_t>(t.segs_out));
  w->Int(static_cast<int32_t>(t.segs_in));
  for (uint32_t v :
       {t.notsent_bytes, t.min_rtt, t.data_segs_in, t.data_segs_out}) {
    w->Uint(v);
  }
  for (uint64_t v :
       {t.delivery_rate, t.busy_time, t.rwnd_limited, t.sndbuf_limited}) {
    w->Int(static_cast<int64_t>(v));
  }
  w->Uint(t.delivered);
  w->Uint(t.delivered_ce);
  w->Int(static_cast<int64_t>(t.bytes_sent));
  w->Int(static_cast<int64_t>(t.bytes_retrans));
  for (uint32_t v : {t.dsack_dups, t.reord_seen, t.rcv_ooopack, t.snd_wnd}) {
    w->Uint(v);
  }
}

bool IsUnicodeSpaceStart(absl::string_view s) {
  const auto b = [&](size_t i) {
    return i < s.size() ? static_cast<uint8_t>(s[i]) : 0;
  };
  switch (b(0)) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
      return true;
    case 0xC2:  // U+0085, U+00A0
      return b(1) == 0x85 || b(1) == 0xA0;
    case 0xE1:  // U+1680
      return b(1) == 0x9A && b(2) == 0x80;
    case 0xE2:  // U+2000-200A, U+2028, U+2029, U+202F, U+205F
      return (b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8A) || b(2) == 0xA8 ||
                               b(2) == 0xA9 || b(2) == 0xAF)) ||
             (b(1) == 0x81 && b(2) == 0x9F);
    case 0xE3:  // U+3000
      return b(1) == 0x80 && b(2) == 0x80;
    default:
      return false;
  }
}

}  // namespace

void AppendCsvHeader(std::string* out) { out->append(kHeader); }

void AppendCsvField(absl::string_view field, std::string* out) {
  const bool quote =
      !field.empty() && (field == "\\." ||
                         field.find_first_of(absl::string_view(",\"\r\n", 4)) !=
                             absl::string_view::npos ||
                         IsUnicodeSpaceStart(field));
  if (!quote) {
    out->append(field.data(), field.size());
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendCsvRow(const Snapshot& s, std::string* out) {
  RowWriter w(out);
  w.Timestamp(s.timestamp);
  w.Uint(s.observed);
  w.Uint(s.not_fully_parsed);
  if (s.has_idm) {
    WriteIdm(s.idm, &w);
  } else {
    w.Empty(kIdmColumns);
  }
  w.String(s.congestion_algorithm);
  for (uint8_t v : {s.tos, s.tclass, s.class_id, s.shutdown, s.protocol}) {
    w.Uint(v);
  }
  w.Uint(s.mark);
  if (s.has_tcp_info) {
    WriteTcpInfo(s.tcp_info, &w);
  } else {
    w.Empty(kTcpColumns);
  }
  if (s.has_mem_info) {
    const inetdiag::MemInfo& m = s.mem_info;
    for (uint32_t v : {m.rmem, m.wmem, m.fmem, m.tmem}) w.Uint(v);
  } else {
    w.Empty(kMemInfoColumns);
  }
  if (s.has_sk_mem_info) {
    const inetdiag::SkMemInfo& m = s.sk_mem_info;
    for (uint32_t v :
         {m.rmem_alloc, m.rcvbuf, m.wmem_alloc, m.sndbuf, m.fwd_alloc,
          m.wmem_queued, m.optmem, m.backlog, m.drops}) {
      w.Uint(v);
    }
  } else {
    w.Empty(kSkMemInfoColumns);
  }
  if (s.has_vegas) {
    const inetdiag::VegasInfo& v = s.vegas;
    for (uint32_t x : {v.enabled, v.rttcnt, v.rtt, v.minrtt}) w.Uint(x);
  } else {
    w.Empty(kVegasColumns);
  }
  if (s.has_dctcp) {
    const inetdiag::DctcpInfo& d = s.dctcp;
    w.Uint(d.enabled);
    w.Uint(d.ce_state);
    for (uint32_t x : {d.alpha, d.ab_ecn, d.ab_tot}) w.Uint(x);
  } else {
    w.Empty(kDctcpColumns);
  }
  if (s.has_bbr) {
    const inetdiag::BbrInfo& b = s.bbr;
    w.Int(static_cast<int64_t>(uint64_t{b.bw_hi} << 32 | b.bw_lo));
    for (uint32_t x : {b.min_rtt, b.pacing_gain, b.cwnd_gain}) w.Uint(x);
  } else {
    w.Empty(kBbrColumns);
  }
  w.Finish();
}

}  // namespace parse
