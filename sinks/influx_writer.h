// InfluxWriter: flow records and measurements to InfluxDB over HTTP, as line
// protocol (line_protocol.h) with nanosecond timestamps.
//
//   influx://[USER:PASSWORD@]HOST:PORT/DATABASE   InfluxDB 1.x:
//       POST /write?db=DATABASE&precision=ns, basic authentication when the
//       URL has a user. Connect() sends CREATE DATABASE (as Telegraf does;
//       a no-op when it exists, and a refusal for want of admin rights is
//       ignored: the writes say whether the database is there).
//   influx2://HOST:PORT/ORG/BUCKET                InfluxDB 2.x:
//       POST /api/v2/write?org=ORG&bucket=BUCKET&precision=ns with
//       "Authorization: Token $INFLUX_TOKEN". Connect() GETs /ping.
//
// Both kinds of measurement are accepted; flow records are written to
// measurement "tcpinfo_flow". A batch is one request. Outcomes:
//   2xx                   every point written.
//   400, 413, 422         bad data (a field type conflict, a point too
//                         large): the batch is split in halves and each
//                         retried, down to single points, so the good
//                         points are written and each bad one is counted
//                         as rejected (WriteResult::rejected) and logged,
//                         never retried. A point with no field is rejected
//                         without a request.
//   other (401, 403, 404  an error: the runner retries the batch with
//   database not found,   backoff (its queue bounds what waits).
//   429, 5xx), no answer
// Retries are idempotent: a point is identified by its measurement, tags
// and timestamp, and InfluxDB overwrites a point written again with the
// same ones, so a batch retried after a lost answer or a split leaves one
// copy of each point.
//
// Thread contract: as SinkWriter (one thread at a time). Each request is
// bounded by the connect and request timeouts, a whole Write (its splits
// included) by write_budget.
#ifndef TCPINFO_SINKS_INFLUX_WRITER_H_
#define TCPINFO_SINKS_INFLUX_WRITER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"

namespace sinks {

// The environment variable an influx2 sink takes its token from.
inline constexpr char kInfluxTokenEnv[] = "INFLUX_TOKEN";

struct InfluxOptions {
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration request_timeout = absl::Seconds(10);
  absl::Duration write_budget = absl::Seconds(20);
};

// For an influx2 URL, the token from $INFLUX_TOKEN: InvalidArgument with one
// line naming the flag when it is unset or empty. "" for an influx URL.
absl::StatusOr<std::string> InfluxToken(const SinkUrl& url);

// url.scheme is "influx" or "influx2"; `token` is influx2's. Contacts
// nothing until Connect().
std::unique_ptr<SinkWriter> NewInfluxWriter(const SinkUrl& url,
                                            std::string token,
                                            const InfluxOptions& options);

}  // namespace sinks

#endif  // TCPINFO_SINKS_INFLUX_WRITER_H_
