#include "collector/telemetry_observer.h"

#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <string>

#include "tcp/tcp_info.h"

namespace collector {

namespace {

// A monotonic instant as a Timestamp, for RateTracker, which only compares
// whole seconds: a step of the wall clock neither stops its observations
// (back) nor crowds them (forward).
parse::Timestamp MonotonicTimestamp(std::chrono::steady_clock::time_point t) {
  return parse::Timestamp::FromUnixNanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
          .count());
}

// Reads a u64 field of the INET_DIAG_INFO payload; 0 if the kernel's
// tcp_info is too short to hold it.
uint64_t TcpInfoU64(const parse::RecordView& record, size_t offset) {
  if (!record.Has(inetdiag::kInfo)) return 0;
  const absl::string_view info = record.attributes[inetdiag::kInfo];
  if (info.size() < offset + sizeof(uint64_t)) return 0;
  uint64_t value;
  std::memcpy(&value, info.data() + offset, sizeof(value));
  return value;
}

}  // namespace

TelemetryObserver::TelemetryObserver(metrics::Metrics* metrics,
                                     eventsocket::Server* events,
                                     const saver::Saver* saver)
    : metrics_(metrics), events_(events), saver_(saver) {
  // Resolved now so that the hot path never looks a label up.
  for (int i = 0; i < kDumpIssueCount; ++i) {
    const auto issue = static_cast<DumpIssue>(i);
    if (issue == DumpIssue::kSignal) continue;  // retried; not an error
    issue_errors_[i] = &metrics_->Error(DumpIssueName(issue));
  }
  unparsable_ = &metrics_->NetlinkSkipped("unparsable");
  write_errors_ = &metrics_->Error("write");
  repaired_ = &metrics_->Error("repaired_archive");
  const saver::Stats s = saver_->stats();
  files_created_ = s.files_created;
  write_errors_seen_ = s.write_errors;
  repaired_seen_ = s.repaired_files;
}

void TelemetryObserver::OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                                   const parse::RecordView& first) {
  open_.insert(cookie);
  metrics_->CountFlowOpen();
  if (events_ != nullptr) {
    eventsocket::EventOwner owner;
    const bool has_owner = event_owners_ != nullptr &&
                           event_owners_->OwnerAtOpen(cookie, first, &owner);
    events_->FlowCreated(parse::Timestamp::Now(), saver_->Uuid(cookie),
                         first.Idm().id, has_owner ? &owner : nullptr);
  }
}

void TelemetryObserver::OnFlowOpenIn(uint64_t cookie,
                                     parse::Timestamp timestamp,
                                     const parse::RecordView& first,
                                     const NamespaceRef& ns) {
  if (ns.name.empty()) {
    OnFlowOpen(cookie, timestamp, first);
    return;
  }
  open_.insert(cookie);
  netns_of_[cookie] = std::string(ns.name);
  metrics_->CountFlowOpen(ns.name);
  if (events_ != nullptr) {
    eventsocket::EventOwner owner;
    const bool has_owner = event_owners_ != nullptr &&
                           event_owners_->OwnerAtOpen(cookie, first, &owner);
    events_->FlowCreated(parse::Timestamp::Now(), saver_->Uuid(cookie),
                         first.Idm().id, has_owner ? &owner : nullptr, ns.name);
  }
}

void TelemetryObserver::OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                                   const parse::RecordView& record,
                                   parse::Change change) {
  metrics_->CountSnapshots();
  metrics_->rates().Update(
      cookie, TcpInfoU64(record, offsetof(tcp::TcpInfo, bytes_sent)),
      TcpInfoU64(record, offsetof(tcp::TcpInfo, bytes_received)));
}

void TelemetryObserver::OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                                    CloseReason) {
  open_.erase(cookie);
  metrics_->rates().Close(cookie);
  std::string netns;
  if (!netns_of_.empty()) {
    if (auto it = netns_of_.find(cookie); it != netns_of_.end()) {
      netns = std::move(it->second);
      netns_of_.erase(it);
    }
  }
  CountClose(cookie, netns);
}

void TelemetryObserver::OnCycle(const CycleStats& stats) {
  if (stats.exact_requests > 0) {
    metrics_->CountExactRequests(static_cast<uint64_t>(stats.exact_requests),
                                 static_cast<uint64_t>(stats.exact_gone));
  }
  if (stats.fallback) metrics_->CountPollFallback();
  if (stats.full_dump) metrics_->CountFullDump();
  // An exact cycle made no dump: nothing to observe per family.
  for (const DumpResult& dump : stats.dumps) {
    if (!stats.full_dump) break;
    const auto af = dump.family == AF_INET6 ? metrics::AddressFamily::kIpv6
                                            : metrics::AddressFamily::kIpv4;
    metrics_->ObserveSyscallTime(af, absl::ToDoubleSeconds(dump.elapsed));
    metrics_->ObserveConnectionCount(af, static_cast<size_t>(dump.messages));
    for (int i = 0; i < kDumpIssueCount; ++i) {
      if (issue_errors_[i] != nullptr && dump.issues[i] > 0) {
        issue_errors_[i]->Increment(static_cast<uint64_t>(dump.issues[i]));
      }
    }
  }
  if (stats.bad_messages > 0) {
    unparsable_->Increment(static_cast<uint64_t>(stats.bad_messages));
  }
  metrics_->ObserveCacheCount(static_cast<size_t>(stats.connections));
  if (stats.cycle > 1) {
    metrics_->ObservePollingInterval(
        absl::ToDoubleSeconds(stats.since_previous));
  }
  metrics_->rates().Tick(MonotonicTimestamp(stats.monotonic_start));

  const saver::Stats s = saver_->stats();
  if (s.files_created > files_created_) {
    metrics_->CountNewFiles(s.files_created - files_created_);
  }
  if (s.write_errors > write_errors_seen_) {
    write_errors_->Increment(s.write_errors - write_errors_seen_);
  }
  files_created_ = s.files_created;
  write_errors_seen_ = s.write_errors;
  if (s.repaired_files > repaired_seen_) {
    repaired_->Increment(s.repaired_files - repaired_seen_);
  }
  repaired_seen_ = s.repaired_files;
}

void TelemetryObserver::CountClose(uint64_t cookie, const std::string& netns) {
  if (netns.empty()) {
    metrics_->CountFlowClose();
  } else {
    metrics_->CountFlowClose(netns);
  }
  if (events_ != nullptr) {
    events_->FlowDeleted(parse::Timestamp::Now(), saver_->Uuid(cookie), netns);
  }
}

size_t TelemetryObserver::CloseAllFlows() {
  const size_t n = open_.size();
  for (uint64_t cookie : open_) {
    const auto it = netns_of_.find(cookie);
    CountClose(cookie, it != netns_of_.end() ? it->second : std::string());
  }
  open_.clear();
  netns_of_.clear();
  return n;
}

void TelemetryObserver::OnDestroyEvent(bool event_only) {
  metrics_->CountDestroyEvent(event_only);
}

void TelemetryObserver::OnDestroyEventsLost() {
  metrics_->CountDestroyEventsLost();
}

}  // namespace collector
