// csvtool: converts a tcp-info archive to CSV exactly as M-Lab's Go csvtool
// does, or to JSON lines; reads raw netlink dumps too. Wiring only: the
// decoding and formats live in parse/.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parse/archive_reader.h"
#include "parse/csv_writer.h"
#include "parse/input_stream.h"
#include "parse/raw_reader.h"
#include "parse/snapshot.h"
#include "parse/snapshot_json.h"

namespace {

constexpr char kUsage[] =
    R"(usage: csvtool [-input jsonl|raw] [-format csv|jsonl] [FILE]

Converts a tcp-info archive to CSV, byte for byte as M-Lab's Go csvtool
writes it, on standard output. FILE (or standard input when absent or "-")
may be zstd-compressed or plain; this is recognised by content.

  -input jsonl   FILE is an archive of JSON lines (default)
  -input raw     FILE is a raw netlink dump: SOCK_DIAG_BY_FAMILY messages
                 (nlmsghdr + inet_diag_msg + attributes) back to back
  -format csv    the reference's CSV (default)
  -format jsonl  one JSON object per snapshot, with named fields
  -help          print this message

On bad input csvtool writes the rows before it, prints one line naming the
line (or message) and the reason on standard error, and exits 1.
Usage errors exit 2.
)";

constexpr size_t kFlushBytes = 1 << 20;

enum class Input { kJsonl, kRaw };
enum class Format { kCsv, kJsonl };

struct Options {
  Input input = Input::kJsonl;
  Format format = Format::kCsv;
  std::string path = "-";
};

[[noreturn]] void UsageError(const std::string& message) {
  if (!message.empty()) std::fprintf(stderr, "csvtool: %s\n", message.c_str());
  std::fputs(kUsage, stderr);
  std::exit(2);
}

// Go-style flags: -name value, -name=value, and the same with "--".
Options ParseFlags(int argc, char** argv) {
  Options options;
  std::vector<std::string> files;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg == "-" || arg.size() < 2 || arg[0] != '-') {
      files.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    if (name == "help" || name == "h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (name != "input" && name != "format") {
      UsageError(absl::StrCat("unknown flag ", arg));
    }
    if (!has_value) {
      if (i + 1 >= argc) UsageError(absl::StrCat("flag needs a value: ", arg));
      value = argv[++i];
    }
    if (name == "input") {
      if (value == "jsonl") {
        options.input = Input::kJsonl;
      } else if (value == "raw") {
        options.input = Input::kRaw;
      } else {
        UsageError(
            absl::StrCat("-input must be jsonl or raw, not \"", value, "\""));
      }
    } else {
      if (value == "csv") {
        options.format = Format::kCsv;
      } else if (value == "jsonl") {
        options.format = Format::kJsonl;
      } else {
        UsageError(
            absl::StrCat("-format must be csv or jsonl, not \"", value, "\""));
      }
    }
  }
  if (files.size() > 1) UsageError("more than one input file");
  if (files.size() == 1) options.path = files[0];
  return options;
}

// Buffered standard output; Flush() before any exit.
class Output {
 public:
  Output() { text_.reserve(kFlushBytes + (64 << 10)); }
  std::string* text() { return &text_; }
  // Writes when enough has accumulated.
  void MaybeFlush() {
    if (text_.size() >= kFlushBytes) Flush();
  }
  void Flush() {
    const char* p = text_.data();
    size_t left = text_.size();
    while (left > 0) {
      const ssize_t n = write(STDOUT_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::fprintf(stderr, "csvtool: writing output: %s\n", strerror(errno));
        std::exit(1);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    text_.clear();
  }

 private:
  std::string text_;
};

void Append(const Options& options, const parse::Snapshot& snapshot,
            const parse::Metadata* metadata, Output* out) {
  if (options.format == Format::kCsv) {
    parse::AppendCsvRow(snapshot, out->text());
  } else {
    parse::AppendSnapshotJsonLine(snapshot, metadata, out->text());
  }
  out->MaybeFlush();
}

// Converts every record; returns the first error, with what came before it
// already in `out`.
absl::Status ConvertArchive(const Options& options,
                            std::unique_ptr<parse::InputStream> input,
                            Output* out) {
  parse::ArchiveReader reader(std::move(input));
  parse::DecodedRecord record;
  parse::Snapshot snapshot;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) return got.status();
    if (!*got) return absl::OkStatus();
    absl::Status s = parse::DecodeSnapshot(record.timestamp, record.raw_idm,
                                           record.attributes,
                                           record.has_metadata, &snapshot);
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat("line ", reader.line_number(),
                                                 ": ", s.message()));
    }
    Append(options, snapshot, &record.metadata, out);
  }
}

absl::Status ConvertRaw(const Options& options,
                        std::unique_ptr<parse::InputStream> input,
                        Output* out) {
  parse::RawReader reader(std::move(input));
  parse::RecordView record;
  parse::Snapshot snapshot;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) return got.status();
    if (!*got) return absl::OkStatus();
    absl::Status s =
        parse::DecodeSnapshot(parse::Timestamp::GoZero(), record, &snapshot);
    if (!s.ok()) {
      return absl::Status(
          s.code(),
          absl::StrCat("message ", reader.message_number(), ": ", s.message()));
    }
    Append(options, snapshot, nullptr, out);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseFlags(argc, argv);
  absl::StatusOr<std::unique_ptr<parse::InputStream>> input =
      parse::InputStream::Open(options.path);
  if (!input.ok()) {
    std::fprintf(stderr, "csvtool: %s\n",
                 std::string(input.status().message()).c_str());
    return 1;
  }
  Output out;
  if (options.format == Format::kCsv) parse::AppendCsvHeader(out.text());
  const absl::Status status =
      options.input == Input::kRaw
          ? ConvertRaw(options, *std::move(input), &out)
          : ConvertArchive(options, *std::move(input), &out);
  out.Flush();
  if (!status.ok()) {
    const std::string source = options.path == "-" ? "stdin" : options.path;
    std::fprintf(stderr, "csvtool: %s: %s\n", source.c_str(),
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
