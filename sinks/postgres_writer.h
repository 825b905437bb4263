// The postgres:// sink: flow records into a PostgreSQL table over libpq.
//
//   Connect()  opens the connection (url.conninfo, a libpq URI; libpq
//              defaults added unless the URI sets them: connect_timeout=5,
//              TCP keepalives, tcp_user_timeout=10000,
//              fallback_application_name=tcp-info, client_encoding=UTF8)
//              and, if absent, creates table `flows` (one column per
//              flows::Columns(), inet / timestamptz / bigint / text; cookie
//              numeric(20,0); UNIQUE (uuid, seq), indices on end_time and
//              remote_addr) in one transaction; with the TimescaleDB extension
//              installed in the database the new table becomes a hypertable on
//              end_time and the unique key is (uuid, seq, end_time).
//   Write()    one transaction per batch: COPY (text format) straight
//              into the table; a batch that repeats a record (a retry whose
//              first answer was lost) fails that COPY on the unique key and
//              goes again through a session's temporary staging table with
//              INSERT INTO flows ... ON CONFLICT DO NOTHING, so nothing is
//              written twice. All records written, or none (written 0, and
//              the connection is closed: the runner Connect()s again).
//   Values     as flows::VisitColumns gives them; times truncated from
//              nanoseconds to PostgreSQL's microseconds; bigint values above
//              2^63-1 (which no kernel counter reaches) saturate.
//
// Every call is bounded by `call_timeout`: the writer waits on the socket
// itself (libpq in nonblocking mode), so a server that stops answering
// fails the call instead of hanging the sink's thread. Errors name what
// failed and carry libpq's or the server's message, never the URI nor the
// password (any occurrence is replaced by "****").
//
// Thread contract: as SinkWriter (one thread at a time).
#ifndef TCPINFO_SINKS_POSTGRES_WRITER_H_
#define TCPINFO_SINKS_POSTGRES_WRITER_H_

#include <memory>

#include "absl/time/time.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"

namespace sinks {

struct PostgresWriterOptions {
  // The longest a Connect() or Write() may take.
  absl::Duration call_timeout = absl::Seconds(10);
};

// REQUIRES: url.scheme == "postgres". Does not connect.
std::unique_ptr<SinkWriter> NewPostgresWriter(const SinkUrl& url,
                                              PostgresWriterOptions options);

}  // namespace sinks

#endif  // TCPINFO_SINKS_POSTGRES_WRITER_H_
