// Fuzzes the collector's walk of one received netlink buffer
// (collector/netlink_dump.h) and the split and decoding of every message it
// hands on, as the collector does with a dump.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/netlink_dump.h"
#include "fuzz/fuzz_check.h"
#include "parse/record_view.h"
#include "parse/snapshot.h"
#include "parse/timestamp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fuzz::FuzzCheck;
  // A receive buffer is 4-byte aligned; copy into one of exactly `size`
  // bytes so that ASan sees any read past its end.
  std::vector<uint32_t> storage((size + 3) / 4);
  char* buffer = reinterpret_cast<char*>(storage.data());
  if (size > 0) std::memcpy(buffer, data, size);

  collector::DumpResult result;
  parse::Snapshot snapshot;
  int64_t handed_on = 0;
  // Sequence and port id 0 accept every message, so that the fuzzer reaches
  // the message types rather than stopping at the address checks.
  const collector::WalkStatus status = collector::WalkDumpBuffer(
      buffer, size, /*sequence=*/0, /*port_id=*/0, absl::UnixEpoch(), &result,
      [&](const collector::DumpMessage& message) {
        ++handed_on;
        FuzzCheck(message.payload >= buffer &&
                      message.payload + message.size <= buffer + size,
                  "a message outside the buffer");
        absl::StatusOr<parse::RecordView> view = parse::SplitMessage(
            absl::string_view(message.payload, message.size));
        if (!view.ok()) return;
        (void)parse::DecodeSnapshot(parse::Timestamp::GoZero(), *view,
                                    &snapshot);
      });
  FuzzCheck(handed_on == result.messages, "messages miscounted");
  FuzzCheck(status != collector::WalkStatus::kAbort ||
                result.count(collector::DumpIssue::kBadPortId) +
                        result.count(collector::DumpIssue::kBadSequence) +
                        result.count(collector::DumpIssue::kTruncated) >
                    0,
            "aborted without counting why");
  return 0;
}
