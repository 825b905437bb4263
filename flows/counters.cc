#include "flows/counters.h"

#include <algorithm>
#include <cstring>

#include "inetdiag/inet_diag.h"

namespace flows {

namespace {

void Advance64(uint64_t* total, uint64_t now) {
  *total = std::max(*total, now);
}

void Advance32(uint64_t* total, uint32_t now) {
  *total += static_cast<uint32_t>(now - static_cast<uint32_t>(*total));
}

}  // namespace

tcp::TcpInfo ReadTcpInfo(const parse::RecordView& record) {
  tcp::TcpInfo info{};
  if (record.Has(inetdiag::kInfo)) {
    const absl::string_view a = record.attributes[inetdiag::kInfo];
    std::memcpy(&info, a.data(), std::min(a.size(), sizeof(info)));
  }
  return info;
}

void AdvanceCounters(const tcp::TcpInfo& info, FlowCounters* total) {
  FlowCounters& t = *total;
  Advance64(&t.bytes_acked, info.bytes_acked);
  Advance64(&t.bytes_received, info.bytes_received);
  Advance64(&t.bytes_sent, info.bytes_sent);
  Advance64(&t.bytes_retrans, info.bytes_retrans);
  Advance32(&t.segs_out, info.segs_out);
  Advance32(&t.segs_in, info.segs_in);
  Advance32(&t.data_segs_out, info.data_segs_out);
  Advance32(&t.data_segs_in, info.data_segs_in);
  Advance32(&t.retrans_segs, info.total_retrans);
  Advance64(&t.busy_us, info.busy_time);
  Advance64(&t.rwnd_limited_us, info.rwnd_limited);
  Advance64(&t.sndbuf_limited_us, info.sndbuf_limited);
}

FlowCounters Subtract(const FlowCounters& a, const FlowCounters& b) {
  FlowCounters d;
  d.bytes_acked = a.bytes_acked - b.bytes_acked;
  d.bytes_received = a.bytes_received - b.bytes_received;
  d.bytes_sent = a.bytes_sent - b.bytes_sent;
  d.bytes_retrans = a.bytes_retrans - b.bytes_retrans;
  d.segs_out = a.segs_out - b.segs_out;
  d.segs_in = a.segs_in - b.segs_in;
  d.data_segs_out = a.data_segs_out - b.data_segs_out;
  d.data_segs_in = a.data_segs_in - b.data_segs_in;
  d.retrans_segs = a.retrans_segs - b.retrans_segs;
  d.busy_us = a.busy_us - b.busy_us;
  d.rwnd_limited_us = a.rwnd_limited_us - b.rwnd_limited_us;
  d.sndbuf_limited_us = a.sndbuf_limited_us - b.sndbuf_limited_us;
  return d;
}

}  // namespace flows
