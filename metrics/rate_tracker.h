// RateTracker: feeds tcpinfo_send_rate_histogram and
// tcpinfo_receive_rate_histogram as the reference does.
//
// Meaning (the reference's saver): the running totals are the bytes sent
// (tcpi_bytes_sent, retransmissions included) and received
// (tcpi_bytes_received) by all archived connections since the daemon
// started, each connection counted from 0 when it is first seen. A closed
// connection's last counters stay in the totals, so they never go
// backwards. At the end of the first polling cycle of each new wall-clock
// second, the increase of each total since the previous observation, in
// bits, is observed once: with the usual 10 ms polling that is one
// observation per second of bits per second. The histograms' _sum is then
// the total bits moved, _count the seconds observed.
//
// Thread contract: owned by the collector's polling thread (not
// thread-safe); the histograms it feeds are read by scrapes concurrently.
// Cost: Update is one hash lookup; it allocates only when the table grows
// for a new connection.
#ifndef TCPINFO_METRICS_RATE_TRACKER_H_
#define TCPINFO_METRICS_RATE_TRACKER_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "metrics/histogram.h"
#include "parse/timestamp.h"

namespace metrics {

class RateTracker {
 public:
  // The histograms must outlive the tracker.
  RateTracker(Histogram* send_bits, Histogram* receive_bits);
  RateTracker(const RateTracker&) = delete;
  RateTracker& operator=(const RateTracker&) = delete;

  // The latest counters of archived connection `cookie`. A counter lower
  // than the previous one (not expected from the kernel) adds nothing.
  void Update(uint64_t cookie, uint64_t bytes_sent, uint64_t bytes_received);

  // The connection is gone; what it moved stays in the totals. Unknown
  // cookies are ignored.
  void Close(uint64_t cookie);

  // End of a polling cycle at `now` (after its Updates and Closes): observes
  // the bits moved since the last observation if `now` is in a later
  // second than it (always on the first call).
  void Tick(parse::Timestamp now);

  uint64_t total_bytes_sent() const { return total_sent_; }
  uint64_t total_bytes_received() const { return total_received_; }
  size_t connections() const { return last_.size(); }

 private:
  struct Counters {
    uint64_t sent = 0;
    uint64_t received = 0;
  };
  Histogram* send_bits_;
  Histogram* receive_bits_;
  absl::flat_hash_map<uint64_t, Counters> last_;
  uint64_t total_sent_ = 0;
  uint64_t total_received_ = 0;
  uint64_t observed_sent_ = 0;
  uint64_t observed_received_ = 0;
  bool observed_once_ = false;
  int64_t observed_second_ = 0;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_RATE_TRACKER_H_
