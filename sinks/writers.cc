#include "sinks/writers.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sinks {

absl::StatusOr<std::unique_ptr<SinkWriter>> MakeWriter(const SinkUrl& url) {
  std::unique_ptr<SinkWriter> writer;
  if (url.scheme == "sqlite") {
    writer = NewSqliteWriter(url);
  } else if (url.scheme == "jsonl") {
    writer = NewJsonlWriter(url);
  } else if (url.scheme == "postgres") {
    writer = NewPostgresWriter(url);
  } else if (url.scheme == "kafka") {
    writer = NewKafkaWriter(url);
  } else if (url.scheme == "ipfix" || url.scheme == "ipfix+tcp") {
    writer = NewIpfixWriter(url);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "-sink=", url.redacted, ": unknown scheme \"", url.scheme, "\""));
  }
  if (writer == nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        "-sink=", url.redacted, ": scheme ", url.scheme, " not built yet"));
  }
  return writer;
}

}  // namespace sinks
