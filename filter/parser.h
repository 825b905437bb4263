// Parser: reads a -filter expression, written in ss's filter syntax or with
// tcpdump's host/net/port primitives (both may be mixed), into an
// Expression tree (expression.h). The language (README "Filters"):
//
//   expr    := term { [and | or] term }     and/or: equal precedence, left
//                                           to right; juxtaposition = and
//   term    := (not | !) term | ( expr ) | states | atom
//   states  := { state NAME | exclude NAME }+   one set, built as ss does:
//              state adds NAME's states (to none, if first), exclude
//              removes them (from all, if first)
//   atom    := NAME                         a state name or group, bare
//            | sport|dport [OP] PORT        OP: = == eq != ne neq < lt > gt
//                                           <= le leq >= ge geq
//            | src|dst HOSTCOND             ADDR[/LEN][:PORT], [V6][:PORT],
//                                           V6/LEN, :PORT, *:PORT, *
//            | [src|dst] host ADDR | [src|dst] net ADDR/LEN
//            | [src|dst] port PORT | [src|dst] portrange LOW-HIGH
//            | tcp (always true) | ip | ip6 (the socket's address family)
//   and: and && &   or: or || |   not: not !
//
// PORT is a number or a tcp service name from /etc/services. NAME is one of
// ss's state names (established, syn-sent, syn-recv, fin-wait-1,
// fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing)
// or groups (all, connected, synchronized, bucket, big).
//
// Thread-compatible (reads /etc/services for service names).
#ifndef TCPINFO_FILTER_PARSER_H_
#define TCPINFO_FILTER_PARSER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "filter/expression.h"

namespace filter {

// The most leaves and the deepest nesting an expression may have.
inline constexpr int kMaxLeaves = 1000;
inline constexpr int kMaxDepth = 100;

// Parses `text`. An empty or all-blank text selects every socket (kTrue).
// On a mistake, InvalidArgument whose message is one line:
//   "column C: WHAT: TEXT-BEFORE>>>TEXT-FROM-C"
// (C counted from 1, in bytes).
absl::StatusOr<NodePtr> Parse(absl::string_view text);

// The states bits of ss's state name or group `name` (case-insensitive),
// or 0 if it is none.
uint32_t StateNamed(absl::string_view name);

}  // namespace filter

#endif  // TCPINFO_FILTER_PARSER_H_
