// SinkSet: every -sink of the daemon behind one flows::RecordConsumer and
// one flows::MeasurementConsumer.
// Consume() offers each record to every sink's SinkRunner (a copy to each
// but the last, which takes the record), so one slow or dead sink only
// fills and drops in its own queue. ConsumeMeasurement() offers a
// measurement to the runners whose writer accepts its kind only. The set owns
// the runners and exposes their counts to Prometheus:
//
//   tcpinfo_sink_records_total{sink,result}  counter; result is "sent",
//                                            "failed", "dropped" or
//                                            "rejected"
//                                            (SinkRunner::Stats)
//   tcpinfo_sink_queue_records{sink}         gauge: records queued now
//
// sink is the redacted URL (never a password).
//
// Thread contract: Add/Start/Stop from the owner, Start after the last
// Add; Consume on the polling thread (never blocks); the collectable from
// any thread, for as long as anyone holds it (it shares the runners).
#ifndef TCPINFO_SINKS_SINK_SET_H_
#define TCPINFO_SINKS_SINK_SET_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flows/flow_record.h"
#include "flows/measurement.h"
#include "prometheus/collectable.h"
#include "sinks/sink_runner.h"
#include "sinks/sink_url.h"

namespace sinks {

class SinkSet : public flows::RecordConsumer,
                public flows::MeasurementConsumer {
 public:
  SinkSet();
  // Stops the runners at once (deadline now) if Stop() was not called.
  ~SinkSet() override;
  SinkSet(const SinkSet&) = delete;
  SinkSet& operator=(const SinkSet&) = delete;

  // A set with one runner per URL (MakeWriter, labelled url.redacted), not
  // started. The error of the first URL whose writer cannot be made.
  static absl::StatusOr<std::unique_ptr<SinkSet>> Create(
      const std::vector<SinkUrl>& urls, const SinkOptions& options);

  // REQUIRES: before Start().
  void Add(std::unique_ptr<SinkRunner> runner);
  void Start();
  // Offers `record` to every runner; never blocks.
  void Consume(flows::FlowRecord record) override;
  // Offers `measurement` to every runner whose writer accepts its kind;
  // never blocks.
  void ConsumeMeasurement(flows::Measurement measurement) override;
  // Whether any sink writes measurements of `kind` (a producer with no
  // taker need not make them).
  bool Accepts(flows::MeasurementKind kind) const;
  // Stops every runner with the deadline now + `drain`: what they cannot
  // write by then is counted as dropped.
  void Stop(absl::Duration drain);

  size_t size() const;
  // Each runner's counts, in Add() order.
  std::vector<SinkRunner::Stats> stats() const;
  std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  struct Runners;
  std::shared_ptr<Runners> runners_;
  bool stopped_ = false;
};

}  // namespace sinks

#endif  // TCPINFO_SINKS_SINK_SET_H_
