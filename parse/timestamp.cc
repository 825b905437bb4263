#include "parse/timestamp.h"

#include <time.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parse {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), static_cast<int>(m), static_cast<int>(d)};
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void AppendDigits(uint64_t v, int width, std::string* out) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 || n < width);
  while (n > 0) out->push_back(buf[--n]);
}

// Reads exactly `n` digits at `*p`; false if any is not a digit.
bool ReadDigits(absl::string_view s, size_t* p, int n, int* value) {
  if (*p + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*p + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *value = v;
  return true;
}

bool Expect(absl::string_view s, size_t* p, char c) {
  if (*p >= s.size() || s[*p] != c) return false;
  ++*p;
  return true;
}

}  // namespace

Timestamp Timestamp::Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return {ts.tv_sec, static_cast<int32_t>(ts.tv_nsec), 0};
}

CivilDate ToCivilDate(Timestamp t) {
  return CivilFromDays(FloorDiv(t.seconds, 86400));
}

void AppendRfc3339(Timestamp t, std::string* out) {
  const int64_t local = t.seconds + t.utc_offset_minutes * int64_t{60};
  const int64_t days = FloorDiv(local, 86400);
  const int64_t secs = local - days * 86400;
  const CivilDate date = CivilFromDays(days);
  if (date.year < 0) {
    out->push_back('-');
    AppendDigits(static_cast<uint64_t>(-date.year), 4, out);
  } else {
    AppendDigits(static_cast<uint64_t>(date.year), 4, out);
  }
  out->push_back('-');
  AppendDigits(date.month, 2, out);
  out->push_back('-');
  AppendDigits(date.day, 2, out);
  out->push_back('T');
  AppendDigits(secs / 3600, 2, out);
  out->push_back(':');
  AppendDigits(secs / 60 % 60, 2, out);
  out->push_back(':');
  AppendDigits(secs % 60, 2, out);
  if (t.nanos != 0) {
    uint32_t ns = static_cast<uint32_t>(t.nanos);
    int width = 9;
    while (ns % 10 == 0) ns /= 10, --width;
    out->push_back('.');
    AppendDigits(ns, width, out);
  }
  if (t.utc_offset_minutes == 0) {
    out->push_back('Z');
    return;
  }
  const int off = t.utc_offset_minutes;
  out->push_back(off < 0 ? '-' : '+');
  AppendDigits((off < 0 ? -off : off) / 60, 2, out);
  out->push_back(':');
  AppendDigits((off < 0 ? -off : off) % 60, 2, out);
}

std::string FormatRfc3339(Timestamp t) {
  std::string s;
  AppendRfc3339(t, &s);
  return s;
}

absl::StatusOr<Timestamp> ParseRfc3339(absl::string_view s) {
  size_t p = 0;
  int year, month, day, hour, minute, second;
  if (!ReadDigits(s, &p, 4, &year) || !Expect(s, &p, '-') ||
      !ReadDigits(s, &p, 2, &month) || !Expect(s, &p, '-') ||
      !ReadDigits(s, &p, 2, &day) || !Expect(s, &p, 'T') ||
      !ReadDigits(s, &p, 2, &hour) || !Expect(s, &p, ':') ||
      !ReadDigits(s, &p, 2, &minute) || !Expect(s, &p, ':') ||
      !ReadDigits(s, &p, 2, &second)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad RFC 3339 time \"", s, "\""));
  }
  static constexpr int kMonthDays[] = {31, 29, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kMonthDays[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 ||
      second > 59) {
    return absl::InvalidArgumentError(
        absl::StrCat("RFC 3339 time out of range \"", s, "\""));
  }
  int32_t nanos = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0 || digits > 9) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad fraction in RFC 3339 time \"", s, "\""));
    }
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && s[p] == 'Z') {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!ReadDigits(s, &p, 2, &oh) || !Expect(s, &p, ':') ||
        !ReadDigits(s, &p, 2, &om) || oh > 23 || om > 59) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad zone offset in RFC 3339 time \"", s, "\""));
    }
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("missing zone in RFC 3339 time \"", s, "\""));
  }
  if (p != s.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trailing text in RFC 3339 time \"", s, "\""));
  }
  const int64_t days = DaysFromCivil(year, month, day);
  return Timestamp{days * 86400 + hour * 3600 + minute * 60 + second - offset,
                   nanos, static_cast<int16_t>(offset / 60)};
}

}  // namespace parse
