#include "core/json_writer.h"

#include <fmt/format.h>

#include <cmath>

#include "core/utf.h"

namespace glassbox {

namespace {

void AppendUnitEscape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char esc[6] = {'\\', 'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
                       kHex[unit & 15]};
  out->append(esc, 6);
}

bool PlainAscii(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

}  // namespace

bool JsonWriter::Escape(std::string_view value, std::string* out, EscapePredicate escape) {
  bool exact = true;
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = p[i];
    if (PlainAscii(c)) {  // runs of plain ASCII go in one append
      size_t j = i + 1;
      while (j < value.size() && PlainAscii(p[j])) ++j;
      out->append(value.substr(i, j - i));
      i = j;
      continue;
    }
    if (c >= 0x80) {
      size_t len = 0;
      const int32_t cp = utf::DecodeOne(p + i, value.size() - i, &len);
      if (cp == utf::kInvalidCodePoint) {
        exact = false;
        out->append("\\ufffd");
      } else if (escape != nullptr && escape(static_cast<uint32_t>(cp))) {
        if (cp >= 0x10000) {
          const uint32_t v = static_cast<uint32_t>(cp) - 0x10000;
          AppendUnitEscape(0xD800 + (v >> 10), out);
          AppendUnitEscape(0xDC00 + (v & 0x3FF), out);
        } else {
          AppendUnitEscape(static_cast<uint32_t>(cp), out);
        }
      } else {
        out->append(value.substr(i, len));
      }
      i += len;
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: AppendUnitEscape(c, out);  // other C0 controls and DEL
    }
    ++i;
  }
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
