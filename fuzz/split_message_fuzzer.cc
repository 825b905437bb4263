// Fuzzes the split of a SOCK_DIAG_BY_FAMILY payload (parse/record_view.h)
// and everything done with a split view: a view compares equal to itself
// (kNone, or kNoTcpInfo without INET_DIAG_INFO),
// decodes to a Snapshot that formats as CSV and JSON, and its archive line
// decodes back to the same line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "parse/archival_record.h"
#include "parse/change.h"
#include "parse/csv_writer.h"
#include "parse/record_view.h"
#include "parse/snapshot.h"
#include "parse/snapshot_json.h"
#include "parse/timestamp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fuzz::FuzzCheck;
  const absl::string_view payload(reinterpret_cast<const char*>(data), size);
  int dropped = 0;
  absl::StatusOr<parse::RecordView> view =
      parse::SplitMessage(payload, &dropped);
  if (!view.ok()) return 0;
  FuzzCheck(view->raw_idm.size() == sizeof(inetdiag::Msg),
            "SplitMessage: RawIDM of the wrong size");
  // Without INET_DIAG_INFO every comparison is kNoTcpInfo (parse/change.h).
  const parse::Change same = view->Has(inetdiag::kInfo)
                                 ? parse::Change::kNone
                                 : parse::Change::kNoTcpInfo;
  FuzzCheck(parse::Compare(*view, *view) == same, "a view differs from itself");

  parse::Snapshot snapshot;
  if (parse::DecodeSnapshot(parse::Timestamp::GoZero(), *view, &snapshot)
          .ok()) {
    std::string out;
    parse::AppendCsvRow(snapshot, &out);
    parse::AppendSnapshotJsonLine(snapshot, nullptr, &out);
  }

  std::string line;
  parse::AppendSnapshotJson(parse::Timestamp::GoZero(), *view, &line);
  absl::StatusOr<parse::ArchivalRecord> record = parse::DecodeRecordJson(
      absl::string_view(line).substr(0, line.size() - 1));
  FuzzCheck(record.ok(), "the archive line of a view does not decode");
  FuzzCheck(parse::Compare(*view, record->View()) == same,
            "the archive line of a view decodes to another view");
  std::string again;
  parse::AppendRecordJson(*record, &again);
  FuzzCheck(again == line, "the archive line of a view does not round-trip");
  return 0;
}
