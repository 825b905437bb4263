#include "parse/field_format.h"

#include <cstring>

namespace parse {
namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

char* FormatDotted(const uint8_t* b, char* p) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *p++ = '.';
    p = FormatUint(b[i], p);
  }
  return p;
}

char* FormatHexGroup(unsigned v, char* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = v >> shift & 15;
    if (nibble != 0 || started || shift == 0) {
      *p++ = kHex[nibble];
      started = true;
    }
  }
  return p;
}

}  // namespace

char* FormatUint(uint64_t v, char* p) {
  if (v < 10) {
    *p = static_cast<char>('0' + v);
    return p + 1;
  }
  static constexpr uint64_t kPow10[] = {1,
                                        10,
                                        100,
                                        1000,
                                        10000,
                                        100000,
                                        1000000,
                                        10000000,
                                        100000000,
                                        1000000000,
                                        10000000000,
                                        100000000000,
                                        1000000000000,
                                        10000000000000,
                                        100000000000000,
                                        1000000000000000,
                                        10000000000000000,
                                        100000000000000000,
                                        1000000000000000000,
                                        10000000000000000000u};
  // Number of digits: about log10 from the bit length, then corrected.
  int digits = (64 - __builtin_clzll(v)) * 1233 >> 12;
  digits += v >= kPow10[digits];
  char* q = p + digits;
  while (v >= 100) {
    const unsigned pair = static_cast<unsigned>(v % 100);
    v /= 100;
    q -= 2;
    std::memcpy(q, kDigitPairs + 2 * pair, 2);
  }
  if (v >= 10) {
    std::memcpy(q - 2, kDigitPairs + 2 * v, 2);
  } else {
    q[-1] = static_cast<char>('0' + v);
  }
  return p + digits;
}

char* FormatInt(int64_t v, char* p) {
  if (v < 0) {
    *p++ = '-';
    // Negate in unsigned arithmetic so INT64_MIN is fine.
    return FormatUint(~static_cast<uint64_t>(v) + 1, p);
  }
  return FormatUint(static_cast<uint64_t>(v), p);
}

char* FormatHex(uint64_t v, char* p) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  int shift = 60;
  while (shift > 0 && (v >> shift & 15) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) *p++ = kHex[v >> shift & 15];
  return p;
}

char* FormatSockAddress(const uint8_t bytes[16], char* p) {
  bool high_zero = true;  // bytes 4..15
  for (int i = 4; i < 16; ++i) high_zero &= bytes[i] == 0;
  if (high_zero) return FormatDotted(bytes, p);
  bool mapped = bytes[10] == 0xff && bytes[11] == 0xff;
  for (int i = 0; i < 10; ++i) mapped &= bytes[i] == 0;
  if (mapped) return FormatDotted(bytes + 12, p);

  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = bytes[2 * i] << 8 | bytes[2 * i + 1];
  // The longest run of zero groups (the first of equals), if 2 or more.
  int best_start = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) best_start = i, best_len = j - i;
    i = j;
  }
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      *p++ = ':';
      *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best_start + best_len) *p++ = ':';
    p = FormatHexGroup(groups[i], p);
  }
  return p;
}

}  // namespace parse
