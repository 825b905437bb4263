// Change detection between two snapshots of one connection: decides whether
// a new snapshot is worth archiving. The rules are the reference's
// (netlink.ArchivalRecord.Compare), made safe for attributes of any length:
//
//  - the inet_diag state differs                      -> kStateChange
//  - either has no INET_DIAG_INFO                     -> kNoTcpInfo
//  - any tcp_info byte before tcpi_last_data_sent, or
//    from tcpi_pmtu up to (not including)
//    tcpi_busy_time, differs (bytes absent from a
//    shorter attribute compare as missing)            -> kCounterChange
//  - the attribute arrays differ in length, or an
//    attribute appears or disappears                  -> kNewAttribute /
//                                                        kLostAttribute
//  - a non-INFO attribute changes length              -> kAttributeLength
//  - a non-INFO attribute changes any byte            -> kOther
//
// The tcpi_last_* timers, idiag_expires and everything in tcp_info from
// tcpi_busy_time on never cause a change by themselves. Thread-safe.
#ifndef TCPINFO_PARSE_CHANGE_H_
#define TCPINFO_PARSE_CHANGE_H_

#include "parse/record_view.h"

namespace parse {

enum class Change {
  kNone = 0,
  kNew,  // no previous snapshot (used by the cache)
  kStateChange,
  kNoTcpInfo,
  kCounterChange,
  kNewAttribute,
  kLostAttribute,
  kAttributeLength,
  kOther,
};

// Returns a short lower-case name ("state", "counters", ...) for logs/metrics.
const char* ChangeName(Change change);

// Compares `current` with `previous`. Never returns kNew.
Change Compare(const RecordView& previous, const RecordView& current);

}  // namespace parse

#endif  // TCPINFO_PARSE_CHANGE_H_
