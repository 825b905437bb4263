#include "parse/base64.h"

#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace parse {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

void AppendBase64(absl::string_view bytes, std::string* out) {
  const size_t start = out->size();
  out->resize(start + Base64EncodedSize(bytes.size()));
  char* o = out->data() + start;
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[v >> 12 & 63];
    *o++ = kAlphabet[v >> 6 & 63];
    *o++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = in[i] << 16;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[v >> 12 & 63];
    *o++ = '=';
    *o++ = '=';
  } else if (n - i == 2) {
    const uint32_t v = in[i] << 16 | in[i + 1] << 8;
    *o++ = kAlphabet[v >> 18];
    *o++ = kAlphabet[v >> 12 & 63];
    *o++ = kAlphabet[v >> 6 & 63];
    *o++ = '=';
  }
}

absl::Status DecodeBase64(absl::string_view text, std::string* out) {
  uint32_t acc = 0;
  int bits = 0, chars = 0, pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      ++pad;
      ++chars;
      continue;
    }
    const int8_t v = kDecode[static_cast<uint8_t>(c)];
    if (v < 0 || pad > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("illegal base64 data at input byte ", i));
    }
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    ++chars;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  // Padding must complete the last quantum: "xx==" or "xxx=", never more.
  if (chars % 4 != 0 || pad > 2 || (pad > 0 && (chars - pad) % 4 + pad != 4)) {
    return absl::InvalidArgumentError(
        "illegal base64 data: bad length or padding");
  }
  // Like Go's non-strict StdEncoding, non-zero bits left over in the final
  // quantum are ignored.
  return absl::OkStatus();
}

}  // namespace parse
