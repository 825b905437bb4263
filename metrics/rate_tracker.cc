#include "metrics/rate_tracker.h"

namespace metrics {

RateTracker::RateTracker(Histogram* send_bits, Histogram* receive_bits)
    : send_bits_(send_bits), receive_bits_(receive_bits) {}

void RateTracker::Update(uint64_t cookie, uint64_t bytes_sent,
                         uint64_t bytes_received) {
  Counters& last = last_[cookie];
  if (bytes_sent > last.sent) total_sent_ += bytes_sent - last.sent;
  if (bytes_received > last.received) {
    total_received_ += bytes_received - last.received;
  }
  last = {bytes_sent, bytes_received};
}

void RateTracker::Close(uint64_t cookie) { last_.erase(cookie); }

void RateTracker::Tick(parse::Timestamp now) {
  if (observed_once_ && now.seconds <= observed_second_) return;
  observed_once_ = true;
  observed_second_ = now.seconds;
  send_bits_->Observe(8.0 * static_cast<double>(total_sent_ - observed_sent_));
  receive_bits_->Observe(
      8.0 * static_cast<double>(total_received_ - observed_received_));
  observed_sent_ = total_sent_;
  observed_received_ = total_received_;
}

}  // namespace metrics
