#include "core/json_writer.h"

#include <fmt/format.h>

#include <cmath>

#include "core/utf.h"

namespace glassbox {

void JsonWriter::Escape(std::string_view value, std::string* out) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = 0;
      const int32_t cp = utf::DecodeOne(p + i, value.size() - i, &len);
      if (cp == utf::kInvalidCodePoint) {
        out->append("\\ufffd");
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
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append(fmt::format("\\u{:04x}", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
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
