#include "collector/netlink_dump.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "inetdiag/inet_diag.h"

namespace collector {

const char* DumpIssueName(DumpIssue issue) {
  switch (issue) {
    case DumpIssue::kInterrupted:
      return "interrupted";
    case DumpIssue::kNetlinkError:
      return "netlink_error";
    case DumpIssue::kNoBuffers:
      return "enobufs";
    case DumpIssue::kSignal:
      return "eintr";
    case DumpIssue::kTruncated:
      return "truncated";
    case DumpIssue::kBadSequence:
      return "bad_sequence";
    case DumpIssue::kBadPortId:
      return "bad_port_id";
    case DumpIssue::kBadType:
      return "bad_type";
    case DumpIssue::kSocketError:
      return "socket_error";
  }
  return "unknown";
}

std::string DescribeDumpIssues(const DumpResult& dump) {
  std::string issues;
  for (int i = 0; i < kDumpIssueCount; ++i) {
    if (dump.issues[i] == 0) continue;
    absl::StrAppend(&issues, issues.empty() ? "" : " ",
                    DumpIssueName(static_cast<DumpIssue>(i)), "=",
                    dump.issues[i]);
  }
  if (issues.empty()) return issues;
  return absl::StrCat(
      dump.family == inetdiag::kAfInet6 ? "AF_INET6" : "AF_INET", " [", issues,
      dump.error != 0 ? absl::StrCat(" errno=", dump.error, " (",
                                     std::strerror(dump.error), ")")
                      : std::string(),
      dump.complete ? "" : " incomplete", "]");
}

namespace {

// The errno carried by a netlink status or error (negative, or for an error
// either sign); INT32_MIN, which no kernel sends, saturates instead of
// overflowing.
int ErrnoOf(int32_t status) {
  if (status == std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int>::max();
  }
  return status < 0 ? -status : status;
}

}  // namespace

// libmnl's mnl_cb_run() stops at the first NLM_F_DUMP_INTR message and leaves
// the rest of the dump unread; we want those messages (they are valid
// snapshots) and only to mark the dump incomplete, so the walk is written out
// with libmnl's message helpers, doing the same sequence and port id checks.
WalkStatus WalkDumpBuffer(char* data, size_t size, uint32_t sequence,
                          uint32_t port_id, absl::Time received,
                          DumpResult* result, DumpMessageHandler handler) {
  const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(data);
  int remaining = static_cast<int>(size);
  bool first = true;
  // mnl_nlmsg_ok() compares nlmsg_len with `remaining` as an int, so a
  // length of 2^31 or more would pass it and step outside the buffer.
  while (mnl_nlmsg_ok(nlh, remaining) &&
         nlh->nlmsg_len <= static_cast<uint32_t>(remaining)) {
    if (!mnl_nlmsg_portid_ok(nlh, port_id)) {
      result->Count(DumpIssue::kBadPortId);
      return WalkStatus::kAbort;
    }
    if (!mnl_nlmsg_seq_ok(nlh, sequence)) {
      result->Count(DumpIssue::kBadSequence);
      return WalkStatus::kAbort;
    }
    if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0 &&
        result->count(DumpIssue::kInterrupted) == 0) {
      result->Count(DumpIssue::kInterrupted);
    }
    const size_t payload_size = mnl_nlmsg_get_payload_len(nlh);
    char* payload = static_cast<char*>(mnl_nlmsg_get_payload(nlh));
    switch (nlh->nlmsg_type) {
      case inetdiag::kSockDiagByFamily:
        ++result->messages;
        handler(
            DumpMessage{payload, payload_size, received, data, size, first});
        first = false;
        break;
      case NLMSG_DONE: {
        // Since Linux 4.x the DONE payload carries the dump's final status.
        int32_t status = 0;
        if (payload_size >= sizeof(status)) {
          std::memcpy(&status, payload, sizeof(status));
        }
        if (status < 0) {
          result->Count(DumpIssue::kNetlinkError);
          result->error = ErrnoOf(status);
        }
        return WalkStatus::kDone;
      }
      case NLMSG_ERROR: {
        int32_t error = 0;
        if (payload_size >= sizeof(error)) {
          std::memcpy(&error, payload, sizeof(error));
        }
        if (error != 0 || payload_size < sizeof(error)) {
          result->Count(DumpIssue::kNetlinkError);
          result->error = ErrnoOf(error);
        }
        return WalkStatus::kDone;
      }
      case NLMSG_NOOP:
        break;
      default:
        result->Count(DumpIssue::kBadType);
        break;
    }
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
  if (remaining > 0) {
    result->Count(DumpIssue::kTruncated);
    return WalkStatus::kAbort;
  }
  return WalkStatus::kMore;
}

void ForEachDiagPayload(
    const char* data, size_t size,
    absl::FunctionRef<void(const char* payload, size_t size)> visit) {
  const auto* nlh = reinterpret_cast<const struct nlmsghdr*>(data);
  int remaining = static_cast<int>(size);
  while (mnl_nlmsg_ok(nlh, remaining) &&
         nlh->nlmsg_len <= static_cast<uint32_t>(remaining)) {
    if (nlh->nlmsg_type == inetdiag::kSockDiagByFamily) {
      visit(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)),
            mnl_nlmsg_get_payload_len(nlh));
    }
    nlh = mnl_nlmsg_next(nlh, &remaining);
  }
}

}  // namespace collector
