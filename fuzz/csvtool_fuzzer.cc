// Fuzzes csvtool's two pipelines in-process on the same bytes: an archive
// (zstd or plain JSON lines) through ArchiveReader, and a raw netlink dump
// through RawReader, each record decoded to a Snapshot and written as CSV
// into a string, as cmd/csvtool does.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz/fuzz_check.h"
#include "parse/archive_reader.h"
#include "parse/csv_writer.h"
#include "parse/input_stream.h"
#include "parse/raw_reader.h"
#include "parse/snapshot.h"
#include "parse/timestamp.h"

namespace {

// Output beyond this is dropped, as csvtool writes it out (a small zstd
// frame can expand to a lot of rows).
constexpr size_t kOutputLimit = 1 << 20;

// An InputStream over a copy of data[0, size), in a memory file.
std::unique_ptr<parse::InputStream> MemoryInput(const uint8_t* data,
                                                size_t size) {
  const int fd = memfd_create("csvtool_fuzzer", MFD_CLOEXEC);
  fuzz::FuzzCheck(fd > 0, "memfd_create failed");
  size_t written = 0;
  while (written < size) {
    const ssize_t n = write(fd, data + written, size - written);
    fuzz::FuzzCheck(n > 0, "writing the memory file failed");
    written += static_cast<size_t>(n);
  }
  fuzz::FuzzCheck(lseek(fd, 0, SEEK_SET) == 0, "lseek failed");
  return parse::InputStream::FromFd(fd);
}

void Emit(const parse::Snapshot& snapshot, std::string* out) {
  parse::AppendCsvRow(snapshot, out);
  if (out->size() > kOutputLimit) out->clear();
}

void ConvertArchive(const uint8_t* data, size_t size, std::string* out) {
  parse::ArchiveReader reader(MemoryInput(data, size));
  parse::DecodedRecord record;
  parse::Snapshot snapshot;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok() || !*got) return;
    if (!parse::DecodeSnapshot(record.timestamp, record.raw_idm,
                               record.attributes, record.has_metadata,
                               &snapshot)
             .ok()) {
      return;
    }
    Emit(snapshot, out);
  }
}

void ConvertRaw(const uint8_t* data, size_t size, std::string* out) {
  parse::RawReader reader(MemoryInput(data, size));
  parse::RecordView record;
  parse::Snapshot snapshot;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok() || !*got) return;
    if (!parse::DecodeSnapshot(parse::Timestamp::GoZero(), record, &snapshot)
             .ok()) {
      return;
    }
    Emit(snapshot, out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out;
  parse::AppendCsvHeader(&out);
  ConvertArchive(data, size, &out);
  out.clear();
  ConvertRaw(data, size, &out);
  return 0;
}
