// SinkUrl: one -sink=URL, parsed and checked at start-up.
//
//   sqlite:PATH                         embedded database file (WAL)
//   jsonl:PATH                          one JSON object per line; "-" stdout
//   postgres://[user[:password]@]host[:port]/db[?param=value...]
//   postgresql://...                    (libpq connection URIs)
//   kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?librdkafka.property=value...]
//   ipfix://HOST:PORT                   IPFIX over UDP
//   ipfix+tcp://HOST:PORT               IPFIX over TCP
//   influx://[user:password@]HOST:PORT/DATABASE   InfluxDB 1.x
//   influx2://HOST:PORT/ORG/BUCKET      InfluxDB 2.x (token: INFLUX_TOKEN)
//
// Pure functions; thread-safe.
#ifndef TCPINFO_SINKS_SINK_URL_H_
#define TCPINFO_SINKS_SINK_URL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sinks {

struct SinkUrl {
  std::string scheme;    // "sqlite", "jsonl", "postgres", "kafka", "ipfix",
                         // "ipfix+tcp", "influx", "influx2"
                         // ("postgresql" becomes "postgres")
  std::string redacted;  // the URL without any password: for logs, labels
  // sqlite, jsonl: the file ("-" for standard output with jsonl).
  std::string path;
  // postgres: the URL as given, for libpq (never logged).
  std::string conninfo;
  // kafka: "HOST:PORT,HOST:PORT"; ipfix, influx, influx2: the one
  // "HOST:PORT".
  std::string hosts;
  std::string topic;  // kafka
  // kafka: librdkafka properties from the query, in order.
  std::vector<std::pair<std::string, std::string>> params;
  // influx: the userinfo, %-decoded (the password is never logged).
  std::string user;
  std::string password;
  std::string database;  // influx: the database; influx2: the bucket
  std::string org;       // influx2
};

// Parses and checks `text` (the value of one -sink flag). InvalidArgument
// with one line naming the flag ("-sink=...: unknown scheme \"x\"") for an
// unknown scheme, a malformed URL, or a file whose directory does not exist
// or is not writable. Servers are not contacted: an unreachable server is
// retried by the sink at run time.
absl::StatusOr<SinkUrl> ParseSinkUrl(absl::string_view text);

}  // namespace sinks

#endif  // TCPINFO_SINKS_SINK_URL_H_
