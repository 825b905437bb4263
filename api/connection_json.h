// The JSON object of one connection in the query API: who it is, whether
// it is open, what annotators add (owners, network namespace, ...), then
// its snapshot exactly as `csvtool -format jsonl` writes it
// (parse/snapshot_json.h: Timestamp, Observed, NotFullyParsed, IDM,
// CongestionAlgorithm, TOS, TClass, Shutdown, TCP, MemInfo, ...):
//
//   {"UUID":"host_1700000000_unsafe_00000000000003E8","Cookie":"1000",
//    "Open":false,"ClosedAt":"2026-12-04T20:31:02.5Z","CloseReason":
//    "destroyed", ...annotations..., "Timestamp":..., "TCP":{...}}
//
// "Cookie" is decimal in a string (64 bits do not fit a JSON number's
// exact range); IDM.Cookie stays the reference's hex. ClosedAt and
// CloseReason ("destroyed" or "absent") only once closed.
//
// Thread-safe; appends only.
#ifndef TCPINFO_API_CONNECTION_JSON_H_
#define TCPINFO_API_CONNECTION_JSON_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "api/connection_store.h"

namespace api {

// An extension point for what the collector does not know about a
// connection (its owning process, container or network namespace): each
// annotator appends JSON members to the connection's object.
//
// Threading: called from the HTTP server's thread for every connection of
// a response; must be thread-safe, quick, and never wait on the polling
// thread.
class ConnectionAnnotator {
 public:
  virtual ~ConnectionAnnotator() = default;
  // Appends zero or more members, each `,"Name":value` (with its leading
  // comma), e.g. `,"Owner":{"PID":42,"Comm":"nginx"}`. Names must not be
  // one of the object's own.
  virtual void Annotate(const ConnectionState& state,
                        std::string* out) const = 0;
};

// Appends the object of `state` (no newline). `fields`, if not empty,
// keeps only those members: "Name" a whole member, "Section.Name" one
// member of an object member (the section then holds only the selected
// ones); names that match nothing are left out.
void AppendConnectionJson(
    const ConnectionState& state, absl::string_view uuid_prefix,
    absl::Span<const std::shared_ptr<const ConnectionAnnotator>> annotators,
    absl::Span<const std::string> fields, std::string* out);

// The members of the JSON object `object` (well-formed, as we write it):
// each key (without quotes, not unescaped) and raw value text, in order.
// Exposed for tests.
std::vector<std::pair<absl::string_view, absl::string_view>> ObjectMembers(
    absl::string_view object);

}  // namespace api

#endif  // TCPINFO_API_CONNECTION_JSON_H_
