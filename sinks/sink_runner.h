// SinkRunner: one sink's own thread and bounded queue in front of its
// SinkWriter, so that a slow or dead destination never stalls polling,
// archiving or the other sinks.
//
//   Offer()   polling thread: the record is queued, or dropped and counted
//             when the queue holds queue_records already. Never blocks: the
//             queue's lock is only ever held to move records in or out,
//             never across a write.
//   thread    Connect()s at once when started (so the destination, e.g.
//             a database file and its table, exists from the start and a
//             wrong one is logged at once), then takes up to batch_records
//             at a time (waiting at most flush_interval for a batch to
//             fill), Connect()s again when needed,
//             Write()s; what a failed Write did not take stays at the head
//             of the queue and is retried after a backoff that doubles from
//             initial_backoff up to max_backoff, reconnecting first. Records
//             keep their order.
//   Stop()    no more Offers are taken; the thread writes what is queued
//             until the deadline, then what is left is counted as dropped.
//
// Measurements (flows/measurement.h) share the queue, its bound and its
// counts with records ("records" below means both) and keep their order
// with them: a batch is a run of records or a run of measurements, written
// with Write or WriteMeasurements.
//
// Counts (stats(), and the metrics of SinkSet): sent (records written),
// failed (records in failed Write attempts, each attempt), dropped (records
// discarded: queue full or left at Stop), rejected (taken by the writer
// but refused by the destination as bad data, WriteResult::rejected),
// queued (in the queue now).
//
// Thread contract: Offer() from one producer thread at a time; stats() from
// any thread; Start() and Stop() from the owner.
#ifndef TCPINFO_SINKS_SINK_RUNNER_H_
#define TCPINFO_SINKS_SINK_RUNNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "flows/flow_record.h"
#include "flows/measurement.h"
#include "sinks/sink_writer.h"

namespace sinks {

struct SinkOptions {
  size_t queue_records = 65536;  // -sink.queue-size
  size_t batch_records = 1000;
  absl::Duration flush_interval = absl::Milliseconds(200);
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class SinkRunner {
 public:
  struct Stats {
    uint64_t sent = 0;
    uint64_t failed = 0;
    uint64_t dropped = 0;
    uint64_t rejected = 0;
    size_t queued = 0;
  };

  // `name` labels the sink's metrics and log lines (a redacted URL).
  SinkRunner(std::string name, std::unique_ptr<SinkWriter> writer,
             SinkOptions options = {});
  // Stops at once (deadline now) if Stop() was not called.
  ~SinkRunner();
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;

  // Starts the sink's thread.
  void Start();

  // Queues `record`; false (and counted as dropped) if the queue is full or
  // the runner is stopping.
  bool Offer(flows::FlowRecord record);
  // The same for a measurement; SinkSet offers only kinds the writer
  // accepts.
  bool Offer(flows::Measurement measurement);

  // Writes what is queued until `deadline`, counts the rest as dropped,
  // closes the writer and joins the thread.
  void Stop(absl::Time deadline);

  Stats stats() const;
  const std::string& name() const;
  // The writer's Accepts(kind) (which must be thread-safe: it is asked
  // from the producer's thread).
  bool Accepts(flows::MeasurementKind kind) const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sinks

#endif  // TCPINFO_SINKS_SINK_RUNNER_H_
