// The JSON-lines form of Snapshots, for jq and friends (csvtool -format
// jsonl). One object per snapshot with named fields, sections only for what
// the record had:
//
//   {"Timestamp":"2019-04-02T14:12:37.511Z","Observed":251,
//    "NotFullyParsed":0,
//    "IDM":{"Family":10,"State":1,...,"SPort":9091,"DPort":43508,
//           "Src":"192.168.14.134","Dst":"192.168.14.129","Interface":0,
//           "Cookie":"3E8","Expires":0,...},
//    "CongestionAlgorithm":"cubic","TOS":0,"TClass":0,"Shutdown":0,
//    "TCP":{"State":1,...},"MemInfo":{...},"SKMemInfo":{...},
//    "Vegas":{...},"DCTCP":{...},"BBR":{...},
//    "Metadata":{"UUID":"...","Sequence":183,"StartTime":"..."}}
//
// Values are those of the CSV (same timestamp stand-in, Observed and
// NotFullyParsed, same signed 64-bit counters, cookie in hex) except that
// names are not misspelled, the interface index is the kernel's, absent
// attributes are left out rather than zero, and TCP holds exactly the
// tcp_info fields the kernel's attribute covered (up to this kernel's 280
// bytes: SndWnd, RcvWnd, Rehash, TotalRTO, ... included when present).
// Strings are valid UTF-8 (invalid bytes become U+FFFD).
//
// Thread-safe; appends only.
#ifndef TCPINFO_PARSE_SNAPSHOT_JSON_H_
#define TCPINFO_PARSE_SNAPSHOT_JSON_H_

#include <string>

#include "parse/archival_record.h"
#include "parse/snapshot.h"

namespace parse {

// Appends one line (with '\n'). `metadata` is printed when
// snapshot.has_metadata and it is not null.
void AppendSnapshotJsonLine(const Snapshot& snapshot, const Metadata* metadata,
                            std::string* out);

}  // namespace parse

#endif  // TCPINFO_PARSE_SNAPSHOT_JSON_H_
