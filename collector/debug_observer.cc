#include "collector/debug_observer.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "collector/ip_address.h"
#include "inetdiag/inet_diag.h"

namespace collector {
namespace {

constexpr auto kCyclePeriod = std::chrono::seconds(1);
constexpr auto kEventPeriod = std::chrono::milliseconds(100);

// "10.77.0.2:38064" / "[fd77::2]:38064".
std::string Endpoint(uint8_t family, const uint32_t address[4],
                     uint16_t port_be) {
  const std::string ip =
      FormatIpAddress(IpAddress::FromSockId(family, address));
  if (family == inetdiag::kAfInet6) {
    return absl::StrCat("[", ip, "]:", ntohs(port_be));
  }
  return absl::StrCat(ip, ":", ntohs(port_be));
}

// " ipv6 12 msgs 0.21ms": one dump of a cycle.
std::string DumpText(const DumpResult& dump) {
  return absl::StrCat(
      dump.family == AF_INET6 ? " ipv6 " : " ipv4 ", dump.messages, " msgs ",
      absl::FormatDuration(dump.elapsed), dump.complete ? "" : " incomplete");
}

}  // namespace

void WriteDebugLine(absl::string_view text, std::FILE* out) {
  std::fprintf(out, "tcp-info: debug: %.*s\n", static_cast<int>(text.size()),
               text.data());
  std::fflush(out);
}

DebugObserver::DebugObserver(const saver::Saver* saver, std::FILE* out)
    : saver_(saver),
      out_(out),
      cycle_log_("", kCyclePeriod, out),
      dump_log_("", kEventPeriod, out),
      open_log_("", kEventPeriod, out),
      close_log_("", kEventPeriod, out),
      destroy_log_("", kEventPeriod, out),
      files_seen_(saver->stats().files_created) {}

void DebugObserver::Bounded(saver::ErrorLog& log,
                            absl::FunctionRef<std::string()> make_text) {
  const std::optional<uint64_t> held_back = log.Admit();
  if (!held_back.has_value()) return;
  std::string text = make_text();
  if (*held_back != 0) {
    absl::StrAppend(&text, " (", *held_back, " similar lines held back)");
  }
  WriteDebugLine(text, out_);
}

void DebugObserver::OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                               const parse::RecordView& first) {
  Bounded(open_log_, [&] {
    const inetdiag::Msg msg = first.Idm();
    return absl::StrCat("open ", saver_->Uuid(cookie), " ",
                        Endpoint(msg.family, msg.id.src, msg.id.sport_be),
                        " -> ",
                        Endpoint(msg.family, msg.id.dst, msg.id.dport_be),
                        " state ", msg.state);
  });
}

void DebugObserver::OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                                CloseReason reason) {
  Bounded(close_log_, [&] {
    return absl::StrCat("close ", saver_->Uuid(cookie),
                        reason == CloseReason::kDestroyed
                            ? " (destroy event)"
                            : " (absent from a complete dump)");
  });
}

void DebugObserver::OnCycle(const CycleStats& stats) {
  std::string issues;
  for (const DumpResult& d : stats.dumps) {
    const std::string text = DescribeDumpIssues(d);
    if (!text.empty()) absl::StrAppend(&issues, " ", text);
  }
  if (!issues.empty()) {
    Bounded(dump_log_, [&] {
      return absl::StrCat("dump cycle ", stats.cycle, ":", issues,
                          stats.complete ? "" : "; no close decided");
    });
  }
  const std::optional<uint64_t> held_back = cycle_log_.Admit();
  if (!held_back.has_value()) return;
  const uint64_t files = saver_->stats().files_created;
  WriteDebugLine(
      absl::StrCat("cycle ", stats.cycle, ":", DumpText(stats.dumps[0]),
                   DumpText(stats.dumps[1]), ", ",
                   absl::FormatDuration(stats.elapsed), " in all; changes ",
                   stats.changes, " opened ", stats.opened, " closed ",
                   stats.closed, " skipped ", stats.skipped, " unparsable ",
                   stats.bad_messages, " tracked ", stats.connections,
                   "; since the last line: ", *held_back + 1, " cycles, ",
                   files - files_seen_, " files created"),
      out_);
  files_seen_ = files;
}

void DebugObserver::OnDestroyEvent(bool event_only) {
  Bounded(destroy_log_, [&] {
    return std::string(event_only ? "destroy event: a connection no poll saw, "
                                    "archived from the event alone"
                                  : "destroy event: final record of a polled "
                                    "connection, its file finished");
  });
}

void DebugObserver::OnDestroyEventsLost() {
  Bounded(destroy_log_, [] {
    return std::string(
        "destroy events lost (ENOBUFS): those connections close by absence");
  });
}

}  // namespace collector
