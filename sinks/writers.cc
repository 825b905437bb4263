#include "sinks/writers.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sinks/influx_writer.h"
#include "sinks/kafka_writer.h"

namespace sinks {

absl::StatusOr<std::unique_ptr<SinkWriter>> MakeWriter(const SinkUrl& url) {
  if (url.scheme == "sqlite") return NewSqliteWriter(url);
  if (url.scheme == "jsonl") return NewJsonlWriter(url);
  if (url.scheme == "postgres") return NewPostgresWriter(url);
  if (url.scheme == "kafka") {
    if (absl::Status s = CheckKafkaUrl(url); !s.ok()) return s;
    return NewKafkaWriter(url);
  }
  if (url.scheme == "ipfix" || url.scheme == "ipfix+tcp") {
    return NewIpfixWriter(url);
  }
  if (url.scheme == "influx" || url.scheme == "influx2") {
    absl::StatusOr<std::string> token = InfluxToken(url);
    if (!token.ok()) return token.status();
    return NewInfluxWriter(url, *std::move(token), InfluxOptions());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "-sink=", url.redacted, ": unknown scheme \"", url.scheme, "\""));
}

}  // namespace sinks
