// Test doubles for the flows layer: a RecordConsumer that keeps every
// record, and inet_diag messages carrying a chosen tcp_info.
#ifndef TCPINFO_TESTS_FLOW_FAKES_H_
#define TCPINFO_TESTS_FLOW_FAKES_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "flows/flow_record.h"
#include "inetdiag/inet_diag.h"
#include "tcp/tcp_info.h"
#include "tests/collector_fakes.h"

namespace flows_test {

// Keeps every record it is given, in order. Thread-safe (the tracker's
// thread writes, a test's reads once it stopped).
class RecordingConsumer : public flows::RecordConsumer {
 public:
  void Consume(flows::FlowRecord record) override {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(std::move(record));
  }
  std::vector<flows::FlowRecord> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  // The records of each cookie, in order.
  std::map<uint64_t, std::vector<flows::FlowRecord>> ByCookie() const {
    std::map<uint64_t, std::vector<flows::FlowRecord>> out;
    for (flows::FlowRecord& r : records()) out[r.cookie].push_back(r);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<flows::FlowRecord> records_;
};

// Field-by-field sum and difference of two sets of counters (the twelve
// 64-bit counters seen as an array).
inline flows::FlowCounters Combine(const flows::FlowCounters& a,
                                   const flows::FlowCounters& b, bool add) {
  static_assert(sizeof(flows::FlowCounters) == 12 * sizeof(uint64_t));
  uint64_t x[12], y[12];
  std::memcpy(x, &a, sizeof(x));
  std::memcpy(y, &b, sizeof(y));
  for (int i = 0; i < 12; ++i) x[i] = add ? x[i] + y[i] : x[i] - y[i];
  flows::FlowCounters out;
  std::memcpy(&out, x, sizeof(x));
  return out;
}
inline flows::FlowCounters Add(const flows::FlowCounters& a,
                               const flows::FlowCounters& b) {
  return Combine(a, b, true);
}
inline flows::FlowCounters Minus(const flows::FlowCounters& a,
                                 const flows::FlowCounters& b) {
  return Combine(a, b, false);
}

// An inet_diag message payload: `msg`, the first `info_size` bytes of
// `info` as INET_DIAG_INFO, and `cc` (NUL-terminated) as INET_DIAG_CONG
// unless it is null.
inline std::string MakeInfoMessage(const inetdiag::Msg& msg,
                                   const tcp::TcpInfo& info,
                                   size_t info_size = sizeof(tcp::TcpInfo),
                                   const char* cc = "cubic") {
  std::string out(reinterpret_cast<const char*>(&msg), sizeof(msg));
  collector_test::AppendAttribute(
      inetdiag::kInfo,
      std::string(reinterpret_cast<const char*>(&info),
                  std::min(info_size, sizeof(info))),
      &out);
  if (cc != nullptr) {
    collector_test::AppendAttribute(inetdiag::kCong,
                                    std::string(cc, std::strlen(cc) + 1), &out);
  }
  return out;
}

}  // namespace flows_test

#endif  // TCPINFO_TESTS_FLOW_FAKES_H_
