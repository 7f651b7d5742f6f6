// A small streaming JSON writer for reports: correct escaping (control
// characters, invalid UTF-8 replaced by U+FFFD), no allocation per value
// beyond the output stream's. Not a general JSON library: it writes only.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <vector>

namespace glassbox {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out, bool pretty = false) : out_(out), pretty_(pretty) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Shorthands for "key": value.
  JsonWriter& Field(std::string_view key, std::string_view value) { return Key(key).String(value); }
  JsonWriter& Field(std::string_view key, const char* value) { return Key(key).String(value); }
  JsonWriter& FieldUint(std::string_view key, uint64_t value) { return Key(key).Uint(value); }

  // Appends the JSON string literal for `value` (with quotes) to *out. Each
  // invalid UTF-8 sequence is written as U+FFFD; the return value is false
  // when there was one (the literal is then not the exact input). Code points
  // for which `escape` returns true are written as \u escapes (surrogate
  // pairs past U+FFFF), so hidden characters stay visible in the output.
  using EscapePredicate = bool (*)(uint32_t code_point);
  static bool Escape(std::string_view value, std::string* out, EscapePredicate escape = nullptr);

 private:
  void Separate();
  void Newline();
  std::ostream& out_;
  bool pretty_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace glassbox
