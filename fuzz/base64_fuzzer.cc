// Fuzzes parse/base64.h: any bytes encode to text that decodes back to
// them, and any text that decodes re-encodes to text that decodes to the
// same bytes and has the same length.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "parse/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fuzz::FuzzCheck;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // Bytes -> text -> bytes.
  std::string text;
  parse::AppendBase64(input, &text);
  FuzzCheck(text.size() == parse::Base64EncodedSize(size),
            "AppendBase64: wrong length");
  std::string bytes;
  FuzzCheck(parse::DecodeBase64(text, &bytes).ok(),
            "AppendBase64 output does not decode");
  FuzzCheck(bytes == input, "bytes -> base64 -> bytes differs");

  // Text -> bytes -> text.
  std::string decoded;
  if (!parse::DecodeBase64(input, &decoded).ok()) return 0;
  std::string encoded;
  parse::AppendBase64(decoded, &encoded);
  std::string redecoded;
  FuzzCheck(parse::DecodeBase64(encoded, &redecoded).ok(),
            "re-encoded base64 does not decode");
  FuzzCheck(redecoded == decoded, "base64 -> bytes -> base64 changes bytes");
  // Padding is required, so the text (without line breaks) had the
  // canonical length; it differs from `encoded` only in unused low bits.
  const std::string stripped =
      absl::StrReplaceAll(input, {{"\r", ""}, {"\n", ""}});
  FuzzCheck(stripped.size() == encoded.size(),
            "decoded base64 of non-canonical length");
  return 0;
}
