// ByteWriter / ByteReader: the little binary form in which build-time tools
// (glassbox_rulegen, glassbox_agent_rulegen) hand rule lists to the binary, so
// that start-up parses no TOML.
//
// A u32 is 4 little-endian bytes, a string a u32 length and its bytes, a list
// a u32 count and its strings, a double its 8 IEEE-754 bytes. The reader
// accepts exactly what the writer makes; its first failure sticks and names
// the field, and a damaged count can never make it reserve much memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox {

class ByteWriter {
 public:
  explicit ByteWriter(std::string_view magic) : out_(magic) {}
  void U32(uint32_t v);
  void String(std::string_view s);
  void List(const std::vector<std::string>& list);
  void Double(double d);
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  // `bytes` must start with `magic`; otherwise the reader starts failed.
  ByteReader(std::string_view bytes, std::string_view magic);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return rest_.size(); }

  uint32_t U32(std::string_view what);
  std::string String(std::string_view what);
  std::vector<std::string> List(std::string_view what);
  double Double(std::string_view what);

 private:
  bool Take(size_t n, std::string_view what, std::string_view* out);
  std::string_view rest_;
  std::string error_;
};

}  // namespace glassbox
