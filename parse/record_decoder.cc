#include "parse/record_decoder.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parse/base64.h"

namespace parse {
namespace {

// Deeper nesting (only possible inside unknown keys) is refused rather than
// risking the stack.
constexpr int kMaxDepth = 1000;
constexpr size_t kAbsent = std::numeric_limits<size_t>::max();
// Non-null data() for present but empty payloads.
constexpr char kEmpty[1] = {0};

constexpr std::array<uint8_t, 256> MakeBase64Table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = i;
  return t;
}
constexpr std::array<uint8_t, 256> kBase64 = MakeBase64Table();

// Decodes a base64 string in the common case: `p` is just after the opening
// quote, the body is whole quanta of alphabet characters ('=' padding only
// at the very end) and a closing quote follows. Writes to `out` (room for
// (end - p) / 4 * 3 bytes) and returns the end of the output and, in
// *after, the position after the closing quote. Returns nullptr for
// anything else, so the caller can fall back to the exact Go semantics.
char* DecodeQuotedCleanBase64(const char* p, const char* end, char* out,
                              const char** after) {
  const auto* in = reinterpret_cast<const uint8_t*>(p);
  const auto* limit = reinterpret_cast<const uint8_t*>(end);
  while (limit - in >= 4) {
    const uint32_t a = kBase64[in[0]], b = kBase64[in[1]], c = kBase64[in[2]],
                   d = kBase64[in[3]];
    if ((a | b | c | d) & 0x80) break;
    const uint32_t v = a << 18 | b << 12 | c << 6 | d;
    out[0] = static_cast<char>(v >> 16);
    out[1] = static_cast<char>(v >> 8);
    out[2] = static_cast<char>(v);
    out += 3;
    in += 4;
  }
  if (in < limit && *in == '"') {
    *after = reinterpret_cast<const char*>(in + 1);
    return out;
  }
  // A padded final quantum: "xx==" or "xxx=", then the quote.
  if (limit - in < 5 || in[4] != '"') return nullptr;
  const uint32_t a = kBase64[in[0]], b = kBase64[in[1]];
  if ((a | b) & 0x80) return nullptr;
  if (in[2] == '=' && in[3] == '=') {
    *out++ = static_cast<char>((a << 2 | b >> 4) & 0xff);
  } else {
    const uint32_t c = kBase64[in[2]];
    if ((c & 0x80) || in[3] != '=') return nullptr;
    const uint32_t v = a << 18 | b << 12 | c << 6;
    *out++ = static_cast<char>(v >> 16);
    *out++ = static_cast<char>(v >> 8);
  }
  *after = reinterpret_cast<const char*>(in + 5);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t r, std::string* out) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | r >> 6));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | r >> 12));
    out->push_back(static_cast<char>(0x80 | (r >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | r >> 18));
    out->push_back(static_cast<char>(0x80 | (r >> 12 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r >> 6 & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

uint32_t ReadU4(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 4 | HexValue(p[i]);
  return v;
}

// Unescapes the body of a string already validated by Parser::String.
// Like Go, an unpaired surrogate becomes U+FFFD; other bytes are kept.
void Unescape(absl::string_view body, std::string* out) {
  out->clear();
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        uint32_t r = ReadU4(body.data() + i + 1);
        i += 4;
        if (r >= 0xD800 && r < 0xE000) {
          if (r < 0xDC00 && i + 6 < body.size() && body[i + 1] == '\\' &&
              body[i + 2] == 'u') {
            const uint32_t low = ReadU4(body.data() + i + 3);
            if (low >= 0xDC00 && low < 0xE000) {
              r = 0x10000 + ((r - 0xD800) << 10) + (low - 0xDC00);
              i += 6;
              AppendUtf8(r, out);
              break;
            }
          }
          r = 0xFFFD;
        }
        AppendUtf8(r, out);
        break;
      }
      default:  // '"', '\\', '/'
        out->push_back(e);
    }
  }
}

}  // namespace

namespace record_decoder_internal {

// A validating JSON scanner over one line.
class Parser {
 public:
  explicit Parser(absl::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON at byte ", p_ - begin_, ": ", what));
  }
  void SkipWs() {
    while (p_ < end_ &&
           (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) {
      ++p_;
    }
  }
  bool Peek(char c) const { return p_ < end_ && *p_ == c; }
  const char* pos() const { return p_; }
  const char* end() const { return end_; }
  void set_pos(const char* p) { p_ = p; }
  bool AtEnd() const { return p_ >= end_; }
  absl::Status Expect(char c) {
    if (!Peek(c))
      return Error(absl::StrCat("expected '", std::string(1, c), "'"));
    ++p_;
    return absl::OkStatus();
  }

  // At '"': validates a string; sets its raw body and whether it has escapes.
  absl::Status String(absl::string_view* body, bool* escaped) {
    if (!Peek('"')) return Error("expected a string");
    const char* start = ++p_;
    *escaped = false;
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *body = absl::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return absl::OkStatus();
      }
      if (c < 0x20) return Error("control character in string");
      if (c == '\\') {
        *escaped = true;
        if (end_ - p_ < 2) break;
        const char e = p_[1];
        if (e == 'u') {
          if (end_ - p_ < 6 || HexValue(p_[2]) < 0 || HexValue(p_[3]) < 0 ||
              HexValue(p_[4]) < 0 || HexValue(p_[5]) < 0) {
            return Error("bad \\u escape");
          }
          p_ += 6;
          continue;
        }
        if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
          return Error("bad escape");
        }
        p_ += 2;
        continue;
      }
      ++p_;
    }
    return Error("unterminated string");
  }

  // A string value, unescaped into `scratch` only when needed.
  absl::Status StringValue(std::string* scratch, absl::string_view* value) {
    bool escaped;
    absl::Status s = String(value, &escaped);
    if (!s.ok() || !escaped) return s;
    Unescape(*value, scratch);
    *value = *scratch;
    return absl::OkStatus();
  }

  absl::Status Literal(absl::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0) {
      return Error("invalid literal");
    }
    p_ += word.size();
    return absl::OkStatus();
  }

  absl::Status Number(absl::string_view* text) {
    const char* start = p_;
    auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    if (Peek('-')) ++p_;
    if (Peek('0')) {
      ++p_;
    } else if (digit()) {
      while (digit()) ++p_;
    } else {
      return Error("bad number");
    }
    if (Peek('.')) {
      ++p_;
      if (!digit()) return Error("bad number");
      while (digit()) ++p_;
    }
    if (Peek('e') || Peek('E')) {
      ++p_;
      if (Peek('+') || Peek('-')) ++p_;
      if (!digit()) return Error("bad number");
      while (digit()) ++p_;
    }
    *text = absl::string_view(start, static_cast<size_t>(p_ - start));
    return absl::OkStatus();
  }

  // Validates and skips any value.
  absl::Status SkipValue(int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    if (AtEnd()) return Error("expected a value");
    switch (*p_) {
      case '{':
      case '[': {
        const bool object = *p_ == '{';
        const char close = object ? '}' : ']';
        ++p_;
        SkipWs();
        if (Peek(close)) {
          ++p_;
          return absl::OkStatus();
        }
        while (true) {
          absl::Status s;
          if (object) {
            absl::string_view key;
            bool escaped;
            s = String(&key, &escaped);
            if (!s.ok()) return s;
            SkipWs();
            s = Expect(':');
            if (!s.ok()) return s;
            SkipWs();
          }
          s = SkipValue(depth + 1);
          if (!s.ok()) return s;
          SkipWs();
          if (Peek(',')) {
            ++p_;
            SkipWs();
            continue;
          }
          return Expect(close);
        }
      }
      case '"': {
        absl::string_view body;
        bool escaped;
        return String(&body, &escaped);
      }
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default: {
        absl::string_view number;
        return Number(&number);
      }
    }
  }

  // Consumes "null" if it is next.
  bool Null() {
    if (static_cast<size_t>(end_ - p_) >= 4 &&
        std::memcmp(p_, "null", 4) == 0) {
      p_ += 4;
      return true;
    }
    return false;
  }

 private:
  const char* begin_;
  const char* p_;
  const char* end_;
};

}  // namespace record_decoder_internal

namespace {

using record_decoder_internal::Parser;

// Iterates over the members of an object: calls on_member(key) positioned at
// each value, which must consume it.
template <typename OnMember>
absl::Status ForEachMember(Parser& parser, std::string* key_scratch,
                           OnMember on_member) {
  absl::Status s = parser.Expect('{');
  if (!s.ok()) return s;
  parser.SkipWs();
  if (parser.Peek('}')) return parser.Expect('}');
  while (true) {
    absl::string_view key;
    s = parser.StringValue(key_scratch, &key);
    if (!s.ok()) return s;
    parser.SkipWs();
    s = parser.Expect(':');
    if (!s.ok()) return s;
    parser.SkipWs();
    s = on_member(key);
    if (!s.ok()) return s;
    parser.SkipWs();
    if (parser.Peek(',')) {
      parser.Expect(',').IgnoreError();
      parser.SkipWs();
      continue;
    }
    return parser.Expect('}');
  }
}

absl::Status FieldError(absl::string_view field, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", s.message()));
}

absl::Status DecodeTime(Parser& parser, absl::string_view field,
                        std::string* scratch, Timestamp* out) {
  if (parser.Null()) return absl::OkStatus();
  if (!parser.Peek('"')) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a string"));
  }
  absl::string_view text;
  absl::Status s = parser.StringValue(scratch, &text);
  if (!s.ok()) return s;
  absl::StatusOr<Timestamp> t = ParseRfc3339(text);
  if (!t.ok()) return FieldError(field, t.status());
  *out = *t;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view text) {
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError("not an integer");
    if (v > (uint64_t{1} << 63) / 10) return absl::OutOfRangeError("overflow");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > (uint64_t{1} << 63) - (negative ? 0 : 1)) {
    return absl::OutOfRangeError("overflow");
  }
  return negative ? static_cast<int64_t>(~v + 1) : static_cast<int64_t>(v);
}

absl::Status DecodeMetadata(Parser& parser, std::string* scratch, Metadata* m) {
  *m = Metadata{};
  m->start_time = Timestamp::GoZero();
  std::string key_scratch;
  return ForEachMember(parser, &key_scratch, [&](absl::string_view key) {
    if (absl::EqualsIgnoreCase(key, "UUID")) {
      if (parser.Null()) return absl::OkStatus();
      if (!parser.Peek('"')) {
        return absl::InvalidArgumentError("Metadata.UUID is not a string");
      }
      absl::string_view uuid;
      absl::Status s = parser.StringValue(scratch, &uuid);
      if (s.ok()) m->uuid.assign(uuid.data(), uuid.size());
      return s;
    }
    if (absl::EqualsIgnoreCase(key, "Sequence")) {
      if (parser.Null()) return absl::OkStatus();
      absl::string_view number;
      if (parser.Peek('"') || parser.Peek('{') || parser.Peek('[') ||
          parser.Peek('t') || parser.Peek('f')) {
        return absl::InvalidArgumentError(
            "Metadata.Sequence is not an integer");
      }
      absl::Status s = parser.Number(&number);
      if (!s.ok()) return s;
      absl::StatusOr<int64_t> v = ParseInteger(number);
      if (!v.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Metadata.Sequence ", number, " is not an integer"));
      }
      m->sequence = *v;
      return absl::OkStatus();
    }
    if (absl::EqualsIgnoreCase(key, "StartTime")) {
      return DecodeTime(parser, "Metadata.StartTime", scratch, &m->start_time);
    }
    return parser.SkipValue(2);
  });
}

}  // namespace

char* RecordDecoder::Room(size_t n) {
  if (arena_.size() < used_ + n) arena_.resize(used_ + n);
  return arena_.data() + used_;
}

absl::Status RecordDecoder::DecodeBase64Value(Parser& parser, int index,
                                              Slot* slot) {
  const char* body = parser.pos() + 1;  // after the opening quote
  const size_t max_bytes = static_cast<size_t>(parser.end() - body) / 4 * 3;
  const char* after;
  char* out = Room(max_bytes);
  if (char* out_end =
          DecodeQuotedCleanBase64(body, parser.end(), out, &after)) {
    *slot = {used_, static_cast<size_t>(out_end - out)};
    used_ += slot->size;
    parser.set_pos(after);
    return absl::OkStatus();
  }
  // Escapes, '\r\n', bad characters or padding: Go's exact rules.
  absl::string_view text;
  bool escaped;
  absl::Status s = parser.String(&text, &escaped);
  if (!s.ok()) return s;
  if (escaped) {
    Unescape(text, &scratch_);
    text = scratch_;
  }
  decoded_.clear();
  s = DecodeBase64(text, &decoded_);
  if (!s.ok()) {
    return FieldError(
        index < 0 ? "RawIDM" : absl::StrCat("Attributes[", index, "]"), s);
  }
  std::memcpy(Room(decoded_.size()), decoded_.data(), decoded_.size());
  *slot = {used_, decoded_.size()};
  used_ += decoded_.size();
  return absl::OkStatus();
}

absl::Status RecordDecoder::Decode(absl::string_view line, DecodedRecord* out) {
  // Payloads are placed by offset and turned into views at the end, so the
  // arena may grow meanwhile.
  used_ = 0;
  Slot raw_idm{kAbsent, 0};
  std::vector<Slot>& slots = slots_;
  slots.clear();
  out->timestamp = Timestamp::GoZero();
  out->has_metadata = false;

  Parser parser(line);
  parser.SkipWs();
  if (!parser.Peek('{')) {
    if (parser.AtEnd()) return parser.Error("empty line");
    absl::Status s = parser.SkipValue(0);
    if (!s.ok()) return s;
    return absl::InvalidArgumentError("record is not a JSON object");
  }
  absl::Status s = ForEachMember(parser, &scratch_, [&](absl::string_view key) {
    if (absl::EqualsIgnoreCase(key, "Timestamp")) {
      return DecodeTime(parser, "Timestamp", &scratch_, &out->timestamp);
    }
    if (absl::EqualsIgnoreCase(key, "RawIDM")) {
      raw_idm = {kAbsent, 0};
      if (parser.Null()) return absl::OkStatus();
      if (!parser.Peek('"')) {
        return absl::InvalidArgumentError("RawIDM is not a string");
      }
      return DecodeBase64Value(parser, -1, &raw_idm);
    }
    if (absl::EqualsIgnoreCase(key, "Attributes")) {
      slots.clear();
      if (parser.Null()) return absl::OkStatus();
      if (!parser.Peek('[')) {
        return absl::InvalidArgumentError("Attributes is not an array");
      }
      parser.Expect('[').IgnoreError();
      parser.SkipWs();
      if (parser.Peek(']')) return parser.Expect(']');
      while (true) {
        Slot slot{kAbsent, 0};
        if (!parser.Null()) {
          if (!parser.Peek('"')) {
            return absl::InvalidArgumentError(absl::StrCat(
                "Attributes[", slots.size(), "] is not a string or null"));
          }
          absl::Status e =
              DecodeBase64Value(parser, static_cast<int>(slots.size()), &slot);
          if (!e.ok()) return e;
        }
        slots.push_back(slot);
        parser.SkipWs();
        if (parser.Peek(',')) {
          parser.Expect(',').IgnoreError();
          parser.SkipWs();
          continue;
        }
        return parser.Expect(']');
      }
    }
    if (absl::EqualsIgnoreCase(key, "Metadata")) {
      out->has_metadata = false;
      if (parser.Null()) return absl::OkStatus();
      if (!parser.Peek('{')) {
        return absl::InvalidArgumentError("Metadata is not an object");
      }
      out->has_metadata = true;
      return DecodeMetadata(parser, &scratch_, &out->metadata);
    }
    return parser.SkipValue(1);
  });
  if (!s.ok()) return s;
  parser.SkipWs();
  if (!parser.AtEnd()) return parser.Error("data after the record");

  auto view = [&](const Slot& slot) {
    if (slot.begin == kAbsent) return absl::string_view();
    if (slot.size == 0) return absl::string_view(kEmpty, 0);
    return absl::string_view(arena_.data() + slot.begin, slot.size);
  };
  out->raw_idm = view(raw_idm);
  attributes_.resize(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) attributes_[i] = view(slots[i]);
  out->attributes = absl::MakeConstSpan(attributes_);
  return absl::OkStatus();
}

}  // namespace parse
