// Timestamp: an instant with nanosecond precision and the range of Go's
// time.Time (year 1 to 9999), and its RFC 3339 text form as Go's
// time.Time.MarshalJSON writes it in UTC: "2019-04-02T14:12:37.511Z", the
// fraction trimmed of trailing zeros and omitted when zero. Go's zero time,
// "0001-01-01T00:00:00Z", is Timestamp::GoZero().
//
// Plain value type; all functions are thread-safe.
#ifndef TCPINFO_PARSE_TIMESTAMP_H_
#define TCPINFO_PARSE_TIMESTAMP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parse {

struct Timestamp {
  int64_t seconds = 0;  // since 1970-01-01T00:00:00Z
  int32_t nanos = 0;    // 0 <= nanos < 1e9
  // The zone offset the text form carried, in minutes east of UTC. It only
  // changes how the instant is written back ("+02:00" instead of "Z"); it
  // takes no part in comparisons.
  int16_t utc_offset_minutes = 0;

  // Go's zero time.Time, 0001-01-01T00:00:00Z.
  static constexpr Timestamp GoZero() { return {-62135596800, 0, 0}; }
  // The current wall-clock time.
  static Timestamp Now();
  static constexpr Timestamp FromUnixNanos(int64_t ns) {
    int64_t s = ns / 1000000000, r = ns % 1000000000;
    if (r < 0) r += 1000000000, s -= 1;
    return {s, static_cast<int32_t>(r), 0};
  }

  bool IsGoZero() const { return *this == GoZero(); }
  friend bool operator==(const Timestamp& a, const Timestamp& b) {
    return a.seconds == b.seconds && a.nanos == b.nanos;
  }
  friend bool operator!=(const Timestamp& a, const Timestamp& b) {
    return !(a == b);
  }
  friend bool operator<(const Timestamp& a, const Timestamp& b) {
    return a.seconds < b.seconds ||
           (a.seconds == b.seconds && a.nanos < b.nanos);
  }
};

// Civil date in UTC of a timestamp, for archive paths.
struct CivilDate {
  int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};
CivilDate ToCivilDate(Timestamp t);

// Appends `t` in RFC 3339 form with trimmed nanoseconds, as Go writes
// time.Time.Format(time.RFC3339Nano): in UTC with 'Z', or in local time with
// "+hh:mm" when t.utc_offset_minutes is not 0.
void AppendRfc3339(Timestamp t, std::string* out);
std::string FormatRfc3339(Timestamp t);

// Parses RFC 3339 as Go's time.Time.UnmarshalJSON accepts it: a date, 'T',
// a time with an optional fraction of 1-9 digits, and 'Z' or a +hh:mm/-hh:mm
// offset (kept in utc_offset_minutes). Returns InvalidArgument on anything
// else.
absl::StatusOr<Timestamp> ParseRfc3339(absl::string_view text);

}  // namespace parse

#endif  // TCPINFO_PARSE_TIMESTAMP_H_
