#include "saver/snapshot_delta.h"

#include <cstdint>
#include <cstring>

namespace saver {
namespace {

constexpr size_t kRunHeader = 2 + 2;  // gap, length
// Equal bytes that end a run (fewer cost less as literal bytes than a new
// run header); one 8-byte word, so that a window is one comparison.
constexpr size_t kMinGap = 8;
constexpr size_t kMaxSize = UINT16_MAX;
// AppendDelta finds differing bytes in a word by the bit order of its XOR.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);

void PutU16(size_t v, std::string* out) {
  const uint16_t v16 = static_cast<uint16_t>(v);
  out->append(reinterpret_cast<const char*>(&v16), 2);
}

size_t GetU16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

bool AppendDelta(absl::string_view previous, absl::string_view current,
                 size_t max_size, std::string* out) {
  const size_t n = current.size();
  if (previous.size() != n || n > kMaxSize) return false;
  const char* a = previous.data();
  const char* b = current.data();
  // Which bytes of the 8 at `at` differ, as the bits of their XOR: byte i in
  // memory is bits 8i..8i+7 (little-endian).
  auto diff_word = [&](size_t at) {
    uint64_t x, y;
    std::memcpy(&x, a + at, 8);
    std::memcpy(&y, b + at, 8);
    return x ^ y;
  };
  const size_t start = out->size();
  size_t kept_from = 0;  // end of the last run
  for (;;) {
    // The next differing byte, a word at a time.
    size_t first = kept_from;
    while (n - first >= 8) {
      const uint64_t d = diff_word(first);
      if (d != 0) {
        first += static_cast<size_t>(__builtin_ctzll(d)) / 8;
        break;
      }
      first += 8;
    }
    while (first < n && a[first] == b[first]) ++first;
    if (first == n) break;
    // The run goes on until kMinGap equal bytes in a row (or the end): while
    // the window after it holds a differing byte, it takes in up to the
    // window's last one.
    size_t end = first + 1;
    for (;;) {
      if (n - end >= kMinGap) {
        const uint64_t d = diff_word(end);
        if (d == 0) break;
        end += (63 - static_cast<size_t>(__builtin_clzll(d))) / 8 + 1;
        continue;
      }
      size_t last = end;
      for (size_t k = end; k < n; ++k) {
        if (a[k] != b[k]) last = k + 1;
      }
      end = last;
      break;
    }
    if (out->size() - start + kRunHeader + (end - first) >= max_size) {
      out->resize(start);
      return false;
    }
    PutU16(first - kept_from, out);
    PutU16(end - first, out);
    out->append(b + first, end - first);
    kept_from = end;
  }
  if (out->size() - start >= max_size) {  // max_size 0: nothing is shorter
    out->resize(start);
    return false;
  }
  return true;
}

bool ApplyDelta(absl::string_view delta, std::string* bytes) {
  size_t at = 0;
  size_t off = 0;
  while (off < delta.size()) {
    if (delta.size() - off < kRunHeader) return false;
    const size_t gap = GetU16(delta.data() + off);
    const size_t length = GetU16(delta.data() + off + 2);
    off += kRunHeader;
    if (length > delta.size() - off || gap > bytes->size() - at ||
        length > bytes->size() - at - gap) {
      return false;
    }
    at += gap;
    std::memcpy(bytes->data() + at, delta.data() + off, length);
    at += length;
    off += length;
  }
  return true;
}

}  // namespace saver
