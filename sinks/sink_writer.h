// SinkWriter: what one kind of destination (a database, a broker, a
// collector, a file) implements; SinkRunner gives each writer its own
// thread, bounded queue, retries with backoff and metrics, so a writer only
// talks to its destination.
//
// Thread contract: every method is called from the sink's own thread, one
// at a time, never from the polling thread; a writer may block (that is
// what its thread is for), but should bound each call (a few seconds).
#ifndef TCPINFO_SINKS_SINK_WRITER_H_
#define TCPINFO_SINKS_SINK_WRITER_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "flows/flow_record.h"
#include "flows/measurement.h"

namespace sinks {

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;

  // Opens or connects to the destination (creating its table, topic
  // producer, templates...). Called before the first Write and after a
  // failed one; the runner waits with backoff between failed attempts.
  virtual absl::Status Connect() = 0;

  struct WriteResult {
    // How many of the leading records are now at the destination
    // (committed, acknowledged or sent); the runner drops them from its
    // queue and retries the rest.
    size_t written = 0;
    // Why not all were written; OK when written == records.size().
    absl::Status status;
    // Of those `written`, how many the destination refused as bad data
    // (or the writer could not express): taken off the queue like the
    // rest, never retried, counted as rejected instead of sent. The writer
    // logs why (at a bounded rate).
    size_t rejected = 0;
  };

  // Writes `records` in order (a batch of at most a few thousand). A retried
  // record must not appear twice at the destination: a writer whose
  // destination may have taken records it could not confirm makes the
  // retry idempotent, e.g. with a unique key on (uuid, seq).
  virtual WriteResult Write(absl::Span<const flows::FlowRecord> records) = 0;

  // Whether the writer writes measurements of `kind` (flows/measurement.h);
  // SinkSet offers a runner only the kinds its writer accepts. Asked from
  // any thread: answer from constant state.
  virtual bool Accepts(flows::MeasurementKind kind) const { return false; }

  // Writes `measurements` in order, as Write does records (same result and
  // retry contract). Called only with kinds the writer accepts.
  virtual WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) {
    return {measurements.size(), absl::OkStatus()};
  }

  // Shutdown, after the last Write: flush and close, by `deadline`.
  virtual void Close(absl::Time deadline) {}
};

}  // namespace sinks

#endif  // TCPINFO_SINKS_SINK_WRITER_H_
