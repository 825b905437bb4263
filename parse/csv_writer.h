// The CSV form of Snapshots, byte for byte as M-Lab's Go csvtool writes it
// (gocsv over snapshot.Snapshot, encoding/csv quoting, '\n' line ends):
//
//  - a header of 105 columns in the reference's order, its quirks kept:
//    "TCP.LastDataRecv" twice (the second is tcpi_last_ack_recv) and
//    "SKMemInfo.Sndbug";
//  - per row: the RFC 3339 timestamp, Observed, NotFullyParsed, the
//    inet_diag_msg (ports in host order, addresses as Go prints them, the
//    interface index byte-swapped as the reference reads it, the cookie in
//    upper-case hex), congestion algorithm, TOS, TClass, ClassID, Shutdown,
//    Protocol, Mark (always printed, 0 when absent), then tcp_info through
//    tcpi_snd_wnd, meminfo, skmeminfo, vegas, dctcp and bbr. The 64-bit
//    tcp_info counters, segs_in/out and bbr bandwidth are printed signed as
//    the reference's Go types are (PacingRate -1). A section whose attribute
//    (or RawIDM) is absent is all empty cells.
//
// Thread-safe; appends only (no other allocation).
#ifndef TCPINFO_PARSE_CSV_WRITER_H_
#define TCPINFO_PARSE_CSV_WRITER_H_

#include <string>

#include "absl/strings/string_view.h"
#include "parse/snapshot.h"

namespace parse {

// Number of columns of the reference's CSV.
inline constexpr int kCsvColumns = 105;

// Appends the header line (with '\n').
void AppendCsvHeader(std::string* out);

// Appends the row of `snapshot` (with '\n').
void AppendCsvRow(const Snapshot& snapshot, std::string* out);

// Appends `field` as Go's encoding/csv writes a field: quoted (with '"'
// doubled) when it holds ',', '"', '\r' or '\n', is exactly `\.`, or starts
// with a Unicode space; otherwise as is.
void AppendCsvField(absl::string_view field, std::string* out);

}  // namespace parse

#endif  // TCPINFO_PARSE_CSV_WRITER_H_
