// The reply side of one inet_diag dump: the outcome of a dump (DumpResult),
// the irregularities a dump can meet (DumpIssue), the DumpSource interface,
// and WalkDumpBuffer(), which walks the netlink messages of one received
// buffer.
//
// Netlink irregularities are never fatal: each is counted in the result and
// the dump is reported incomplete, so that the caller does not take a
// connection's absence from it as the connection's end.
//
// Plain data and a pure function; thread-safe. DumpSource: see below.
#ifndef TCPINFO_COLLECTOR_NETLINK_DUMP_H_
#define TCPINFO_COLLECTOR_NETLINK_DUMP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace collector {

enum class DumpIssue {
  kInterrupted,   // NLM_F_DUMP_INTR: the socket table changed mid-dump
  kNetlinkError,  // NLMSG_ERROR, or NLMSG_DONE carrying an error
  kNoBuffers,     // ENOBUFS from recv
  kSignal,        // EINTR from recv (retried, not an incomplete dump)
  kTruncated,     // MSG_TRUNC, or a message cut at the end of a buffer
  kBadSequence,   // a reply to another request
  kBadPortId,     // a reply addressed to another socket
  kBadType,       // a message type a dump does not send (skipped)
  kSocketError,   // socket, send or recv failed otherwise, or timed out
};
inline constexpr int kDumpIssueCount = 9;

// A short lower-case name ("interrupted", ...) for logs and metrics.
const char* DumpIssueName(DumpIssue issue);

using DumpIssueCounts = std::array<int64_t, kDumpIssueCount>;

struct DumpResult {
  uint8_t family = 0;
  // The dump ended with NLMSG_DONE, without error and not interrupted: every
  // socket of the family that existed throughout the dump is in it.
  bool complete = false;
  int64_t messages = 0;    // SOCK_DIAG_BY_FAMILY messages handed on
  int64_t bytes = 0;       // bytes received
  int64_t buffers = 0;     // successful recv calls
  absl::Duration elapsed;  // from the request to the last reply
  int error = 0;  // errno of the last NLMSG_ERROR or socket failure, or 0
  DumpIssueCounts issues{};

  void Count(DumpIssue issue) { ++issues[static_cast<int>(issue)]; }
  int64_t count(DumpIssue issue) const {
    return issues[static_cast<int>(issue)];
  }
};

// The irregularities of `dump` for a log line: "AF_INET6 [interrupted=1
// incomplete]", with "errno=N (text)" when it has one; "" when it had none.
std::string DescribeDumpIssues(const DumpResult& dump);

// One SOCK_DIAG_BY_FAMILY message: its payload (the inet_diag_msg and its
// attributes; writable, so that it can be anonymized in place), the time
// the buffer holding it was received, and that whole buffer, for a handler
// that looks ahead (ForEachDiagPayload) when the first message of a buffer
// arrives.
struct DumpMessage {
  char* payload;
  size_t size;
  absl::Time received;
  const char* buffer = nullptr;
  size_t buffer_size = 0;
  bool first_in_buffer = false;
};
using DumpMessageHandler = absl::FunctionRef<void(const DumpMessage&)>;

// Where dumps come from: DumpSocket for the kernel, a scripted source in
// tests. Same thread contract as the implementation.
class DumpSource {
 public:
  virtual ~DumpSource() = default;
  // Dumps every TCP socket of `family`, calling `handler` for each message
  // (views valid only during the call). Never fails: problems are counted in
  // the result, which is then not complete.
  virtual DumpResult Dump(uint8_t family, DumpMessageHandler handler) = 0;
};

enum class WalkStatus {
  kMore,   // the dump goes on: receive the next buffer
  kDone,   // NLMSG_DONE or NLMSG_ERROR ended the dump
  kAbort,  // protocol violation: stop, the socket's state is unknown
};

// Walks the netlink messages in data[0, size), the replies to the request
// with `sequence` from socket `port_id`: hands every SOCK_DIAG_BY_FAMILY
// message to `handler`, counts every irregularity in `result`, and says
// whether the dump goes on. A reply with NLM_F_DUMP_INTR is still handed on
// (its data is valid) but makes the dump incomplete.
// REQUIRES: data is 4-byte aligned.
WalkStatus WalkDumpBuffer(char* data, size_t size, uint32_t sequence,
                          uint32_t port_id, absl::Time received,
                          DumpResult* result, DumpMessageHandler handler);

// Calls `visit` with the payload (and its size) of every
// SOCK_DIAG_BY_FAMILY message in data[0, size), in order, stopping at the
// first malformed header: the messages WalkDumpBuffer would hand on, in a
// cheap pass without its checks, for looking ahead (prefetching).
// REQUIRES: data is 4-byte aligned.
void ForEachDiagPayload(
    const char* data, size_t size,
    absl::FunctionRef<void(const char* payload, size_t size)> visit);

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_NETLINK_DUMP_H_
